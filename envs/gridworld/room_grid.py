"""Grids of square rooms joined by doors: Farama's ``RoomGrid`` in JAX.

Rooms are indexed ``(col, row)`` as in Farama (``get_room(i, j)``). Walls are
shared: room ``(i, j)`` spans cells ``[i * (S - 1), i * (S - 1) + S)`` in x and
likewise in y, for room size ``S``. Each room has one candidate door position
per wall (0 right, 1 down, 2 left, 3 up), drawn uniformly along the wall and
shared with the neighbour; :meth:`RoomGrid.add_door` places a door there.

Farama's rejection samplers are reproduced by their distributions:
``place_in_room`` is uniform over the room's free cells at Manhattan distance
>= 2 from the agent's provisional position (the middle room's centre, as
Farama sets it before placing objects), and ``place_agent`` is uniform over
(cell, direction) pairs whose front cell is empty or a wall.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import levels as L

# Neighbour offsets (dcol, drow) per wall index: right, down, left, up.
_WALL_STEP = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], np.int32)


@dataclasses.dataclass(frozen=True)
class RoomGrid:
    """Static shape of a grid of ``num_cols x num_rows`` rooms of ``room_size``."""

    room_size: int
    num_rows: int
    num_cols: int

    @property
    def width(self) -> int:
        return (self.room_size - 1) * self.num_cols + 1

    @property
    def height(self) -> int:
        return (self.room_size - 1) * self.num_rows + 1

    @property
    def centre(self) -> jax.Array:
        """``(2,)`` int32: where Farama puts the agent before placing objects."""
        step, half = self.room_size - 1, self.room_size // 2
        return jnp.array(
            [self.num_cols // 2 * step + half, self.num_rows // 2 * step + half],
            jnp.int32,
        )

    def walls(self) -> jax.Array:
        """``(W, H, 3)`` uint8: every room's walls, empty inside."""
        grid = L.walled_room(self.width, self.height)
        step = self.room_size - 1
        grid[::step, :] = C.WALL_CELL
        grid[:, ::step] = C.WALL_CELL
        return jnp.asarray(grid)

    def room_mask(self, col, row) -> jax.Array:
        """``(W, H)`` bool: the room's cells, walls included (Farama's
        ``top``/``size`` rectangle); ``col``/``row`` may be traced."""
        step = self.room_size - 1
        xs, ys = L.cell_coords(self.width, self.height)
        x0, y0 = col * step, row * step
        return (
            (xs >= x0) & (xs < x0 + self.room_size)
            & (ys >= y0) & (ys < y0 + self.room_size)
        )  # fmt: skip

    def door_positions(self, words: jax.Array) -> jax.Array:
        """``(num_rows, num_cols, 4, 2)`` int32 candidate door cell per wall
        (meaningless where there is no neighbour), from
        ``2 * num_rows * num_cols`` words."""
        rows, cols, step = self.num_rows, self.num_cols, self.room_size - 1
        along = 1 + L.below(words, self.room_size - 2).reshape(2, rows, cols)
        j = jnp.arange(rows, dtype=jnp.int32)[:, None]
        i = jnp.arange(cols, dtype=jnp.int32)[None, :]
        right = jnp.stack(jnp.broadcast_arrays((i + 1) * step, j * step + along[0]), -1)
        down = jnp.stack(jnp.broadcast_arrays(i * step + along[1], (j + 1) * step), -1)
        left = jnp.roll(right, 1, axis=1)  # the left neighbour's right door
        up = jnp.roll(down, 1, axis=0)  # the upper neighbour's down door
        return jnp.stack([right, down, left, up], axis=2)

    def has_neighbour(self) -> np.ndarray:
        """``(num_rows, num_cols, 4)`` bool: walls with a room behind them."""
        j = np.arange(self.num_rows)[:, None, None]
        i = np.arange(self.num_cols)[None, :, None]
        ni, nj = i + _WALL_STEP[:, 0], j + _WALL_STEP[:, 1]
        return (ni >= 0) & (ni < self.num_cols) & (nj >= 0) & (nj < self.num_rows)

    def place_in_room(self, word, grid, col, row, agent_pos) -> jax.Array:
        """``(2,)`` int32 uniform free cell of the room at Manhattan distance
        >= 2 from ``agent_pos`` (Farama's ``place_in_room``)."""
        xs, ys = L.cell_coords(self.width, self.height)
        far = jnp.abs(xs - agent_pos[0]) + jnp.abs(ys - agent_pos[1]) >= 2
        return L.sample_cell(word, L.free_cells(grid, self.room_mask(col, row) & far))

    def place_agent(self, word, grid, col, row) -> tuple[jax.Array, jax.Array]:
        """Uniform ``(pos (2,), dir ())`` in the room with an empty or wall
        cell in front (Farama's ``RoomGrid.place_agent``)."""
        return place_facing_open(word, grid, self.room_mask(col, row))

    def connect_all(self, words, grid, doors, locked, doors_at, start_room):
        """Farama's ``connect_all``: add unlocked doors of uniform colors at
        uniform valid walls until every room is reachable from ``start_room``.

        Args:
            words: ``(num_rows * num_cols * 4, 2)`` uint32, one pair per
                possible door (a door is added at most once per wall).
            grid: ``(W, H, 3)`` uint8.
            doors: ``(num_rows, num_cols, 4)`` bool, walls already opened
                (doors or removed walls), symmetric between neighbours.
            locked: ``(num_rows, num_cols)`` bool rooms that received a
                locked door (no door is added to them).
            doors_at: :meth:`door_positions` output.
            start_room: ``(2,)`` int32 ``(col, row)``.

        Returns:
            ``(grid, doors)`` with the added doors.
        """
        neighbour = jnp.asarray(self.has_neighbour())
        num_walls = self.num_rows * self.num_cols * 4
        # Walls that may get a door: a room behind, no door yet, neither room
        # locked (fixed through the loop).
        blocked = locked[..., None] | self._shift_to_neighbour(locked)
        allowed = neighbour & ~blocked
        # Connected components as one label per room, merged as doors are
        # added: O(1) work per added door, instead of a reachability sweep.
        labels = self._components(doors)
        start = start_room[1] * self.num_cols + start_room[0]

        def not_done(carry):
            _, _, labels, count = carry
            return jnp.any(labels != labels[start]) & (count < num_walls)

        def add_one(carry):
            grid, doors, labels, count = carry
            valid = (allowed & ~doors).reshape(-1)
            rank = L.below(words[count, 0], jnp.maximum(jnp.sum(valid), 1))
            index = jnp.argmax(jnp.cumsum(valid) > rank)
            row, rem = jnp.divmod(index, self.num_cols * 4)
            col, wall = jnp.divmod(rem, 4)
            color = L.below(words[count, 1], C.NUM_COLORS)
            cell = jnp.stack([jnp.int32(C.DOOR), color, jnp.int32(C.CLOSED)])
            grid = L.put(grid, doors_at[row, col, wall], cell)
            doors = self.open_wall(doors, col, row, wall)
            step = jnp.asarray(_WALL_STEP)[wall]
            other = (row + step[1]) * self.num_cols + col + step[0]
            labels = _merge(labels, row * self.num_cols + col, other)
            return grid, doors, labels, count + 1

        grid, doors, _, _ = jax.lax.while_loop(
            not_done, add_one, (grid, doors, labels, jnp.int32(0))
        )
        return grid, doors

    def _components(self, doors: jax.Array) -> jax.Array:
        """``(num_rows * num_cols,)`` int32 component label of each room (row
        major) through opened walls (doors of any state, as Farama counts)."""
        labels = jnp.arange(self.num_rows * self.num_cols, dtype=jnp.int32)
        for row in range(self.num_rows):
            for col in range(self.num_cols):
                for wall in (0, 1):  # right and down cover every pair once
                    dcol, drow = _WALL_STEP[wall]
                    if col + dcol >= self.num_cols or row + drow >= self.num_rows:
                        continue
                    other = (row + drow) * self.num_cols + col + dcol
                    merged = _merge(labels, row * self.num_cols + col, other)
                    labels = jnp.where(doors[row, col, wall], merged, labels)
        return labels

    def open_wall(self, doors, col, row, wall) -> jax.Array:
        """Mark the wall (and the neighbour's matching wall) as passable."""
        step = jnp.asarray(_WALL_STEP)[wall]
        doors = doors.at[row, col, wall].set(True)
        return doors.at[row + step[1], col + step[0], (wall + 2) % 4].set(True)

    def _shift_to_neighbour(self, rooms: jax.Array) -> jax.Array:
        """``(rows, cols, 4)``: for each wall, the flag of the room behind it."""
        padded = jnp.pad(rooms, 1)
        r, c = self.num_rows, self.num_cols
        return jnp.stack(
            [padded[1 : r + 1, 2 : c + 2], padded[2 : r + 2, 1 : c + 1],
             padded[1 : r + 1, 0:c], padded[0:r, 1 : c + 1]],
            axis=-1,
        )  # fmt: skip


def _merge(labels: jax.Array, a, b) -> jax.Array:
    """Join the components of rooms ``a`` and ``b`` (labels ``(R,)``)."""
    return jnp.where(labels == labels[b], labels[a], labels)


def place_facing_open(word, grid, region) -> tuple[jax.Array, jax.Array]:
    """Uniform (free cell in ``region``, direction) whose front cell is empty or
    a wall: Farama's ``RoomGrid.place_agent`` rejection loop."""
    obj = grid[..., 0]
    open_ahead = (obj == C.EMPTY) | (obj == C.WALL)
    width, height = obj.shape
    padded = jnp.pad(open_ahead, 1)  # outside the grid never matters here
    ahead = jnp.stack(
        [padded[2:, 1:-1], padded[1:-1, 2:], padded[:-2, 1:-1], padded[1:-1, :-2]],
        axis=-1,
    )  # (W, H, 4): front cell facing right, down, left, up
    allowed = (L.free_cells(grid, region)[..., None] & ahead).reshape(width, height * 4)
    x, y_dir = L.sample_cell(word, allowed)
    return jnp.stack([x, y_dir // 4]), y_dir % 4
