"""Gymnasium front-ends for registered environments: :func:`to_gymnasium`.

A ``gymnasium.Env`` whose ``reset`` and ``step`` each run one jitted JAX call
and return NumPy, or a ``gymnasium.vector.VectorEnv`` stepping ``n`` copies in
one jitted, vmapped call with gymnax's same-step auto-reset. Both pass
gymnasium's ``check_env``; gymnax's ``GymnaxToGymWrapper`` does not (it never
seeds the base class and returns JAX arrays), so it is not reused.

Spaces are converted recursively. Gymnasium sorts ``Dict`` keys, so a
NamedTuple observation becomes a dict in sorted key order; ``Discrete``
observations are ``np.int64`` scalars, everything else arrays of exactly the
space's dtype.

Environments opt in to more with optional members, looked up on their class
(so a wrapper, whose state differs, opts in only if it defines them):

- ``render_rgb(state, params) -> (H, W, 3) uint8`` enables
  ``render_mode="rgb_array"``; ``render_fps`` sets ``metadata["render_fps"]``.
- ``gymnax_equivalent_step``: set to the class's ``step`` when that ``step``
  returns what gymnax's ``Environment.step`` would; the single env then calls
  ``step_env`` itself (see :func:`uses_step_env`).

A single env of a gridworld (a ``MiniGridEnv``, not wrapped) is a drop-in for
Farama MiniGrid's: its observation's ``mission`` is Farama's string (a
``Text`` space; a wrapped gridworld's too), ``env.unwrapped`` carries
Farama's attributes read from the JAX state (:mod:`jaxrl.farama_surface`), so
every ``minigrid.wrappers`` wrapper applies, and, as in Farama, it may keep
stepping after the episode ended. The vector env keeps the mission's integer
index.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces as gym_spaces
from gymnasium.envs.registration import EnvSpec
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from jaxrl import registry
from jaxrl.farama_surface import (
    FaramaSurface,
    has_surface,
    has_text_mission,
    text_mission,
    with_text_mission,
)
from jaxrl.gymnasium_convert import (
    WORD,
    action_dtype,
    gymnasium_space,
    keys_from_seeds,
    to_action,
    to_numpy,
)
from jaxrl.gymnasium_registration import gymnasium_id
from jaxrl.wrappers import uses_step_env

_RENDER_FPS = 10  # metadata["render_fps"] unless the environment sets render_fps


def to_gymnasium(
    env_id: str,
    num_envs: int | None = None,
    *,
    render_mode: str | None = None,
    **make_kwargs: Any,
) -> "GymnasiumEnv | GymnasiumVectorEnv":
    """A registered environment behind gymnasium's API.

    Adapters made with the same ``env_id`` and ``make_kwargs`` share one
    environment instance and its compiled functions, so making another (as
    ``check_env`` and ``env.spec.make()`` do) compiles nothing new.

    Args:
        env_id: any id ``jaxrl.make`` accepts (ours, their aliases,
            gymnax's ``"CartPole-v1"``).
        num_envs: ``None`` for a single ``gymnasium.Env``; an int >= 1 for a
            ``gymnasium.vector.VectorEnv`` of that many copies.
        render_mode: ``None``, or ``"rgb_array"`` for environments with a
            ``render_rgb`` method (single env only);
            ``env.metadata["render_modes"]`` lists what is available.
        **make_kwargs: passed to ``jaxrl.make`` (constructor arguments and
            params fields, e.g. ``max_steps_in_episode=50``).

    Returns:
        A :class:`GymnasiumEnv`, or a :class:`GymnasiumVectorEnv` when
        ``num_envs`` is given.

    Raises:
        ValueError: unknown id, ``num_envs < 1`` or an unavailable
            ``render_mode``.
        TypeError: ``num_envs`` not an int, or a keyword ``jaxrl.make``
            does not accept.
    """
    if num_envs is not None:
        num_envs = _check_num_envs(num_envs)
        if render_mode is not None:
            raise ValueError(
                f"render_mode={render_mode!r}: the vector env only supports None"
            )
        return GymnasiumVectorEnv(*_make(env_id, make_kwargs), num_envs)
    env, params = _make(env_id, make_kwargs)
    gym_env = GymnasiumEnv(env, params, render_mode=render_mode)
    # A spec lets check_env test seeded determinism and re-create the env;
    # its id is the one gymnasium's registry knows the environment by.
    gym_env.spec = EnvSpec(
        id=gymnasium_id(registry.canonical_id(env_id)),
        entry_point=to_gymnasium,
        nondeterministic=False,
        kwargs={"env_id": env_id, **make_kwargs},
    )
    return gym_env


_MADE: dict[Any, tuple[Any, Any, Any]] = {}  # key -> (spec, env, params)
_COMPILED: dict[int, tuple[Any, "_Functions"]] = {}  # id(env) -> (env, functions)
_CACHE_SIZE = 64  # environments kept; the oldest is dropped beyond that


def _remember(cache: dict, key: Any, value: Any) -> Any:
    cache[key] = value
    if len(cache) > _CACHE_SIZE:
        del cache[next(iter(cache))]
    return value


def _make(env_id: str, make_kwargs: dict[str, Any]):
    """``registry.make``, memoised on the id and hashable keyword values.

    An id registered again (``overwrite=True``) is built afresh.
    """
    canonical = registry.canonical_id(env_id)
    try:
        key = (canonical, *((k, type(v), v) for k, v in sorted(make_kwargs.items())))
        hash(key)
    except TypeError:  # e.g. an array value: build a fresh one
        return registry.make(env_id, **make_kwargs)
    spec = registry._SPECS.get(canonical)  # None for gymnax ids
    if key not in _MADE or _MADE[key][0] is not spec:
        _remember(_MADE, key, (spec, *registry.make(env_id, **make_kwargs)))
    return _MADE[key][1:]


class _Functions(NamedTuple):
    """Jitted functions of one environment; params are arguments."""

    reset: Callable
    step: Callable
    vector_reset: Callable
    vector_step: Callable
    render: Callable | None  # (state, params) -> frame; None: cannot render


def _functions(env) -> _Functions:
    """The jitted functions of ``env``, made once per environment instance."""
    if id(env) in _COMPILED:  # the cache holds env, so its id is not reused
        return _COMPILED[id(env)][1]
    batched = functools.partial(jax.vmap, in_axes=(0, 0, 0, None))
    functions = _Functions(
        reset=jax.jit(functools.partial(_reset, env)),
        step=jax.jit(functools.partial(_step, env)),
        vector_reset=jax.jit(
            jax.vmap(functools.partial(_reset, env), in_axes=(0, None))
        ),
        vector_step=jax.jit(batched(functools.partial(_vector_step, env))),
        render=_renderer(env),
    )
    return _remember(_COMPILED, id(env), (env, functions))[1]


def _check_num_envs(num_envs: Any) -> int:
    if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer):
        raise TypeError(f"num_envs must be an int, got {type(num_envs).__name__}")
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    return int(num_envs)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"a seed must be a non-negative int, got {seed!r}")
    return int(seed)


def _strong(state):
    """``state`` with weak types made strong (Python scalars become arrays).

    WARN: a ``reset_env`` that writes a Python ``0.0`` into its state (gymnax's
    Pendulum) gives a weakly typed leaf that ``step`` returns strongly typed,
    and the second step would compile again. Same dtypes, so same values.
    """

    def strong(x):
        x = jnp.asarray(x)
        return (
            jax.lax.convert_element_type(x, x.dtype) if jax.typeof(x).weak_type else x
        )

    return jax.tree.map(strong, state)


def _reset(env, key, params):
    key, key_reset = jax.random.split(key)
    obs, state = env.reset(key_reset, params)
    return key, obs, _strong(state)


def _step(env, key, state, action, params):
    """One transition without auto-reset; equals ``env.step(key_step, ...)``.

    The observation is the one the step reached (``final_observation``), so a
    terminal step returns the terminal observation, as gymnasium expects.
    """
    key, key_step = jax.random.split(key)
    if uses_step_env(env):
        key_env, _ = jax.random.split(key_step)  # as gymnax's step splits it
        obs, state, reward, terminated, info = env.step_env(
            key_env, state, action, params
        )
        truncated = env.is_truncated(state, params)
    else:
        _, state, reward, terminated, truncated, info = env.step(
            key_step, state, action, params
        )
        info = dict(info)
        obs = info.pop("final_observation")
    info = {k: v for k, v in info.items() if k not in ("terminated", "truncated")}
    return key, obs, _strong(state), reward, terminated, truncated, info


def _vector_step(env, key, state, action, params):
    """One auto-resetting transition (gymnax's same-step reset)."""
    key, key_step = jax.random.split(key)
    obs, state, reward, terminated, truncated, info = env.step(
        key_step, state, action, params
    )
    return key, obs, _strong(state), reward, terminated, truncated, info


def _renderer(env) -> Callable | None:
    """A jitted ``(state, params) -> (H, W, 3) uint8`` frame from the class's
    ``render_rgb`` method, or None when the class has none."""
    if getattr(type(env), "render_rgb", None) is None:
        return None
    return jax.jit(env.render_rgb)


class _Adapter:
    """What both adapters hold: the env, its params, its jitted functions."""

    def _adapt(self, env, params) -> tuple[gym_spaces.Space, gym_spaces.Space]:
        """Set up; returns the converted single (action, observation) spaces."""
        self._env, self._params = env, jax.device_put(params)
        self._jax_action_dtype = action_dtype(env.action_space(params))
        self._functions = _functions(env)
        self._key = self._state = None
        return (
            gymnasium_space(env.action_space(params)),
            gymnasium_space(env.observation_space(params)),
        )

    def __getstate__(self) -> dict:
        """Everything but the compiled functions, arrays as NumPy (typed keys
        as their key data), so the environment pickles and deep-copies."""
        state = dict(self.__dict__)
        del state["_functions"]
        state.pop("_farama_cache", None)  # the host copy of a state, rebuilt
        for name in ("_params", "_state"):
            state[name] = jax.device_get(state[name])
        key = state["_key"]
        state["_key"] = None if key is None else (
            np.asarray(jax.random.key_data(key)), str(jax.random.key_impl(key))
        )  # fmt: skip
        return state

    def __setstate__(self, state: dict) -> None:
        key = state.pop("_key")
        self.__dict__.update(state)
        self._params = jax.device_put(self._params)
        if self._state is not None:
            self._state = jax.device_put(self._state)
        self._key = None if key is None else jax.random.wrap_key_data(
            jnp.asarray(key[0]), impl=key[1]
        )  # fmt: skip
        self._functions = _functions(self._env)

    def _run_step(self, function, action, space):
        """Run a jitted step; returns host ``(obs, reward, term, trunc, info)``."""
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        action = to_action(action, space, self._jax_action_dtype)
        self._key, *outputs = function(self._key, self._state, action, self._params)
        self._state = outputs.pop(1)
        return jax.device_get(outputs)


class GymnasiumEnv(_Adapter, FaramaSurface, gymnasium.Env):
    """One gymnax-style environment as a ``gymnasium.Env`` (see :func:`to_gymnasium`).

    ``reset(seed=s)`` starts the key chain ``key = jax.random.key(s)``: the
    episode is reset with ``jax.random.split(key)[1]`` and each step uses the
    second half of the next split, as a typical gymnax loop does.
    ``reset()`` without a seed draws ``s`` from ``self.np_random``. There is
    no auto-reset: after ``terminated or truncated`` call ``reset``.

    A gridworld (``MiniGridEnv``) behaves as Farama MiniGrid's environment:
    ``mission`` is a string, Farama's attributes (``grid``, ``agent_pos``,
    ``gen_obs_grid()``...) are read-only views of the JAX state (see
    :class:`~jaxrl.farama_surface.FaramaSurface`), and stepping after the
    episode ended continues from where it ended (Farama's ``NoDeath``
    wrapper relies on it); other environments refuse that.

    Args:
        env: a gymnax-style environment (jaxrl's contract), e.g. from
            ``jaxrl.make``; its action space must be Discrete or Box.
        params: its params.
        render_mode: ``None`` or one of ``self.metadata["render_modes"]``.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, env, params, *, render_mode: str | None = None):
        self.action_space, self.observation_space = self._adapt(env, params)
        self._farama = has_surface(env)
        # Stepping on from an ended episode needs step_env (no auto-reset).
        self._continues = self._farama and uses_step_env(env)
        self._numeric_space = self.observation_space
        self._text_mission = has_text_mission(env, self.observation_space)
        if self._text_mission:
            self.observation_space = with_text_mission(self.observation_space)
        modes = [] if self._functions.render is None else ["rgb_array"]
        fps = getattr(type(env), "render_fps", _RENDER_FPS)
        self.metadata = {"render_modes": modes, "render_fps": fps}
        if render_mode is not None and render_mode not in modes:
            raise ValueError(
                f"render_mode={render_mode!r} is not available for {env.name}; "
                f"available: {modes + [None]}"
            )
        self.render_mode = render_mode

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode; returns ``(obs, {})``. ``options`` must be empty."""
        seed = None if seed is None else _check_seed(seed)
        super().reset(seed=seed)
        if options:
            raise ValueError(f"reset options are not supported, got {options!r}")
        if seed is None:
            seed = int(self.np_random.integers(WORD))
        key = keys_from_seeds([seed])[0]
        self._key, obs, self._state = self._functions.reset(key, self._params)
        self._ended = False
        return self._to_observation(jax.device_get(obs)), {}

    def _to_observation(self, obs):
        obs = to_numpy(obs, self._numeric_space)
        return text_mission(obs) if self._text_mission else obs

    def step(self, action):
        """Returns ``(obs, reward, terminated, truncated, info)``.

        ``obs`` is the observation the step reached, the terminal one when the
        episode ends; ``reward`` is a float, the flags bools, ``info`` the
        environment's own entries as NumPy.

        Raises:
            ValueError: ``action`` is not in ``action_space``.
            RuntimeError: ``step`` before ``reset``, or (except for a
                gridworld) after the episode ended without a new ``reset``.
        """
        if getattr(self, "_ended", False) and not self._continues:
            raise RuntimeError(
                "the episode has ended (terminated or truncated); call reset() "
                "before step()"
            )
        outputs = self._run_step(self._functions.step, action, self.action_space)
        obs, reward, terminated, truncated, info = outputs
        self._ended = bool(terminated) or bool(truncated)
        obs = self._to_observation(obs)
        return obs, float(reward), bool(terminated), bool(truncated), info

    def render(self):
        """An ``(H, W, 3)`` uint8 frame when ``render_mode="rgb_array"``."""
        if self.render_mode is None:
            gymnasium.logger.warn("render() called with render_mode=None")
            return None
        if self._state is None:
            raise RuntimeError("call reset() before render()")
        return np.asarray(self._functions.render(self._state, self._params))


class GymnasiumVectorEnv(_Adapter, VectorEnv):
    """``num_envs`` copies of an environment as a ``gymnasium.vector.VectorEnv``.

    One jitted, vmapped call steps every copy, with gymnax's same-step
    auto-reset (``metadata["autoreset_mode"]`` is ``SAME_STEP``): a finished
    copy's observation is already its next episode's first, and
    ``infos["final_obs"]`` (an object array, ``None`` where ``_final_obs`` is
    False) holds what the finished copies reached. Other info entries are the
    environment's own, batched, each with an all-True ``_name`` mask.
    ``reset(seed=s)`` seeds copy ``i`` with ``s + i``, so copy ``i`` replays
    ``GymnasiumEnv.reset(seed=s + i)``; a list gives one seed a copy.

    Args:
        env: a gymnax-style environment, e.g. from ``jaxrl.make``.
        params: its params, shared by every copy.
        num_envs: the number of copies, >= 1.
    """

    metadata: dict[str, Any] = {
        "autoreset_mode": AutoresetMode.SAME_STEP,
        "render_modes": [],
    }

    def __init__(self, env, params, num_envs: int):
        self.num_envs = _check_num_envs(num_envs)
        single = self._adapt(env, params)
        self.single_action_space, self.single_observation_space = single
        self.action_space = batch_space(single[0], self.num_envs)
        self.observation_space = batch_space(single[1], self.num_envs)

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict | None = None,
    ):
        """Reset every copy; returns batched ``(obs, {})``.

        Args:
            seed: an int ``s`` (copy ``i`` gets ``s + i``; ``self.np_random``
                is seeded with ``s``), a list of ``num_envs`` ints or ``None``
                (``None`` seeds are drawn from ``self.np_random``), or None.
            options: not supported; must be empty.
        """
        if options:
            raise ValueError(f"reset options are not supported, got {options!r}")
        if seed is None or isinstance(seed, int | np.integer):
            base = None if seed is None else _check_seed(seed)
            super().reset(seed=base)
            seeds = [None if base is None else base + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"got {len(seeds)} seeds for num_envs={self.num_envs}")
        seeds = [
            int(self.np_random.integers(WORD)) if s is None else _check_seed(s)
            for s in seeds
        ]
        keys = keys_from_seeds(seeds)
        self._key, obs, self._state = self._functions.vector_reset(keys, self._params)
        return to_numpy(jax.device_get(obs), self.observation_space), {}

    def step(self, actions):
        """Step every copy; returns batched NumPy ``(obs, rewards, terminations,
        truncations, infos)`` (rewards float32, flags bool).

        Raises:
            ValueError: ``actions`` is not in ``action_space``.
            RuntimeError: ``step`` before ``reset``.
        """
        outputs = self._run_step(
            self._functions.vector_step, actions, self.action_space
        )
        obs, rewards, terminated, truncated, info = outputs
        info = dict(info)
        final_obs = info.pop("final_observation")
        infos = {}
        for name, value in info.items():
            if name not in ("terminated", "truncated"):
                infos[name] = value
                infos[f"_{name}"] = np.ones(self.num_envs, np.bool_)
        done = np.logical_or(terminated, truncated)
        if done.any():
            infos["final_obs"] = np.full(self.num_envs, None, dtype=object)
            for i in np.flatnonzero(done):
                one = jax.tree.map(lambda x, i=i: x[i], final_obs)
                infos["final_obs"][i] = to_numpy(one, self.single_observation_space)
            infos["_final_obs"] = done
        return (
            to_numpy(obs, self.observation_space),
            rewards,
            terminated,
            truncated,
            infos,
        )
