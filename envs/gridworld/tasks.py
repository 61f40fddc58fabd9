"""Farama MiniGrid tasks: Empty, Empty-Random, FourRooms and DoorKey.

Each class samples levels from the same distribution as the Farama
environment of the same name (``minigrid.envs``), and uses Farama's step
limit as its default ``max_steps_in_episode``.
"""

from numbers import Integral

import jax
import jax.numpy as jnp

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import levels as L
from jaxrl.envs.gridworld import missions as M
from jaxrl.envs.gridworld.core import GridParams, Level, MiniGridEnv


def _check_size(size, minimum: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < minimum:
        raise ValueError(f"size must be an int >= {minimum}, got {size!r}")


def _check_cell(name: str, cell, size: int) -> tuple[int, int] | None:
    """``cell`` as a tuple of two ints inside a ``size x size`` grid, or None."""
    if cell is None:
        return None
    values = tuple(cell) if isinstance(cell, tuple | list) else ()
    ints = all(isinstance(v, Integral) and not isinstance(v, bool) for v in values)
    if len(values) != 2 or not ints or not all(0 <= v < size for v in values):
        raise ValueError(
            f"{name} must be None or (x, y) ints in [0, {size}), got {cell!r}"
        )
    return int(values[0]), int(values[1])


class Empty(MiniGridEnv):
    """An empty room with the goal in the bottom-right corner.

    Farama's ``EmptyEnv``: walls around a ``size x size`` grid, the goal at
    ``(size - 2, size - 2)``, the agent at ``(1, 1)`` facing right, or, with
    ``random_start``, on a uniformly chosen empty cell facing a random
    direction. Step limit ``4 * size**2``. As in Farama, walls do not block
    the view here (``see_through_walls=True``). Sparse reward; see
    :class:`MiniGridEnv` for observation, action, reward and termination.

    Example::

        env, params = jaxrl.make("Empty-8x8")
        obs, state = env.reset(jax.random.key(0), params)
        obs, state, reward, term, trunc, info = env.step(key, state, 2, params)
    """

    def __init__(
        self,
        size: int = 8,
        random_start: bool = False,
        view_size: int = 7,
        see_through_walls: bool = True,
    ):
        _check_size(size, 3)
        super().__init__(size, size, 4 * size * size, view_size, see_through_walls)
        self.size = size
        self.random_start = random_start  # static

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        grid = jnp.asarray(L.walled_room(self.size, self.size))
        goal = jnp.array([self.size - 2, self.size - 2], jnp.int32)
        grid = L.put(grid, goal, C.GOAL_CELL)
        mission = M.fixed("get to the green goal square")
        if not self.random_start:
            return Level(grid, jnp.array([1, 1], jnp.int32), jnp.int32(0), mission)
        w_pos, w_dir = L.random_words(key, 2)
        agent_pos = L.sample_cell(w_pos, L.free_cells(grid))
        return Level(grid, agent_pos, L.random_direction(w_dir), mission)


class FourRooms(MiniGridEnv):
    """Four rooms joined by one gap in each inner wall; the goal and agent are
    placed uniformly at random.

    Farama's ``FourRoomsEnv``: a 19x19 grid split by a cross of walls, each of
    the four wall segments with a gap at a uniform position, the agent on a
    uniform empty cell facing a random direction, the goal on a uniform empty
    cell. Step limit 100.

    As Farama's ``agent_pos`` and ``goal_pos``, a fixed ``(x, y)`` start (its
    cell is cleared, the direction stays random) or goal (written over the
    cell) replaces the random one.
    """

    def __init__(
        self,
        size: int = 19,
        view_size: int = 7,
        see_through_walls: bool = False,
        agent_pos: tuple[int, int] | None = None,
        goal_pos: tuple[int, int] | None = None,
    ):
        _check_size(size, 7)
        super().__init__(size, size, 100, view_size, see_through_walls)
        self.size = size
        self.agent_pos = _check_cell("agent_pos", agent_pos, size)  # static
        self.goal_pos = _check_cell("goal_pos", goal_pos, size)  # static

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        n, half = self.size, self.size // 2
        words = L.random_words(key, 7)
        w_gaps, w_agent, w_dir, w_goal = words[:4], words[4], words[5], words[6]
        # Gap positions along each half-wall: x=half at y in [1, half) and
        # [half+1, 2*half); y=half at x in [1, half) and [half+1, 2*half).
        lows = jnp.array([1, 1, half + 1, half + 1], jnp.int32)
        highs = jnp.array([half, half, 2 * half, 2 * half], jnp.int32)
        gaps = lows + L.below(w_gaps, highs - lows)
        xs, ys = L.cell_coords(n, n)
        walls = ((xs == half) & (ys < 2 * half)) | ((ys == half) & (xs < 2 * half))
        is_gap = ((xs == half) & ((ys == gaps[0]) | (ys == gaps[3]))) | (
            (ys == half) & ((xs == gaps[1]) | (xs == gaps[2]))
        )
        grid = jnp.asarray(L.walled_room(n, n))
        grid = L.paint(grid, walls & ~is_gap, C.WALL_CELL)
        if self.agent_pos is None:
            agent_pos = L.sample_cell(w_agent, L.free_cells(grid))
        else:
            agent_pos = jnp.array(self.agent_pos, jnp.int32)
            grid = L.put(grid, agent_pos, C.EMPTY_CELL)
        if self.goal_pos is None:
            free = L.free_cells(grid, L.not_at(agent_pos, n, n))
            goal = L.sample_cell(w_goal, free)
        else:
            goal = jnp.array(self.goal_pos, jnp.int32)
        grid = L.put(grid, goal, C.GOAL_CELL)
        mission = M.fixed("reach the goal")
        return Level(grid, agent_pos, L.random_direction(w_dir), mission)


class DoorKey(MiniGridEnv):
    """Pick up the key, unlock the door, reach the goal.

    Farama's ``DoorKeyEnv``: a wall at a uniform column ``split`` in
    ``[2, size - 3]`` with a locked yellow door at a uniform row in
    ``[1, size - 3]``; the agent (random direction) and then the yellow key
    on uniform empty cells left of the wall; the goal at
    ``(size - 2, size - 2)``. Step limit ``10 * size**2``.
    """

    def __init__(
        self, size: int = 8, view_size: int = 7, see_through_walls: bool = False
    ):
        _check_size(size, 5)
        super().__init__(size, size, 10 * size * size, view_size, see_through_walls)
        self.size = size

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        n = self.size
        w_split, w_door, w_agent, w_dir, w_key = L.random_words(key, 5)
        split = 2 + L.below(w_split, n - 4)
        door_y = 1 + L.below(w_door, n - 3)
        xs, ys = L.cell_coords(n, n)
        grid = jnp.asarray(L.walled_room(n, n))
        grid = L.put(grid, jnp.array([n - 2, n - 2], jnp.int32), C.GOAL_CELL)
        grid = L.paint(grid, (xs == split) & (ys >= 0), C.WALL_CELL)
        left = (xs < split) & (ys >= 0)
        agent_pos = L.sample_cell(w_agent, L.free_cells(grid, left))
        grid = L.put(grid, jnp.stack([split, door_y]), (C.DOOR, C.YELLOW, C.LOCKED))
        key_region = left & L.not_at(agent_pos, n, n)
        key_pos = L.sample_cell(w_key, L.free_cells(grid, key_region))
        grid = L.put(grid, key_pos, (C.KEY, C.YELLOW, 0))
        mission = M.fixed("use the key to open the door and then get to the goal")
        return Level(grid, agent_pos, L.random_direction(w_dir), mission)
