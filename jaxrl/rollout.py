"""Rolling a policy through a batch of any gymnax environment, in ``lax.scan``.

One function for every algorithm that steps environments: PPO collects its
rollouts with it, policy-search tasks evaluate genotypes with it (through
:class:`FixedStart`), and the benchmarks drive random policies with it.
Environments auto-reset on the same step (the gymnax contract), so a rollout
of ``T`` steps may span several episodes per environment; :class:`FixedStart`
never resets.
"""

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.batched_reset import ExactReset, OptimisticReset


@dataclasses.dataclass(frozen=True)
class FixedStart:
    """``num_envs`` episodes from one start, never reset, on common random
    numbers: for scoring policies against each other (policy-search tasks).

    :meth:`reset` starts every environment from ``env.reset(key)``; each
    :meth:`step` hands the same key to every environment, so a trajectory
    depends on its actions alone. Steps are the environment's ``step_env``
    (no auto-reset): an episode that has ended keeps being stepped and
    ``truncated`` is always False, so the caller masks what follows the first
    ``terminated``.

    Attributes:
        env: an unwrapped gymnax environment (it has ``step_env``).
        num_envs: ``B``.
        record: ``(reward, state, info) -> pytree``, evaluated per
            environment on every step with the state reached; its value is
            ``info["record"]``. None records nothing.
    """

    env: Any
    num_envs: int
    record: Callable[[jax.Array, Any, dict], Any] | None = None

    def reset(self, key: jax.Array, params) -> tuple[Any, Any]:
        one = self.env.reset(key, params)
        return jax.tree.map(
            lambda leaf: jnp.broadcast_to(leaf, (self.num_envs, *jnp.shape(leaf))),
            one,
        )

    def step(self, key, state, action, params):
        def one(state, action):
            obs, state, reward, terminated, info = self.env.step_env(
                key, state, action, params
            )
            if self.record is not None:
                info = {**info, "record": self.record(reward, state, info)}
            return obs, state, reward, jnp.asarray(terminated, bool), info

        obs, state, reward, terminated, info = jax.vmap(one)(state, action)
        return obs, state, reward, terminated, jnp.zeros_like(terminated), info


BatchedEnv = ExactReset | OptimisticReset | FixedStart

class RolloutStep(NamedTuple):
    """One step of every environment; leaves ``(B, ...)``, or ``(T, B, ...)``
    once :func:`rollout` stacks them."""

    obs: Any  # the observation acted on
    action: jax.Array
    reward: jax.Array  # float32
    terminated: jax.Array  # bool
    truncated: jax.Array  # bool
    info: dict  # the environment's info (final_observation, ...)
    extras: Any  # what the policy returned beside the action


Policy = Callable[[jax.Array, Any], tuple[jax.Array, Any]]


def as_batched(env, num_envs: int) -> BatchedEnv:
    """``env`` itself if it is a batched stepper, else its exact batch."""
    if isinstance(env, BatchedEnv):
        if env.num_envs != num_envs:
            raise ValueError(
                f"the batched environment steps {env.num_envs} copies, not "
                f"{num_envs}"
            )
        return env
    return ExactReset(env, num_envs)


def reset_batch(env, env_params, key: jax.Array, num_envs: int) -> tuple[Any, Any]:
    """``(obs, env_state)`` of ``num_envs`` fresh episodes, leaves ``(B, ...)``.

    ``env`` is a gymnax environment (reset exactly, ``vmap(env.reset)``) or a
    batched stepper from :func:`jaxrl.batched_reset.batched`.
    """
    return as_batched(env, num_envs).reset(key, env_params)


def rollout(
    env,
    env_params,
    policy: Policy,
    carry: tuple[Any, Any, jax.Array],
    num_steps: int,
) -> tuple[tuple[Any, Any, jax.Array], RolloutStep]:
    """Step a batch of environments ``num_steps`` times with ``policy``.

    Args:
        env: a gymnax-style environment (its ``step`` auto-resets; stepped
            under ``vmap``), or a batched stepper: from
            :func:`jaxrl.batched_reset.batched` (then ``env_state`` is its
            batch state), or :class:`FixedStart`.
        env_params: its params, shared by the batch.
        policy: ``(key, obs) -> (action, extras)`` on the batch: obs leaves
            ``(B, ...)``, action ``(B, ...)``; ``extras`` is any pytree
            (log-probabilities, values) stored with each step.
        carry: ``(env_state, obs, key)``, leaves ``(B, ...)`` but the key.
        num_steps: ``T``, static.

    Returns:
        ``(carry, steps)``: the carry after the last step, and a
        :class:`RolloutStep` with leaves ``(T, B, ...)``.
    """

    def one_step(carry, _):
        env_state, obs, key = carry
        key, k_action, k_step = jax.random.split(key, 3)
        action, extras = policy(k_action, obs)
        stepper = as_batched(env, action.shape[0])
        next_obs, env_state, reward, terminated, truncated, info = stepper.step(
            k_step, env_state, action, env_params
        )
        step = RolloutStep(obs, action, reward, terminated, truncated, info, extras)
        return (env_state, next_obs, key), step

    return jax.lax.scan(one_step, carry, length=num_steps)
