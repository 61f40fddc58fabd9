"""Environment wrappers that keep the gymnax six-value ``step``.

Each wrapper keeps its own fields in its own state dataclass and adds only its
own ``info`` keys, so wrappers stack in any order. Attribute lookups that a
wrapper does not define fall through to the wrapped environment.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces
from jax.experimental import checkify


class Wrapper:
    """Base wrapper: forwards ``reset``, ``step``, spaces and attributes."""

    def __init__(self, env):
        self._env = env

    def __getattr__(self, name: str) -> Any:
        if name == "_env":  # not set yet (e.g. during unpickling)
            raise AttributeError(name)
        return getattr(self._env, name)

    @property
    def unwrapped(self):
        """The innermost environment."""
        return getattr(self._env, "unwrapped", self._env)

    @property
    def default_params(self):
        return self._env.default_params

    def reset(self, key, params=None):
        return self._env.reset(key, params)

    def step(self, key, state, action, params=None):
        return self._env.step(key, state, action, params)

    def action_space(self, params=None):
        return self._env.action_space(params)

    def observation_space(self, params=None):
        return self._env.observation_space(params)


class EpisodeStats(NamedTuple):
    """Statistics of the episode that ended on this step (``info["episode"]``).

    ``returned`` () bool is True on the step an episode ends (terminated or
    truncated); ``episode_return`` () float32 and ``length`` () int32 are then
    that episode's undiscounted return and step count, and 0 otherwise.
    ``success`` () bool is True on the step an episode ends with its task
    solved, as the environment reports it in ``info["success"]``; it is
    ``None`` (an empty pytree node) for environments that report no success,
    such as gymnax's.
    """

    returned: jax.Array
    episode_return: jax.Array
    length: jax.Array
    success: jax.Array | None = None


@struct.dataclass
class EpisodeStatsState:
    env_state: Any
    episode_return: jax.Array  # () float32, running return of this episode
    episode_length: jax.Array  # () int32, steps taken in this episode


class EpisodeStatistics(Wrapper):
    """Tracks each episode's return and length and reports them when it ends.

    Adds ``info["episode"]``: :class:`EpisodeStats`. Its ``success`` is the
    wrapped environment's ``info["success"]`` on the step an episode ends, or
    ``None`` when that info has no ``"success"`` key (decided when tracing).
    Intended for logging; the learning signal is unchanged.
    """

    def reset(self, key, params=None):
        obs, env_state = self._env.reset(key, params)
        return obs, EpisodeStatsState(env_state, jnp.float32(0.0), jnp.int32(0))

    def step(self, key, state, action, params=None):
        obs, env_state, reward, terminated, truncated, info = self._env.step(
            key, state.env_state, action, params
        )
        done = jnp.logical_or(terminated, truncated)
        episode_return = state.episode_return + reward.astype(jnp.float32)
        episode_length = state.episode_length + 1
        success = info.get("success")  # present or not: static, per env
        stats = EpisodeStats(
            returned=done,
            episode_return=jnp.where(done, episode_return, 0.0),
            length=jnp.where(done, episode_length, 0),
            success=None if success is None else jnp.logical_and(success, done),
        )
        next_state = EpisodeStatsState(
            env_state=env_state,
            episode_return=jnp.where(done, 0.0, episode_return),
            episode_length=jnp.where(done, 0, episode_length),
        )
        return (
            obs,
            next_state,
            reward,
            terminated,
            truncated,
            {**info, "episode": stats},
        )


def flatten_observation(obs) -> jax.Array:
    """Concatenate every leaf of an observation pytree into ``(N,)`` float32."""
    leaves = jax.tree.leaves(obs)
    return jnp.concatenate([jnp.ravel(x).astype(jnp.float32) for x in leaves])


class FlattenObservation(Wrapper):
    """Observations become one ``(N,)`` float32 vector (leaves concatenated in
    pytree order); ``info["final_observation"]`` is flattened the same way."""

    def reset(self, key, params=None):
        obs, state = self._env.reset(key, params)
        return flatten_observation(obs), state

    def step(self, key, state, action, params=None):
        obs, state, reward, terminated, truncated, info = self._env.step(
            key, state, action, params
        )
        final = flatten_observation(info["final_observation"])
        info = {**info, "final_observation": final}
        return flatten_observation(obs), state, reward, terminated, truncated, info

    def observation_space(self, params=None):
        params = self.default_params if params is None else params
        example = jax.eval_shape(self._env.reset, jax.random.key(0), params)[0]
        size = sum(x.size for x in jax.tree.leaves(example))
        return spaces.Box(-jnp.inf, jnp.inf, (size,), jnp.float32)


class DoneAdapter(Wrapper):
    """Five-value ``step`` for code written against gymnax 0.x / PureJaxRL.

    ``step`` returns ``(obs, state, reward, done, info)`` with
    ``done = terminated | truncated``; ``info`` still carries ``terminated``
    and ``truncated`` for code that needs to tell them apart.
    """

    def step(self, key, state, action, params=None):
        obs, state, reward, terminated, truncated, info = self._env.step(
            key, state, action, params
        )
        return obs, state, reward, jnp.logical_or(terminated, truncated), info


def uses_step_env(env) -> bool:
    """Whether ``env.step`` is gymnax's ``step_env`` + time limit + auto-reset.

    Then a caller may run ``step_env`` itself (with the first half of the
    step's key split) to see the state an episode ended in, before the
    reset replaces it. A wrapper or a custom ``step`` does not qualify,
    except a class whose own ``step`` is equivalent and says so with
    ``gymnax_equivalent_step = step``.
    """
    if not isinstance(env, environment.Environment):
        return False
    step = type(env).step
    equivalent = getattr(type(env), "gymnax_equivalent_step", None)
    return step is environment.Environment.step or step is equivalent


class Checked(Wrapper):
    """Run-time checks that cannot raise under ``jit``, as ``checkify`` errors.

    Each ``step`` checks that the action lies in the action space (a
    Discrete action in ``[0, n)``, a Box action finite and within its bounds)
    and that the reward is finite. The checks take effect inside
    ``jax.experimental.checkify.checkify``::

        env = jaxrl.checked(env)
        err, out = checkify.checkify(jax.jit(env.step))(key, state, 9, params)
        err.throw()  # ValueError: action 9 is outside [0, 7) ...

    Outside ``checkify``, JAX refuses to trace them (use the unwrapped env).
    """

    def step(self, key, state, action, params=None):
        params = self._env.default_params if params is None else params
        space = self._env.action_space(params)
        if isinstance(space, spaces.Discrete):
            checkify.check(
                (action >= 0) & (action < space.n),
                f"action {{a}} is outside [0, {space.n}) of the Discrete action space",
                a=action,
            )
        elif isinstance(space, spaces.Box):
            action = jnp.asarray(action)
            inside = (action >= space.low) & (action <= space.high)
            checkify.check(
                jnp.all(jnp.isfinite(action) & inside),
                "action {a} is outside the Box action space's bounds",
                a=action,
            )
        out = self._env.step(key, state, action, params)
        checkify.check(
            jnp.all(jnp.isfinite(out[2])), "reward {r} is not finite", r=out[2]
        )
        return out


def checked(env) -> Checked:
    """``env`` with :class:`Checked`'s run-time checks (use under checkify)."""
    return Checked(env)
