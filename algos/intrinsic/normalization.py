"""Running statistics for intrinsic rewards and the observations they see.

Both are pure: a state in, a state out, so they live in a training run's
carry and are checkpointed with it.
"""

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class RunningMoments:
    """Mean and variance of everything seen so far, per feature.

    ``mean`` and ``var`` have the feature shape (``()`` for a scalar
    stream); ``count`` is a float32 number of samples (it starts at a tiny
    positive value so that the first merge is a plain average).
    """

    mean: jax.Array
    var: jax.Array
    count: jax.Array


def init_moments(shape: tuple[int, ...] = ()) -> RunningMoments:
    """Moments of nothing yet: mean 0, variance 1, count ~0."""
    return RunningMoments(
        mean=jnp.zeros(shape, jnp.float32),
        var=jnp.ones(shape, jnp.float32),
        count=jnp.float32(1e-4),
    )


def update_moments(moments: RunningMoments, batch: jax.Array) -> RunningMoments:
    """Merge a batch ``(N, *shape)`` into ``moments`` (Chan et al.'s parallel
    update of mean and variance)."""
    batch = batch.astype(jnp.float32)
    n = jnp.float32(batch.shape[0])
    mean, var = jnp.mean(batch, axis=0), jnp.var(batch, axis=0)
    total = moments.count + n
    delta = mean - moments.mean
    new_mean = moments.mean + delta * n / total
    m2 = moments.var * moments.count + var * n + delta**2 * moments.count * n / total
    return RunningMoments(new_mean, m2 / total, total)


def standardize(moments: RunningMoments, x: jax.Array, clip: float = 5.0) -> jax.Array:
    """``(x - mean) / std`` clipped to ``[-clip, clip]`` (RND's observation
    normalisation)."""
    scaled = (x - moments.mean) / jnp.sqrt(moments.var + 1e-8)
    return jnp.clip(scaled, -clip, clip)


@struct.dataclass
class RewardScaler:
    """Burda et al.'s intrinsic-reward normalisation: each environment keeps
    a discounted running sum of its intrinsic rewards, and rewards are divided
    by the standard deviation of those sums (no mean is subtracted).

    ``returns`` is ``(B,)``, one running sum per environment.
    """

    returns: jax.Array
    moments: RunningMoments


def init_reward_scaler(num_envs: int) -> RewardScaler:
    return RewardScaler(jnp.zeros((num_envs,), jnp.float32), init_moments())


def scale_rewards(
    scaler: RewardScaler, rewards: jax.Array, gamma: jax.Array
) -> tuple[RewardScaler, jax.Array]:
    """Update ``scaler`` with a rollout's rewards and return them scaled.

    Args:
        scaler: the running state.
        rewards: ``(T, B)`` raw intrinsic rewards.
        gamma: () discount of the running sums (the intrinsic discount).

    Returns:
        ``(scaler, rewards / std)``; the sums run on across episode ends, as
        the intrinsic stream they describe does.
    """

    def accumulate(running, reward):
        running = gamma * running + reward
        return running, running

    returns, sums = jax.lax.scan(accumulate, scaler.returns, rewards)
    moments = update_moments(scaler.moments, sums.reshape(-1))
    scaled = rewards / jnp.sqrt(moments.var + 1e-8)
    return RewardScaler(returns, moments), scaled
