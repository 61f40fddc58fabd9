"""Farama tasks that cross a room past lava or walls: LavaGap, the Lava and
Simple crossings, and DistShift. All use the base rules: the goal ends the
episode with ``1 - 0.9 * t / T``, lava ends it with 0."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import levels as L
from jaxrl.envs.gridworld import missions as M
from jaxrl.envs.gridworld.core import GridParams, Level, MiniGridEnv
from jaxrl.envs.gridworld.tasks import _check_size

_LAVA_CELL = (C.LAVA, C.RED, 0)
_OBSTACLES = {
    "lava": (_LAVA_CELL, "avoid the lava and get to the green goal square"),
    "wall": (C.WALL_CELL, "find the opening and get to the green goal square"),
}
_START = np.array([1, 1], np.int32)  # NumPy: no JAX work at import time


def _check_obstacle(obstacle) -> None:
    if obstacle not in _OBSTACLES:
        allowed = sorted(_OBSTACLES)
        raise ValueError(f"obstacle must be one of {allowed}, got {obstacle!r}")


class LavaGap(MiniGridEnv):
    """Cross a column of lava (or wall) through its single gap to the goal.

    Farama's ``LavaGapEnv``: the agent at ``(1, 1)`` facing right, the goal at
    ``(size - 2, size - 2)``, an obstacle column at a uniform ``x`` in
    ``[2, size - 2)`` with one gap at a uniform ``y`` in ``[1, size - 1)``.
    Step limit ``4 * size**2``.
    """

    def __init__(
        self,
        size: int = 5,
        obstacle: str = "lava",
        view_size: int = 7,
        see_through_walls: bool = False,
    ):
        _check_size(size, 5)
        _check_obstacle(obstacle)
        super().__init__(size, size, 4 * size * size, view_size, see_through_walls)
        self.size = size
        self.obstacle = obstacle  # static

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        n = self.size
        cell, mission = _OBSTACLES[self.obstacle]
        w_x, w_y = L.random_words(key, 2)
        gap_x, gap_y = 2 + L.below(w_x, n - 4), 1 + L.below(w_y, n - 2)
        xs, ys = L.cell_coords(n, n)
        grid = jnp.asarray(L.walled_room(n, n))
        column = (xs == gap_x) & (ys >= 1) & (ys <= n - 2) & (ys != gap_y)
        grid = L.paint(grid, column, cell)
        grid = L.put(grid, jnp.array([n - 2, n - 2], jnp.int32), C.GOAL_CELL)
        return Level(grid, _START, jnp.int32(0), M.fixed(mission))


class Crossing(MiniGridEnv):
    """Cross rivers of lava (or walls) through their openings to the goal.

    Farama's ``CrossingEnv``: ``num_crossings`` rivers chosen uniformly without
    replacement among the horizontal rows and vertical columns at even
    coordinates ``2, 4, ..., size - 3``; one path of openings from the top-left
    room to the bottom-right one, its order of horizontal and vertical steps a
    uniform shuffle, each opening at a uniform place along its river segment.
    The agent at ``(1, 1)`` facing right, the goal at ``(size - 2, size - 2)``.
    Step limit ``4 * size**2``.
    """

    def __init__(
        self,
        size: int = 9,
        num_crossings: int = 1,
        obstacle: str = "lava",
        view_size: int = 7,
        see_through_walls: bool = False,
    ):
        _check_size(size, 5)
        if size % 2 == 0:
            raise ValueError(f"size must be odd, got {size}")
        _check_obstacle(obstacle)
        max_rivers = 2 * len(range(2, size - 2, 2))
        if not isinstance(num_crossings, int) or not 1 <= num_crossings <= max_rivers:
            raise ValueError(
                f"num_crossings must be an int in [1, {max_rivers}] for size {size}, "
                f"got {num_crossings!r}"
            )
        super().__init__(size, size, 4 * size * size, view_size, see_through_walls)
        self.size = size
        self.num_crossings = num_crossings  # static
        self.obstacle = obstacle  # static

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        n, k = self.size, self.num_crossings
        cell, mission = _OBSTACLES[self.obstacle]
        places = jnp.arange(2, n - 2, 2, dtype=jnp.int32)  # (P,) river coords
        num_places = places.shape[0]
        words = L.random_words(key, 2 * num_places + 2 * k)
        # Rivers: candidates 0..P-1 are columns (x), P..2P-1 rows (y).
        chosen = jnp.argsort(words[: 2 * num_places])[:k]
        is_chosen = jnp.zeros(2 * num_places, bool).at[chosen].set(True)
        columns, rows = is_chosen[:num_places], is_chosen[num_places:]
        xs, ys = L.cell_coords(n, n)
        on_column = jnp.any((xs[..., None] == places) & columns, axis=-1)
        on_row = jnp.any((ys[..., None] == places) & rows, axis=-1)
        inside = (xs >= 1) & (xs <= n - 2) & (ys >= 1) & (ys <= n - 2)
        grid = jnp.asarray(L.walled_room(n, n))
        grid = L.paint(grid, (on_column | on_row) & inside, cell)
        grid = L.put(grid, jnp.array([n - 2, n - 2], jnp.int32), C.GOAL_CELL)
        # The path: as many rightward steps as columns, downward as rows, in a
        # uniform order; a rightward step opens the next column within the
        # current band of rows, and vice versa.
        num_columns = jnp.sum(columns, dtype=jnp.int32)
        order = jnp.argsort(words[2 * num_places : 2 * num_places + k])
        rightward = order < num_columns
        column_limits = _limits(places, columns, n - 1)
        row_limits = _limits(places, rows, n - 1)
        room_x = room_y = jnp.int32(0)
        for step in range(k):
            word = words[2 * num_places + k + step]
            right = rightward[step]
            x_low, x_high = column_limits[room_x] + 1, column_limits[room_x + 1]
            y_low, y_high = row_limits[room_y] + 1, row_limits[room_y + 1]
            along_y = y_low + L.below(word, jnp.maximum(y_high - y_low, 1))
            along_x = x_low + L.below(word, jnp.maximum(x_high - x_low, 1))
            x = jnp.where(right, column_limits[room_x + 1], along_x)
            y = jnp.where(right, along_y, row_limits[room_y + 1])
            grid = L.put(grid, jnp.stack([x, y]), C.EMPTY_CELL)
            room_x += right.astype(jnp.int32)
            room_y += (~right).astype(jnp.int32)
        return Level(grid, _START, jnp.int32(0), M.fixed(mission))


def _limits(places: jax.Array, chosen: jax.Array, end: int) -> jax.Array:
    """``(P + 2,)`` int32: 0, the chosen places in order, then ``end``
    (repeated to fill); Farama's ``[0] + sorted(rivers) + [size - 1]``."""
    big = jnp.int32(end)
    ordered = jnp.sort(jnp.where(chosen, places, big))
    return jnp.concatenate([jnp.zeros(1, jnp.int32), ordered, big[None]])


class DistShift(MiniGridEnv):
    """Walk past two strips of lava to the goal (a test of distribution shift:
    DistShift1 and DistShift2 move the second strip).

    Farama's ``DistShiftEnv``: a 9x7 room, the goal at ``(7, 1)``, lava on row 1
    and on row ``strip2_row`` for ``x`` in ``[3, 6)``, the agent at ``(1, 1)``
    facing right. Walls do not block the view (``see_through_walls=True`` as
    in Farama). Step limit ``4 * 9 * 7``.
    """

    def __init__(
        self,
        strip2_row: int = 2,
        width: int = 9,
        height: int = 7,
        view_size: int = 7,
        see_through_walls: bool = True,
    ):
        if not isinstance(strip2_row, int) or not 1 <= strip2_row <= height - 2:
            raise ValueError(
                f"strip2_row must be an int in [1, {height - 2}], got {strip2_row!r}"
            )
        max_steps = 4 * width * height
        super().__init__(width, height, max_steps, view_size, see_through_walls)
        self.strip2_row = strip2_row  # static

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del key, params
        w, h = self.width, self.height
        xs, ys = L.cell_coords(w, h)
        strips = (xs >= 3) & (xs < w - 3) & ((ys == 1) | (ys == self.strip2_row))
        grid = jnp.asarray(L.walled_room(w, h))
        grid = L.paint(grid, strips, _LAVA_CELL)
        grid = L.put(grid, jnp.array([w - 2, 1], jnp.int32), C.GOAL_CELL)
        mission = M.fixed("get to the green goal square")
        return Level(grid, _START, jnp.int32(0), mission)
