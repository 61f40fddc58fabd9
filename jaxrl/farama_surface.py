"""Farama MiniGrid's environment surface on jaxrl's gymnasium gridworlds.

Farama's wrappers (``minigrid.wrappers``) read the environment through
``env.unwrapped``: ``grid``, ``agent_pos``, ``agent_dir``, ``carrying``,
``mission``, ``gen_obs_grid()``, ``get_frame()``... :class:`FaramaSurface`
gives :class:`~jaxrl.gymnasium_adapter.GymnasiumEnv` those attributes for
jaxrl's gridworlds (any ``MiniGridEnv``), read from the current JAX state:
the state is fetched to the host once per step, on first access, and the
attributes computed from it. The grid and objects are real ``minigrid``
objects (:mod:`jaxrl.farama_grid`), so Farama's own methods
(``gen_obs_grid``, ``agent_sees``, ``get_frame``, ``pprint_grid``...) run on
them unchanged; those need ``pip install 'jaxrl[farama]'`` (minigrid).
Task attributes the level holds are there too (:data:`TASK_ATTRIBUTES`:
Fetch's ``targetType``, GoToDoor's ``target_pos``, Memory's
``success_pos``...), and the start settings of the Farama environments
that take them (``agent_start_pos``, ``agent_start_dir``).

Everything is read-only: the JAX state is the truth, and a change made on a
copy of it would be lost at the next step. Setting an attribute, ``grid.set``
or changing an object raises :class:`ReadOnlyViewError`.
"""

import functools
from typing import Any

import jax
import numpy as np
from gymnasium import spaces as gym_spaces

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import missions

# Farama's rendering defaults (MiniGridEnv's highlight, tile_size, agent_pov).
_FARAMA_TILE_SIZE = 32


class ReadOnlyViewError(AttributeError):
    """A change through the Farama surface, which is a read-only view."""


def read_only_message(name: str) -> str:
    return (
        f"{name} is read-only: it is a view of the JAX state, which is the truth. "
        "Change the episode by stepping the environment, or start from another "
        "level (jaxrl.envs.gridworld.TextLevels, or from_minigrid on a Farama "
        "environment); grid.copy() gives a mutable Farama Grid."
    )


def _farama_grid():
    """:mod:`jaxrl.farama_grid`, or an ImportError naming the install."""
    try:
        from jaxrl import farama_grid
    except ImportError as error:
        if error.name is None or not error.name.startswith(("minigrid", "pygame")):
            raise
        raise ImportError(
            "this Farama MiniGrid attribute builds minigrid objects: "
            "pip install 'jaxrl[farama]' (Farama's minigrid)"
        ) from error
    return farama_grid


def has_surface(env) -> bool:
    """Whether a JAX environment gets the Farama surface: a gridworld
    (``MiniGridEnv``) itself, not a wrapper around one (whose state differs)."""
    from jaxrl.envs.gridworld.core import MiniGridEnv

    return isinstance(env, MiniGridEnv)


def has_text_mission(env, space: gym_spaces.Space) -> bool:
    """Whether a gymnasium observation ``space`` of ``env`` (a gridworld,
    wrapped or not) carries a mission index to show as Farama's string."""
    from jaxrl.envs.gridworld.core import MiniGridEnv

    inner = getattr(env, "unwrapped", env)
    mission = getattr(space, "spaces", {}).get("mission")
    return (
        isinstance(inner, MiniGridEnv)
        and isinstance(mission, gym_spaces.Discrete)
        and mission.n == missions.NUM_MISSIONS
    )


def mission_space() -> gym_spaces.Text:
    """The gymnasium space of every mission string (Farama's ``MissionSpace``
    is a ``Space[str]`` too; ``Text`` needs no minigrid).

    WARN: ``Text`` numbers its characters in the order it iterates the
    charset, and a set's order changes between processes (string hashing),
    so the charset is given sorted: a seeded ``sample()`` and ``flatten``'s
    numbers are then the same in every process (a worker's and its parent's).
    gymnasium's ``AsyncVectorEnv`` reads a ``Text`` from shared memory only
    once, so a mission needs ``shared_memory=False`` there (Farama's
    ``MissionSpace`` has no shared memory at all)."""
    return gym_spaces.Text(
        missions.MAX_MISSION_LENGTH,
        min_length=0,
        charset="".join(sorted(missions.MISSION_CHARSET)),
    )


def with_text_mission(space: gym_spaces.Dict) -> gym_spaces.Dict:
    """``space`` with its ``"mission"`` a :func:`mission_space`."""
    return gym_spaces.Dict({**space.spaces, "mission": mission_space()})


def text_mission(obs: dict) -> dict:
    """A NumPy observation with its mission index replaced by the string."""
    return {**obs, "mission": missions.mission_text(obs["mission"])}


class _HostState:
    """One state on the host and the Farama attributes computed from it."""

    def __init__(self, state):
        host = jax.device_get(state)
        self.cells = np.asarray(host.grid, np.uint8)
        self.agent_pos = tuple(int(v) for v in host.agent_pos)
        self.agent_dir = int(host.agent_dir)
        self.carried = np.asarray(host.carrying, np.uint8)
        self.mission = missions.mission_text(host.mission)
        self.step_count = int(host.time)
        self.marks = [tuple(int(v) for v in cell) for cell in host.marks]
        # row-major, as Farama's grid.grid lists cells
        rows, columns = np.nonzero(self.cells[..., 0].T == C.GOAL)
        self.goal_pos = (int(columns[0]), int(rows[0])) if len(rows) else None

    @functools.cached_property
    def grid(self):
        return _farama_grid().ViewGrid(self.cells)

    @functools.cached_property
    def carrying(self):
        return _farama_grid().make_object(self.carried, np.array([-1, -1]))


def _refuser(name: str):
    def refuse(self, *value):
        raise ReadOnlyViewError(read_only_message(name))

    return refuse


_NOT_RESET = object()  # a state attribute with no value before the first reset


def _none(env) -> None:
    del env


def _empty_grid(env):
    """Farama's grid before the first reset: ``Grid(width, height)``, empty."""
    cells = np.zeros((env.width, env.height, 3), np.uint8)
    cells[..., 0] = C.EMPTY
    return _farama_grid().ViewGrid(cells)


def _state_property(name: str, doc: str, before_reset: Any = _NOT_RESET) -> property:
    """A state attribute; ``before_reset(env)`` gives its value before the
    first reset (Farama's ``MiniGridEnv.__init__`` value), else reading it
    then raises."""

    def get(self):
        if before_reset is not _NOT_RESET and self.__dict__.get("_state") is None:
            env, _ = self._farama_env(name)  # only gridworlds have the surface
            return before_reset(env)
        return getattr(self._farama_host(name), name)

    return property(get, _refuser(name), _refuser(name), doc)


def _static_property(name: str, read, doc: str) -> property:
    def get(self):
        env, params = self._farama_env(name)
        return read(env, params)

    return property(get, _refuser(name), _refuser(name), doc)


def _goal_property(name: str) -> property:
    def get(self):
        goal = self._farama_host(name).goal_pos
        if goal is None:
            raise AttributeError(f"{name}: this level has no goal")
        return goal

    doc = (
        "The goal's cell (the first in row-major order): Farama's DistShift, "
        "LavaGap and MultiRoom call it ``goal_pos``, Crossing "
        "``goal_position``. AttributeError when the level has no goal."
    )
    return property(get, _refuser(name), _refuser(name), doc)


def _word(index: int):
    return lambda host: host.mission.split()[index]


def _mark(index: int):
    return lambda host: host.marks[index]


# Farama's task attributes that the level holds: name -> (the task classes
# of jaxrl.envs.gridworld that have it, how to read it from a host state).
# Words come from the mission ("put the blue key near the purple box"),
# cells from the marks (the task's target, Memory's two ends).
TASK_ATTRIBUTES = {
    "targetType": (("GoToObject", "Fetch"), _word(-1)),
    "targetColor": (("Fetch",), _word(-2)),
    "target_color": (("GoToDoor", "GoToObject", "PutNear"), _word(-2)),
    "target_type": (("PutNear",), _word(-1)),
    "target_pos": (("GoToDoor", "GoToObject", "PutNear"), _mark(0)),
    "move_pos": (("PutNear",), _mark(1)),
    "moveColor": (("PutNear",), _word(2)),
    "move_type": (("PutNear",), _word(3)),
    "success_pos": (("Memory",), _mark(0)),
    "failure_pos": (("Memory",), _mark(1)),
}


def _task_class(name: str) -> type:
    from jaxrl.envs.gridworld import instructions, memory

    return memory.Memory if name == "Memory" else getattr(instructions, name)


def _task_property(name: str) -> property:
    classes, read = TASK_ATTRIBUTES[name]

    def get(self):
        env, _ = self._farama_env(name)
        kinds = tuple(_task_class(c) for c in classes)
        task = getattr(env, "task", None) or env  # a converted level's rules
        if not isinstance(task, kinds):
            raise AttributeError(
                f"{name}: only {', '.join(classes)} have it, not {type(task).__name__}"
            )
        return read(self._farama_host(name))

    doc = f"Farama's ``{name}`` ({', '.join(classes)}), from the level."
    return property(get, _refuser(name), _refuser(name), doc)


def _start_classes() -> tuple[type, ...]:
    from jaxrl.envs.gridworld import lava, obstacles, tasks

    return tasks.Empty, lava.DistShift, obstacles.DynamicObstacles


def _agent_start(env, params, name: str) -> tuple:
    """``(agent_start_pos, agent_start_dir)`` as Farama's EmptyEnv,
    DistShiftEnv and DynamicObstaclesEnv hold them: the fixed start, or
    ``None`` for the position of a random start (whose ``agent_start_dir``
    Farama leaves at its default, 0, unused)."""
    classes = _start_classes()
    if not isinstance(env, classes):
        raise AttributeError(
            f"{name}: only {', '.join(c.__name__ for c in classes)} have it, "
            f"not {type(env).__name__}"
        )
    if getattr(env, "random_start", False):
        return None, 0
    # a fixed start: the level's own, from any key
    level = env.generate(jax.random.key(0), params)
    return tuple(int(v) for v in np.asarray(level.agent_pos)), int(level.agent_dir)


def _start_property(name: str, index: int, doc: str) -> property:
    def get(self):
        env, params = self._farama_env(name)
        return _agent_start(env, params, name)[index]

    return property(get, _refuser(name), _refuser(name), doc)


def _farama_method(name: str):
    """Farama's own ``MiniGridEnv.<name>``, run on this surface."""

    def method(self, *args, **kwargs):
        self._farama_env(name)  # only gridworlds have the surface
        return getattr(_farama_grid().FaramaEnv, name)(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"Farama's ``MiniGridEnv.{name}``, on the current JAX state."
    return method


class FaramaSurface:
    """Farama ``MiniGridEnv``'s attributes, read-only, from the JAX state.

    The host class provides ``_env``, ``_params`` and ``_state`` (None before
    the first reset). For an environment without the surface (gymnax's, or a
    wrapped gridworld) every attribute raises ``AttributeError``, so
    ``hasattr`` reports it absent.
    """

    def _farama_env(self, name: str) -> tuple[Any, Any]:
        env = self.__dict__.get("_env")
        if env is None or not has_surface(env):
            raise AttributeError(
                f"{name}: only jaxrl's gridworlds (MiniGridEnv, not wrapped) have "
                f"Farama MiniGrid's attributes, not {type(env).__name__}"
            )
        return env, self._params

    def _farama_host(self, name: str) -> _HostState:
        self._farama_env(name)
        state = self.__dict__.get("_state")
        if state is None:
            raise RuntimeError(f"call reset() before reading {name}")
        cached = self.__dict__.get("_farama_cache")
        if cached is None or cached[0] is not state:
            cached = (state, _HostState(state))
            self.__dict__["_farama_cache"] = cached  # holds state: ids stay unique
        return cached[1]

    width = _static_property("width", lambda e, p: e.width, "Grid width (cells).")
    height = _static_property("height", lambda e, p: e.height, "Grid height.")
    agent_view_size = _static_property(
        "agent_view_size", lambda e, p: e.view_size, "Side of the agent's view."
    )
    see_through_walls = _static_property(
        "see_through_walls", lambda e, p: bool(e.see_through_walls), "No occlusion."
    )
    max_steps = _static_property(
        "max_steps",
        lambda e, p: int(p.max_steps_in_episode),
        "The step limit (params.max_steps_in_episode).",
    )
    highlight = _static_property(
        "highlight", lambda e, p: True, "Farama's default: the view is highlighted."
    )
    tile_size = _static_property(
        "tile_size", lambda e, p: _FARAMA_TILE_SIZE, "Farama's default tile pixels."
    )
    agent_pov = _static_property(
        "agent_pov", lambda e, p: False, "Farama's default: render the whole grid."
    )
    actions = _static_property(
        "actions", lambda e, p: _farama_grid().Actions, "Farama's ``Actions`` enum."
    )

    # Before the first reset, as in Farama: no agent (its pprint_grid then
    # raises Farama's ValueError), nothing carried, an empty grid.
    agent_pos = _state_property("agent_pos", "``(x, y)`` Python ints.", _none)
    agent_dir = _state_property("agent_dir", "0 right, 1 down, 2 left, 3 up.", _none)
    mission = _state_property("mission", "The mission string.")
    step_count = _state_property("step_count", "Steps taken this episode.")
    grid = _state_property(
        "grid", "A read-only Farama ``Grid`` (needs minigrid).", _empty_grid
    )
    carrying = _state_property("carrying", "The carried Farama object, or None.", _none)

    agent_start_pos = _start_property(
        "agent_start_pos", 0, "Empty's, DistShift's and Dynamic-Obstacles' "
        "fixed start ``(x, y)``; None when the start is random."
    )  # fmt: skip
    agent_start_dir = _start_property(
        "agent_start_dir", 1, "Their fixed start direction (Farama's 0 when "
        "the start is random)."
    )  # fmt: skip

    goal_pos = _goal_property("goal_pos")
    goal_position = _goal_property("goal_position")

    targetType = _task_property("targetType")  # noqa: N815  (Farama's names)
    targetColor = _task_property("targetColor")  # noqa: N815
    target_color = _task_property("target_color")
    target_type = _task_property("target_type")
    target_pos = _task_property("target_pos")
    move_pos = _task_property("move_pos")
    moveColor = _task_property("moveColor")  # noqa: N815
    move_type = _task_property("move_type")
    success_pos = _task_property("success_pos")
    failure_pos = _task_property("failure_pos")

    @property
    def dir_vec(self) -> np.ndarray:
        """``(dx, dy)`` of the agent's direction."""
        return np.array(C.DIR_TO_VEC[self.agent_dir], np.int64)

    @property
    def right_vec(self) -> np.ndarray:
        """``(dx, dy)`` pointing to the agent's right."""
        dx, dy = self.dir_vec
        return np.array((-dy, dx))

    @property
    def front_pos(self) -> np.ndarray:
        """The cell in front of the agent."""
        return self.agent_pos + self.dir_vec

    @property
    def steps_remaining(self) -> int:
        return self.max_steps - self.step_count

    get_view_coords = _farama_method("get_view_coords")
    get_view_exts = _farama_method("get_view_exts")
    relative_coords = _farama_method("relative_coords")
    in_view = _farama_method("in_view")
    agent_sees = _farama_method("agent_sees")
    gen_obs_grid = _farama_method("gen_obs_grid")
    gen_obs = _farama_method("gen_obs")
    get_pov_render = _farama_method("get_pov_render")
    get_full_render = _farama_method("get_full_render")
    get_frame = _farama_method("get_frame")
    pprint_grid = _farama_method("pprint_grid")
    hash = _farama_method("hash")
