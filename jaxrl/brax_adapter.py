"""Brax environments behind the gymnax contract that jaxrl's algorithms use.

``jaxrl.make("brax/inverted_pendulum")`` (any name in ``brax.envs``) gives a
gymnax-style environment: ``reset(key, params) -> (obs, state)`` and the
six-value ``step`` with a time limit and same-step auto-reset, a ``Box``
observation of ``observation_size`` floats and a ``Box`` action in
``[-1, 1]^action_size`` (brax's convention). Brax is imported on first use.

Brax's own ``done`` is a termination (the robot fell); reaching
``max_steps_in_episode`` (brax's usual 1000) is a truncation, as gymnasium
separates them. ``info["final_observation"]`` holds the observation reached
before an auto-reset.
"""

import contextlib
import functools
import logging
import warnings
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces


@struct.dataclass
class BraxState(environment.EnvState):
    """A brax episode in progress: brax's own state and the step count."""

    brax: Any  # brax.envs.base.State
    time: jax.Array  # () int32, steps taken this episode


@struct.dataclass
class BraxParams(environment.EnvParams):
    max_steps_in_episode: int = 1000  # traced: truncation


@functools.cache
def _brax_envs():
    """``brax.envs``, imported once with its optional-backend warnings
    (GPU-only physics packages) kept quiet."""
    with contextlib.redirect_stdout(None), contextlib.redirect_stderr(None):
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)
        try:
            from brax import envs
        finally:
            logging.disable(previous)
    return envs


def brax_names() -> list[str]:
    """Every environment name brax registers."""
    return sorted(_brax_envs()._envs)


class BraxEnv(environment.Environment[BraxState, BraxParams]):
    """One brax environment as a gymnax environment.

    Args:
        name: a ``brax.envs`` name (``"inverted_pendulum"``, ``"ant"``...).
        backend: brax's physics pipeline (``"spring"``, ``"positional"``,
            ``"generalized"`` or ``"mjx"``); ``"spring"`` is the fastest to
            compile and step on CPU.
        **kwargs: passed to the brax environment's constructor.

    Raises:
        ValueError: an unknown name (the message lists brax's names).
    """

    def __init__(self, name: str, backend: str = "spring", **kwargs):
        envs = _brax_envs()
        if name not in envs._envs:
            raise ValueError(
                f"unknown brax environment {name!r}; brax has {', '.join(brax_names())}"
            )
        self._name = f"brax/{name}"
        with warnings.catch_warnings():  # brax's notice that it is unmaintained
            warnings.simplefilter("ignore", UserWarning)
            self._brax = envs.get_environment(name, backend=backend, **kwargs)

    @property
    def name(self) -> str:
        return self._name

    @property
    def default_params(self) -> BraxParams:
        return BraxParams()

    @property
    def num_actions(self) -> int:
        return int(self._brax.action_size)

    def action_space(self, params: BraxParams | None = None) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (self._brax.action_size,), jnp.float32)

    def observation_space(self, params: BraxParams | None = None) -> spaces.Box:
        size = self._brax.observation_size
        return spaces.Box(-jnp.inf, jnp.inf, (size,), jnp.float32)

    def reset(self, key, params: BraxParams | None = None):
        state = BraxState(brax=self._brax.reset(key), time=jnp.int32(0))
        return state.brax.obs.astype(jnp.float32), state

    def reset_env(self, key, params):
        return self.reset(key, params)

    def step(self, key, state: BraxState, action, params: BraxParams | None = None):
        """gymnax's six-value step with the time limit and auto-reset."""
        params = self.default_params if params is None else params
        stepped = self._brax.step(state.brax, jnp.asarray(action, jnp.float32))
        time = state.time + 1
        terminated = jnp.asarray(stepped.done) > 0
        truncated = (time >= params.max_steps_in_episode) & ~terminated
        done = terminated | truncated
        fresh = self._brax.reset(key)
        brax_state = jax.tree.map(
            lambda new, old: jnp.where(done, new, old), fresh, stepped
        )
        next_state = BraxState(brax=brax_state, time=jnp.where(done, 0, time))
        reached = stepped.obs.astype(jnp.float32)
        info = {
            "terminated": terminated,
            "truncated": truncated,
            "final_observation": reached,
        }
        obs = brax_state.obs.astype(jnp.float32)
        reward = jnp.asarray(stepped.reward, jnp.float32)
        return obs, next_state, reward, terminated, truncated, info
