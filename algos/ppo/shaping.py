"""Potential-based reward shaping (Ng, Harada & Russell, 1999).

The shaped reward of a transition ``s -> s'`` is ``r + F`` with
``F = gamma * Phi(s') - Phi(s)``, which leaves the optimal policy unchanged
for any potential ``Phi``. A terminal ``s'`` has potential 0 (so that shaping
cannot change which outcome is preferred); a truncated one keeps its real
potential, as its value is still bootstrapped (Pardo et al., 2018).

A potential is a pure function ``(env_state, env_params) -> ()`` float32 of
the *unwrapped* environment's state. :class:`PotentialInfo` reports the
potentials of each step's states in ``info``, including the state an episode
ended in (before the same-step auto-reset replaces it).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp

from jaxrl.envs.gridworld import constants as C
from jaxrl.wrappers import Wrapper, uses_step_env

Potential = Callable[..., jax.Array]


def shaping_reward(
    potential: jax.Array,
    next_potential: jax.Array,
    terminated: jax.Array,
    gamma: jax.Array,
) -> jax.Array:
    """``F = gamma * (1 - terminated) * Phi(s') - Phi(s)``, elementwise."""
    keep = 1.0 - terminated.astype(jnp.float32)
    return gamma * keep * next_potential - potential


def goal_distance(state, params=None) -> jax.Array:
    """Gridworld potential: minus the Manhattan distance from the agent to the
    nearest goal cell, divided by the grid's ``W + H`` (so it lies in
    ``(-1, 0]``); 0 in a grid without a goal.

    ``state``: a gridworld ``GridState`` (``grid`` ``(W, H, 3)``, ``agent_pos``).
    """
    del params
    width, height = state.grid.shape[:2]
    xs, ys = jnp.meshgrid(jnp.arange(width), jnp.arange(height), indexing="ij")
    distance = jnp.abs(xs - state.agent_pos[0]) + jnp.abs(ys - state.agent_pos[1])
    is_goal = state.grid[..., 0] == C.GOAL
    nearest = jnp.min(jnp.where(is_goal, distance, width + height))
    nearest = jnp.where(jnp.any(is_goal), nearest, 0)
    return -nearest.astype(jnp.float32) / (width + height)


POTENTIALS: dict[str, Potential] = {"goal_distance": goal_distance}


class PotentialInfo(Wrapper):
    """Adds ``info["potential"]`` (``Phi`` of the state acted in) and
    ``info["next_potential"]`` (``Phi`` of the state reached, before any
    auto-reset) to each step.

    The reached state comes from the environment's ``step_env``, so the
    environment must be a gymnax environment whose ``step`` is ``step_env``
    plus the time limit and same-step auto-reset (every jaxrl gridworld);
    :func:`check_potential` says so before compiling.
    """

    def __init__(self, env, potential: Potential):
        super().__init__(env)
        self._potential = potential

    def step(self, key, state, action, params=None):
        params = self._env.default_params if params is None else params
        out = self._env.step(key, state, action, params)
        key_step, _ = jax.random.split(key)  # as the environment's step splits it
        _, reached, _, _, _ = self._env.step_env(key_step, state, action, params)
        info = {
            **out[-1],
            "potential": self._potential(state, params),
            "next_potential": self._potential(reached, params),
        }
        return (*out[:-1], info)


def check_potential(env, env_params, potential: Potential, name: str) -> None:
    """Refuse, before compiling, a potential this environment cannot feed or
    one that does not return a scalar float.

    Raises:
        ValueError: the environment's ``step`` is not gymnax's ``step_env``
            plus auto-reset, so the state an episode ended in is not known.
        TypeError: the potential's output is not a () floating array.
    """
    if not uses_step_env(env):
        raise ValueError(
            f"shaping {name!r} needs a gymnax environment whose step is step_env "
            f"plus auto-reset (as every jaxrl gridworld's); got {type(env).__name__}"
        )
    _, state = jax.eval_shape(env.reset, jax.random.key(0), env_params)
    try:
        out = jax.eval_shape(potential, state, env_params)
    except Exception as error:  # noqa: BLE001 (any failure of user code)
        raise TypeError(
            f"potential {name!r} failed on this environment's state: {error}"
        ) from None
    if getattr(out, "shape", None) != () or not jnp.issubdtype(out.dtype, jnp.floating):
        raise TypeError(
            f"potential {name!r} must return a () float array, got "
            f"{getattr(out, 'shape', out)} {getattr(out, 'dtype', '')}"
        )


def gated_rewards(
    reward: jax.Array,
    immediate: jax.Array,
    done: jax.Array,
    accumulated: jax.Array,
    threshold: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Gated reward accumulation (Sun et al., 2025, "G-RA").

    Immediate rewards (here: shaping) are held back and summed per episode;
    on the step an episode ends they are paid if that step's task reward
    (the outcome) is at least ``threshold``, and dropped otherwise. Task
    rewards pass through unchanged, so an episode's return is
    ``sum r + 1[outcome >= threshold] * sum immediate``.

    Args:
        reward: ``(T, B)`` task rewards.
        immediate: ``(T, B)`` immediate rewards to gate.
        done: ``(T, B)`` bool, the episode ended on that step.
        accumulated: ``(B,)`` immediate rewards held from earlier rollouts.
        threshold: () the outcome an episode must reach.

    Returns:
        ``(rewards (T, B), accumulated (B,))``: what the agent learns from,
        and what is still held for episodes that have not ended.
    """

    def one_step(held, inputs):
        reward_t, immediate_t, done_t = inputs
        held = held + immediate_t
        paid = jnp.where(done_t & (reward_t >= threshold), held, 0.0)
        return jnp.where(done_t, 0.0, held), reward_t + paid

    accumulated, rewards = jax.lax.scan(
        one_step, accumulated, (reward, immediate, done)
    )
    return rewards, accumulated
