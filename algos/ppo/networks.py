"""Actor-critic networks and the observation encoders they start from.

Gridworld observations (an integer image plus a direction, and a mission
index) are encoded the way small MiniGrid agents usually are: each cell's
``(object, color, state)`` integers become one-hot vectors, a shared linear
layer turns them into a per-cell embedding, and the flattened embeddings are
joined with the one-hot direction and a learned embedding of the mission. Any
other observation is flattened to a float vector.
"""

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces


class FlatEncoder(nn.Module):
    """Every leaf of the observation, flattened to float32 and concatenated.

    ``num_batch_dims`` leading axes are kept as batch axes.
    """

    num_batch_dims: int = 1

    @nn.compact
    def __call__(self, obs) -> jax.Array:
        leaves = jax.tree.leaves(obs)
        batch = leaves[0].shape[: self.num_batch_dims]
        flat = [x.reshape(*batch, -1).astype(jnp.float32) for x in leaves]
        return jnp.concatenate(flat, axis=-1)


class GridEncoder(nn.Module):
    """Per-cell embeddings of an integer image, plus a one-hot direction.

    Attributes:
        channel_sizes: number of values of each image channel, e.g.
            ``(11, 6, 3)`` for Farama's (object, color, state).
        embed_dim: embedding width per cell.
        num_directions: size of the one-hot direction.
        num_missions: missions to embed (``obs.mission`` indexes them); 0 when
            the observation has none.
    """

    channel_sizes: Sequence[int]
    embed_dim: int
    num_directions: int = 4
    num_missions: int = 0

    @nn.compact
    def __call__(self, obs) -> jax.Array:
        image, direction = obs.image, obs.direction  # (..., V, V, C), (...)
        one_hots = [
            jax.nn.one_hot(image[..., c], n, dtype=jnp.float32)
            for c, n in enumerate(self.channel_sizes)
        ]
        cells = nn.Dense(self.embed_dim, name="cell_embedding")(
            jnp.concatenate(one_hots, axis=-1)
        )
        cells = cells.reshape(*image.shape[:-3], -1)
        heading = jax.nn.one_hot(direction, self.num_directions, dtype=jnp.float32)
        features = [cells, heading]
        if self.num_missions:
            embed = nn.Embed(self.num_missions, self.embed_dim, name="mission")
            features.append(embed(obs.mission))
        return jnp.concatenate(features, axis=-1)


class ActorCritic(nn.Module):
    """Shared encoder, then separate two-layer tanh MLPs for policy and value.

    Returns ``(logits (..., A) float32, value)``: ``value`` is ``(...)``
    float32 with one value head, ``(..., num_values)`` with more (linear heads
    on the same critic MLP, e.g. extrinsic and intrinsic values). Orthogonal
    initialisation with PureJaxRL's gains (sqrt(2) hidden, 0.01 policy head,
    1.0 value head).
    """

    encoder: nn.Module
    num_actions: int
    hidden_size: int = 64
    num_values: int = 1

    @nn.compact
    def __call__(self, obs) -> tuple[jax.Array, jax.Array]:
        features = self.encoder(obs)
        logits = _mlp(features, self.hidden_size, self.num_actions, 0.01, "actor")
        value = _mlp(features, self.hidden_size, self.num_values, 1.0, "critic")
        return logits, value[..., 0] if self.num_values == 1 else value


class GaussianActorCritic(nn.Module):
    """For continuous actions: a diagonal Gaussian over ``action_dim`` and
    the value, from separate two-layer tanh MLPs on a shared encoder.

    Returns ``((mean (..., D), log_std (..., D)), value)``; ``log_std`` is
    one learned vector (state-independent, starting at 0), as in PPO's
    MuJoCo setting; ``value`` is shaped as :class:`ActorCritic`'s.
    """

    encoder: nn.Module
    action_dim: int
    hidden_size: int = 64
    num_values: int = 1

    @nn.compact
    def __call__(self, obs):
        features = self.encoder(obs)
        mean = _mlp(features, self.hidden_size, self.action_dim, 0.01, "actor")
        log_std = self.param("log_std", nn.initializers.zeros, (self.action_dim,))
        value = _mlp(features, self.hidden_size, self.num_values, 1.0, "critic")
        value = value[..., 0] if self.num_values == 1 else value
        return (mean, jnp.broadcast_to(log_std, mean.shape)), value


class RecurrentActorCritic(nn.Module):
    """Encoder, a dense tanh layer, a GRU, then the policy and value MLPs.

    One step for a batch: ``(carry (B, H), obs, reset (B,) bool) -> (carry,
    logits (B, A), value)``; where ``reset`` is True the carry is zeroed before
    the step (the observation starts a new episode). ``value`` is shaped as
    :class:`ActorCritic`'s. :meth:`unroll` runs a ``(T, B)`` sequence.
    """

    encoder: nn.Module
    num_actions: int
    hidden_size: int = 64
    num_values: int = 1

    @nn.compact
    def __call__(self, carry, obs, reset):
        features = self.encoder(obs)
        hidden_init = nn.initializers.orthogonal(np.sqrt(2))
        x = jnp.tanh(nn.Dense(self.hidden_size, kernel_init=hidden_init)(features))
        carry = jnp.where(reset[:, None], jnp.zeros_like(carry), carry)
        carry, y = nn.GRUCell(self.hidden_size, name="gru")(carry, x)
        logits = _mlp(y, self.hidden_size, self.num_actions, 0.01, "actor")
        value = _mlp(y, self.hidden_size, self.num_values, 1.0, "critic")
        return carry, logits, value[..., 0] if self.num_values == 1 else value

    def initial_carry(self, batch_size: int) -> jax.Array:
        """``(B, H)`` float32 zeros: the state before any observation."""
        return jnp.zeros((batch_size, self.hidden_size), jnp.float32)

    def unroll(self, params, carry, obs, reset):
        """Run ``(T, B)`` steps from ``carry``.

        Returns:
            ``(carry after the last step, logits (T, B, A), value (T, B[, K]),
            carries (T, B, H))``, where ``carries[t]`` is the state *after*
            step ``t`` (what the value of a truncated step's final
            observation is read from).
        """

        def step(carry, inputs):
            obs_t, reset_t = inputs
            carry, logits, value = self.apply(params, carry, obs_t, reset_t)
            return carry, (logits, value, carry)

        carry, (logits, value, carries) = jax.lax.scan(step, carry, (obs, reset))
        return carry, logits, value, carries


def _mlp(x, hidden: int, out: int, out_gain: float, name: str) -> jax.Array:
    hidden_init = nn.initializers.orthogonal(np.sqrt(2))
    for i in range(2):
        x = nn.Dense(hidden, kernel_init=hidden_init, name=f"{name}_{i}")(x)
        x = jnp.tanh(x)
    out_init = nn.initializers.orthogonal(out_gain)
    return nn.Dense(out, kernel_init=out_init, name=f"{name}_out")(x)


def make_network(
    observation_space,
    num_actions: int,
    hidden_size: int,
    embed_dim: int,
    num_values: int = 1,
    recurrent: bool = False,
    continuous: bool = False,
):
    """Choose the encoder from the observation space and build the network
    (:class:`RecurrentActorCritic` when ``recurrent``, and
    :class:`GaussianActorCritic`, ``num_actions`` being the action size, when
    ``continuous``).

    A ``spaces.Dict`` with an integer ``image`` Box and a ``direction``
    Discrete gets :class:`GridEncoder` (channel sizes from the Box's upper
    bounds); anything else gets :class:`FlatEncoder`.
    """
    encoder = _grid_encoder(observation_space, embed_dim) or FlatEncoder()
    if continuous:
        return GaussianActorCritic(encoder, num_actions, hidden_size, num_values)
    network = RecurrentActorCritic if recurrent else ActorCritic
    return network(encoder, num_actions, hidden_size, num_values)


_MAX_CATEGORIES = 64


def _grid_encoder(space, embed_dim: int) -> GridEncoder | None:
    if not isinstance(space, spaces.Dict):
        return None
    image, direction = space.spaces.get("image"), space.spaces.get("direction")
    if not (isinstance(image, spaces.Box) and isinstance(direction, spaces.Discrete)):
        return None
    if not jnp.issubdtype(image.dtype, jnp.integer):
        return None
    high = np.broadcast_to(np.asarray(image.high), image.shape)
    channel_sizes = tuple(int(n) + 1 for n in high.reshape(-1, image.shape[-1]).max(0))
    if max(channel_sizes) > _MAX_CATEGORIES:  # pixels, not codes: flatten them
        return None
    mission = space.spaces.get("mission")
    num_missions = int(mission.n) if isinstance(mission, spaces.Discrete) else 0
    return GridEncoder(channel_sizes, embed_dim, int(direction.n), num_missions)


def categorical_log_prob(logits: jax.Array, action: jax.Array) -> jax.Array:
    """Log-probability of ``action`` (...) int under ``logits`` (..., A)."""
    log_p = jax.nn.log_softmax(logits)
    return jnp.take_along_axis(log_p, action[..., None], axis=-1)[..., 0]


def categorical_entropy(logits: jax.Array) -> jax.Array:
    """Entropy (...) of the categorical distribution with ``logits`` (..., A)."""
    log_p = jax.nn.log_softmax(logits)
    return -jnp.sum(jnp.exp(log_p) * log_p, axis=-1)


def gaussian_log_prob(dist: tuple[jax.Array, jax.Array], action: jax.Array):
    """Log-density (...) of ``action`` (..., D) under the diagonal Gaussian
    ``dist = (mean, log_std)``, summed over the D dimensions."""
    mean, log_std = dist
    z = (action - mean) * jnp.exp(-log_std)
    per_dim = -0.5 * jnp.square(z) - log_std - 0.5 * jnp.log(2.0 * jnp.pi)
    return jnp.sum(per_dim, axis=-1)


def gaussian_entropy(dist: tuple[jax.Array, jax.Array]) -> jax.Array:
    """Entropy (...) of the diagonal Gaussian ``(mean, log_std)``."""
    _, log_std = dist
    return jnp.sum(log_std + 0.5 * (1.0 + jnp.log(2.0 * jnp.pi)), axis=-1)
