"""An on-device replay buffer of whole trajectories, uniform or by reward.

The buffer is a ring of ``N`` padded trajectories in the batch layout of
:class:`~jaxrl.algos.gflownet.trajectories.Trajectories` (time-major,
``(T+1, N, ...)`` states), with each one's log-reward. Every iteration adds
the batch just sampled, then draws ``R`` stored trajectories (with
replacement) to train on beside it: uniformly, or with probability
proportional to the reward of the object each one ends in. The objectives
here are off-policy (they recompute log P_F with the current parameters), so
replayed trajectories need no correction.
"""

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.algos.gflownet.trajectories import Trajectories

PRIORITIES = ("uniform", "reward")


@struct.dataclass
class ReplayBuffer:
    """A ring of stored trajectories; every leaf has ``N`` on its batch axis."""

    trajectories: Trajectories  # states (T+1, N, ...), actions (T, N), ...
    log_reward: jax.Array  # (N,) float32 log R of each one's object
    size: jax.Array  # () int32, filled slots (<= N)
    cursor: jax.Array  # () int32, the slot the next trajectory goes to


def init_buffer(like: Trajectories, capacity: int) -> ReplayBuffer:
    """An empty buffer for ``capacity`` trajectories shaped like ``like``'s
    (any batch size)."""

    def empty(x):
        shape = (*x.shape[:1], capacity, *x.shape[2:])
        return jnp.zeros(shape, x.dtype)

    return ReplayBuffer(
        trajectories=jax.tree.map(empty, like),
        log_reward=jnp.full((capacity,), -jnp.inf, jnp.float32),
        size=jnp.int32(0),
        cursor=jnp.int32(0),
    )


def add(buffer: ReplayBuffer, batch: Trajectories, log_reward: jax.Array):
    """Store ``batch`` (``B <= N`` trajectories), overwriting the oldest."""
    capacity = buffer.log_reward.shape[0]
    num = log_reward.shape[0]
    slots = (buffer.cursor + jnp.arange(num, dtype=jnp.int32)) % capacity
    stored = jax.tree.map(
        lambda kept, new: kept.at[:, slots].set(new), buffer.trajectories, batch
    )
    return buffer.replace(
        trajectories=stored,
        log_reward=buffer.log_reward.at[slots].set(log_reward),
        size=jnp.minimum(buffer.size + num, capacity),
        cursor=(buffer.cursor + num) % capacity,
    )


def draw(buffer: ReplayBuffer, key: jax.Array, count: int, priority: str) -> Any:
    """``count`` stored trajectories (with replacement) from the filled
    slots: uniformly, or ``"reward"``: in proportion to R(x). The buffer
    must hold at least one (add first)."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {PRIORITIES}, got {priority!r}")
    filled = jnp.arange(buffer.log_reward.shape[0]) < buffer.size
    weights = (
        buffer.log_reward if priority == "reward" else jnp.zeros_like(buffer.log_reward)
    )
    logits = jnp.where(filled, weights, -jnp.inf)
    slots = jax.random.categorical(key, logits, shape=(count,))
    return jax.tree.map(lambda x: x[:, slots], buffer.trajectories)
