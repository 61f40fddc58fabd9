"""Bring a Farama MiniGrid level into jaxrl."""

import jax.numpy as jnp
import numpy as np

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import door_tasks as D
from jaxrl.envs.gridworld import instructions as I
from jaxrl.envs.gridworld import missions
from jaxrl.envs.gridworld import room_tasks as R
from jaxrl.envs.gridworld.core import GridState, Level
from jaxrl.envs.gridworld.memory import Memory
from jaxrl.envs.gridworld.obstacles import DynamicObstacles
from jaxrl.envs.gridworld.obstructed_maze import ObstructedMaze
from jaxrl.envs.gridworld.text_levels import LevelSetParams, TextLevels


def _no_marks(farama) -> list:
    del farama
    return []


# Farama class name -> (our task with the same rules, the cells they mark).
# Tasks that use only the base rules (goal and lava) need no entry.
_TASKS = {
    "UnlockEnv": (lambda f, v: R.Unlock(v), lambda f: [f.door.cur_pos]),
    "UnlockPickupEnv": (lambda f, v: R.UnlockPickup(v), _no_marks),
    "BlockedUnlockPickupEnv": (lambda f, v: R.BlockedUnlockPickup(v), _no_marks),
    "KeyCorridorEnv": (
        lambda f, v: R.KeyCorridor(f.room_size, f.num_rows, v),
        _no_marks,
    ),
    "GoToDoorEnv": (lambda f, v: I.GoToDoor(f.size, v), lambda f: [f.target_pos]),
    "GoToObjectEnv": (
        lambda f, v: I.GoToObject(f.size, f.numObjs, v),
        lambda f: [f.target_pos],
    ),
    "FetchEnv": (lambda f, v: I.Fetch(f.size, f.numObjs, v), _no_marks),
    "PutNearEnv": (
        lambda f, v: I.PutNear(f.size, f.numObjs, v),
        lambda f: [f.target_pos, f.move_pos],
    ),
    "RedBlueDoorEnv": (
        lambda f, v: D.RedBlueDoors(f.size, v),
        lambda f: [_find(f, "door", "red"), _find(f, "door", "blue")],
    ),
    "MemoryEnv": (
        lambda f, v: Memory(f.size, f.random_length, v),
        lambda f: [f.success_pos, f.failure_pos],
    ),
    "ObstructedMaze_1Dlhb": (lambda f, v: _maze(f, v, "1D"), _no_marks),
    "ObstructedMaze_Full": (lambda f, v: _maze(f, v, "full"), _no_marks),
    "ObstructedMaze_Full_V1": (lambda f, v: _maze(f, v, "full", 1), _no_marks),
    "DynamicObstaclesEnv": (
        lambda f, v: DynamicObstacles(f.width, len(f.obstacles), view_size=v),
        lambda f: [o.cur_pos for o in f.obstacles],
    ),
}


def _maze(farama, view_size: int, layout: str, version: int = 0) -> ObstructedMaze:
    """Only the pickup rule matters once converted; layout sets the shape."""
    return ObstructedMaze(layout, (0, 0), version=version, view_size=view_size)


def _find(farama, kind: str, color: str) -> tuple[int, int]:
    """The cell of the only object of ``kind`` and ``color`` in the grid."""
    grid = farama.grid
    for index, obj in enumerate(grid.grid):
        if obj is not None and obj.type == kind and obj.color == color:
            return index % grid.width, index // grid.width
    raise ValueError(f"no {color} {kind} in the grid")


def from_minigrid(minigrid_env) -> tuple[TextLevels, LevelSetParams, GridState]:
    """Convert a reset Farama MiniGrid environment into ``(env, params, state)``.

    ``state`` is the Farama episode as it stands (grid, agent, carried object,
    step count, mission), so stepping it here replays Farama step for step.
    ``env`` plays that level with the task's own rules (Unlock's door, Fetch's
    target...): its reset returns to the level as converted (with the step
    count at 0 and nothing carried), not to a new sample of the task.

    Args:
        minigrid_env: a ``minigrid`` environment after ``reset()``, wrapped
            or not.

    Raises:
        TypeError: it is not a MiniGrid environment, or has not been reset.
    """
    farama = getattr(minigrid_env, "unwrapped", minigrid_env)
    if not hasattr(farama, "grid") or not hasattr(farama, "agent_pos"):
        raise TypeError(
            f"expected a minigrid MiniGridEnv, got {type(minigrid_env).__name__}"
        )
    if farama.agent_pos is None or farama.grid is None:
        raise TypeError("the MiniGrid environment has not been reset yet")
    grid = encode_grid(farama.grid)
    pos = np.asarray(farama.agent_pos, np.int32)
    direction = np.int32(farama.agent_dir)
    view_size = int(farama.agent_view_size)
    make_task, marks_of = _TASKS.get(type(farama).__name__, (None, _no_marks))
    task = None if make_task is None else make_task(farama, view_size)
    marks = np.asarray(marks_of(farama), np.int32).reshape(-1, 2)
    mission = np.int32(missions.mission_id(farama.mission))
    env = TextLevels(
        Level(grid, pos, direction, mission, marks),
        max_steps=int(farama.max_steps),
        view_size=view_size,
        see_through_walls=bool(farama.see_through_walls),
        task=task,
    )
    state = GridState(
        time=jnp.int32(farama.step_count),
        grid=jnp.asarray(grid),
        agent_pos=jnp.asarray(pos),
        agent_dir=jnp.asarray(direction),
        carrying=jnp.asarray(encode_object(farama.carrying), jnp.uint8),
        mission=jnp.asarray(mission),
        marks=jnp.asarray(marks),
    )
    return env, env.default_params, state


def encode_object(obj) -> tuple[int, int, int]:
    """Our encoding of a Farama world object (or ``None``): Farama's, except
    that a box's state byte holds what the box contains."""
    if obj is None:
        return C.EMPTY_CELL
    if obj.type == "box":
        inside = obj.contains
        contents = None if inside is None else encode_object(inside)[:2]
        return C.box_cell(C.COLOR_NAMES.index(obj.color), contents)
    return tuple(int(v) for v in obj.encode())


def encode_grid(farama_grid) -> np.ndarray:
    """``(W, H, 3)`` uint8 of a Farama ``Grid`` in our encoding."""
    grid = np.asarray(farama_grid.encode(), np.uint8)
    for index, obj in enumerate(farama_grid.grid):
        if obj is not None and obj.type == "box":
            x, y = index % farama_grid.width, index // farama_grid.width
            grid[x, y] = encode_object(obj)
    return grid
