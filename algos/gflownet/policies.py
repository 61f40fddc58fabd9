"""Masked distributions over actions, exploration, and the policy networks.

Masked entries get the large negative finite logit ``MASKED_LOGIT`` rather
than ``-inf``: ``-inf - (-inf)`` is NaN, so a fully masked row (a padded
step after a trajectory has ended) would poison the loss and its gradient.
With a finite fill such a row gives finite, ignorable values.
"""

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

MASKED_LOGIT = -1e9


def masked_logsumexp(x: jax.Array, mask: jax.Array, axis: int = -1) -> jax.Array:
    """logsumexp of ``x`` over the entries where ``mask`` holds.

    A fully masked row (an empty sum) gives about ``MASKED_LOGIT``: very
    negative and finite (never NaN, never -inf), with zero gradient to ``x``.
    """
    return jax.nn.logsumexp(jnp.where(mask, x, MASKED_LOGIT), axis=axis)


def masked_log_softmax(logits: jax.Array, mask: jax.Array) -> jax.Array:
    """Log-probabilities over the last axis, restricted to ``mask``.

    Masked entries are about ``MASKED_LOGIT`` (probability 0). A fully masked
    row is uniform (``-log(n)`` each): finite, and with zero gradient to
    ``logits``.
    """
    # A row with no valid entry fills with 0 rather than MASKED_LOGIT: in
    # float32, MASKED_LOGIT + log(n) rounds back to MASKED_LOGIT, which would
    # give log-probabilities of 0 (probabilities summing to n).
    fill = jnp.where(jnp.any(mask, axis=-1, keepdims=True), MASKED_LOGIT, 0.0)
    z = jnp.where(mask, logits, fill)
    return z - jax.nn.logsumexp(z, axis=-1, keepdims=True)


def behaviour_log_probs(
    logits: jax.Array, mask: jax.Array, epsilon: jax.Array, temperature: jax.Array
) -> jax.Array:
    """Log-probabilities of the exploration (behaviour) policy.

    ``(1 - epsilon) * softmax(logits / temperature) + epsilon * uniform``,
    both restricted to the valid actions. Only sampling uses it; losses use
    the forward policy's own log-probabilities, which is what makes the
    off-policy objectives here correct for any behaviour policy with full
    support.
    """
    policy = jnp.exp(masked_log_softmax(logits / temperature, mask))
    count = jnp.maximum(jnp.sum(mask, axis=-1, keepdims=True), 1)
    probs = (1.0 - epsilon) * policy + epsilon * mask / count
    safe = jnp.where(mask & (probs > 0), probs, 1.0)
    return jnp.where(mask & (probs > 0), jnp.log(safe), MASKED_LOGIT)


class PolicyOutputs(NamedTuple):
    """Network outputs for a batch of states (any leading shape ``...``)."""

    forward_logits: jax.Array  # (..., A) float32, unmasked
    backward_logits: jax.Array | None  # (..., A); None: uniform P_B
    log_flow: jax.Array | None  # (...,); None: no state-flow head


class _MLP(nn.Module):
    hidden_size: int
    num_outputs: int

    @nn.compact
    def __call__(self, x):
        for _ in range(2):
            x = nn.relu(nn.Dense(self.hidden_size)(x))
        return nn.Dense(self.num_outputs)(x)


class GFNPolicy(nn.Module):
    """The forward policy P_F, optionally a learned backward policy P_B and a
    state-flow head log F(s), as separate 2-hidden-layer MLPs or as heads on
    one shared trunk.

    Attributes:
        num_actions: forward (and backward) actions, exit included.
        hidden_size: width of each hidden layer.
        use_learned_backward: add a P_B head (else P_B is uniform).
        use_flow: add a log F(s) head.
        use_shared_trunk: one trunk with linear heads (else one MLP each).
    """

    num_actions: int
    hidden_size: int
    use_learned_backward: bool
    use_flow: bool
    use_shared_trunk: bool

    def setup(self):
        width, actions = self.hidden_size, self.num_actions
        if self.use_shared_trunk:
            self.trunk = nn.Sequential(
                [nn.Dense(width), nn.relu, nn.Dense(width), nn.relu]
            )
            self.forward_net = nn.Dense(actions)
            self.backward_net = nn.Dense(actions) if self.use_learned_backward else None
            self.flow_net = nn.Dense(1) if self.use_flow else None
        else:
            self.trunk = None
            self.forward_net = _MLP(width, actions)
            self.backward_net = (
                _MLP(width, actions) if self.use_learned_backward else None
            )
            self.flow_net = _MLP(width, 1) if self.use_flow else None

    def forward_logits(self, obs: jax.Array) -> jax.Array:
        """``(..., A)``: P_F's logits only (what sampling needs)."""
        features = obs if self.trunk is None else self.trunk(obs)
        return self.forward_net(features)

    def __call__(self, obs: jax.Array) -> PolicyOutputs:
        features = obs if self.trunk is None else self.trunk(obs)
        backward = None if self.backward_net is None else self.backward_net(features)
        flow = None if self.flow_net is None else self.flow_net(features)[..., 0]
        return PolicyOutputs(self.forward_net(features), backward, flow)
