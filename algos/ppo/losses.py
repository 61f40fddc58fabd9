"""PPO's return estimator and loss, as pure functions of one batch.

``gae`` is written for one trajectory (time on axis 0); vmap it over
environments at the call site.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.algos.ppo.networks import (
    categorical_entropy,
    categorical_log_prob,
    gaussian_entropy,
    gaussian_log_prob,
)


def gae(
    reward_t: jax.Array,
    value_tm1: jax.Array,
    next_value_t: jax.Array,
    terminated_t: jax.Array,
    done_t: jax.Array,
    gamma: jax.Array,
    gae_lambda: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Generalised advantage estimation (Schulman et al., 2016) with resets.

    Step ``t`` moves from state ``s_t`` (value ``value_tm1[t]``) to ``s'_t``
    (value ``next_value_t[t]``, the value of the final observation when the
    episode ended at ``t``). A termination stops bootstrapping; a truncation
    bootstraps from ``s'_t`` but, like a termination, cuts the recursion::

        delta_t = r_t + gamma * (1 - terminated_t) * V(s'_t) - V(s_t)
        A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}

    Args:
        reward_t: ``(T,)`` float32 rewards.
        value_tm1: ``(T,)`` values of the states acted in.
        next_value_t: ``(T,)`` values of the states reached.
        terminated_t: ``(T,)`` bool, episode ended by the task.
        done_t: ``(T,)`` bool, episode ended (terminated or truncated).
        gamma: () discount.
        gae_lambda: () GAE lambda.

    Returns:
        ``(advantages, returns)``, both ``(T,)`` float32, with
        ``returns = advantages + value_tm1``.
    """
    keep = 1.0 - terminated_t.astype(jnp.float32)
    delta = reward_t + gamma * keep * next_value_t - value_tm1
    carry_on = gamma * gae_lambda * (1.0 - done_t.astype(jnp.float32))

    def backward(next_advantage, inputs):
        delta_t, carry_on_t = inputs
        advantage = delta_t + carry_on_t * next_advantage
        return advantage, advantage

    _, advantages = jax.lax.scan(
        backward, jnp.zeros_like(delta[0]), (delta, carry_on), reverse=True
    )
    return advantages, advantages + value_tm1


class LossInfo(NamedTuple):
    """Scalars reported per minibatch (all () float32)."""

    total: jax.Array
    policy: jax.Array
    value: jax.Array
    entropy: jax.Array
    approx_kl: jax.Array
    clip_fraction: jax.Array


def ppo_loss(
    logits: jax.Array,
    value: jax.Array,
    action: jax.Array,
    old_log_prob: jax.Array,
    old_value: jax.Array,
    advantage: jax.Array,
    target: jax.Array,
    clip_eps: jax.Array,
    vf_coef: jax.Array,
    ent_coef: jax.Array,
    normalize_advantages: bool = True,
    continuous: bool = False,
) -> tuple[jax.Array, LossInfo]:
    """Clipped PPO objective (Schulman et al., 2017) with a clipped value loss.

    Args:
        logits: ``(N, A)`` policy logits under the current parameters.
        value: ``(N,)`` current value estimates, or ``(N, K)`` for ``K``
            value heads (their losses are summed).
        action: ``(N,)`` int actions taken.
        old_log_prob, old_value: ``(N,)`` from the rollout (``old_value``
            shaped like ``value``).
        advantage: ``(N,)`` GAE advantages.
        target: value targets shaped like ``value``.
        clip_eps, vf_coef, ent_coef: () coefficients.
        normalize_advantages: static; standardise advantages over the batch.
        continuous: static; ``logits`` is a Gaussian's ``(mean, log_std)``,
            each ``(N, D)``, and ``action`` its ``(N, D)`` unsquashed sample.

    Returns:
        ``(loss, info)``: the scalar to minimise and its parts.
    """
    log_prob_of = gaussian_log_prob if continuous else categorical_log_prob
    entropy_of = gaussian_entropy if continuous else categorical_entropy
    log_prob = log_prob_of(logits, action)
    log_ratio = log_prob - old_log_prob
    ratio = jnp.exp(log_ratio)
    if normalize_advantages:
        advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    unclipped = ratio * advantage
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantage
    policy_loss = -jnp.minimum(unclipped, clipped).mean()

    value_clipped = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
    squared = jnp.maximum(
        jnp.square(value - target), jnp.square(value_clipped - target)
    )
    value_loss = 0.5 * jnp.sum(jnp.mean(squared, axis=0))
    entropy = entropy_of(logits).mean()
    total = policy_loss + vf_coef * value_loss - ent_coef * entropy

    approx_kl = ((ratio - 1.0) - log_ratio).mean()  # Schulman's k3 estimator
    clip_fraction = (jnp.abs(ratio - 1.0) > clip_eps).astype(jnp.float32).mean()
    info = LossInfo(total, policy_loss, value_loss, entropy, approx_kl, clip_fraction)
    return total, info
