"""Farama's MultiRoom task: a chain of rooms joined by closed doors."""

import functools

import jax
import jax.numpy as jnp

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import levels as L
from jaxrl.envs.gridworld import missions as M
from jaxrl.envs.gridworld.core import GridParams, Level, MiniGridEnv

_TRIES = 8  # Farama tries this many exits from a room before the chain ends
_MIN_SIZE = 4


class MultiRoom(MiniGridEnv):
    """Walk through a chain of rooms, opening each door, to the goal.

    Farama's ``MultiRoomEnv`` on a 25x25 grid: ``num_rooms`` uniform in
    ``[min_rooms, max_rooms]``; rooms of uniform width and height in
    ``[4, max_room_size]``; the first at a uniform corner in
    ``[0, 23)**2``; each next room behind a door at a uniform place on a
    uniform other wall of the previous one, at a uniform offset along that
    door, kept only if it fits in the grid and misses every earlier room but
    its parent (Farama's overlap test, its asymmetric margins included);
    up to 8 exits are tried per room, and a chain that ends short is drawn
    again from scratch. Doors are closed, each a uniform color other than
    the previous door's. The agent on a uniform cell of the first room, the
    goal on a uniform cell of the last. Step limit ``20 * max_rooms``.
    """

    def __init__(
        self, min_rooms: int = 6, max_rooms: int = 6, max_room_size: int = 10,
        size: int = 25, view_size: int = 7, see_through_walls: bool = False,
    ):  # fmt: skip
        if not isinstance(min_rooms, int) or min_rooms < 1:
            raise ValueError(f"min_rooms must be an int >= 1, got {min_rooms!r}")
        if not isinstance(max_rooms, int) or max_rooms < min_rooms:
            raise ValueError(
                f"max_rooms must be an int >= min_rooms ({min_rooms}), "
                f"got {max_rooms!r}"
            )
        if not isinstance(max_room_size, int) or max_room_size < _MIN_SIZE:
            raise ValueError(
                f"max_room_size must be an int >= {_MIN_SIZE}, got {max_room_size!r}"
            )
        super().__init__(size, size, 20 * max_rooms, view_size, see_through_walls)
        self.min_rooms = min_rooms  # static
        self.max_rooms = max_rooms  # static
        self.max_room_size = max_room_size  # static

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        key_count, key_chain, key_rest = jax.random.split(key, 3)
        span = self.max_rooms - self.min_rooms + 1
        num_rooms = self.min_rooms + L.below(L.random_words(key_count, 1)[0], span)
        tops, sizes, doors = self._chain(key_chain, num_rooms)
        return self._build(key_rest, num_rooms, tops, sizes, doors)

    def initial_states(self, key: jax.Array, count: int, params: GridParams):
        """``count`` independent fresh states, the chain tries pooled across
        the batch when the room count is fixed (every Farama id).

        Under ``vmap`` each level's rejection loop runs as long as the
        slowest one (about 37 chains at 4096 levels for 6 rooms, against 4.5
        on average). Here each round draws ``max(2, max_rooms) * count``
        chains at once (one round, almost always) and
        the ``r``-th chain that reaches ``num_rooms`` rooms makes level
        ``r``: accepted chains are independent draws of a chain given that it
        is long enough, which is what the per-level loop samples.
        """
        if self.min_rooms != self.max_rooms:
            return super().initial_states(key, count, params)
        key_chains, key_rest = jax.random.split(key)
        tops, sizes, doors = self._pooled_chains(key_chains, count)
        keys = jax.random.split(key_rest, count)
        build = functools.partial(self._build, num_rooms=self.max_rooms)
        levels = jax.vmap(build)(keys, tops=tops, sizes=sizes, doors=doors)
        return jax.vmap(self.start)(levels)

    def _pooled_chains(self, key, count: int):
        """Tops, sizes and entry doors ``(count, N, 2)`` of ``count`` chains
        of ``N = max_rooms`` rooms, taken in order from rounds of tries."""
        n = self.max_rooms
        tries = max(2, n) * count
        attempt = jax.vmap(self._attempt, in_axes=(0, None))

        def short(carry):
            return carry[1] < count

        def draw(carry):
            round_index, found, chains = carry
            keys = jax.random.split(jax.random.fold_in(key, round_index), tries)
            length, *drawn = attempt(keys, n)
            ok = length == n
            slot = jnp.where(ok, found + jnp.cumsum(ok, dtype=jnp.int32) - 1, count)
            chains = tuple(
                c.at[slot].set(d, mode="drop")
                for c, d in zip(chains, drawn, strict=True)
            )
            found = jnp.minimum(found + jnp.sum(ok, dtype=jnp.int32), count)
            return round_index + 1, found, chains

        empty = jnp.zeros((count, n, 2), jnp.int32)
        init = (jnp.int32(0), jnp.int32(0), (empty, empty, empty))
        return jax.lax.while_loop(short, draw, init)[2]

    def _chain(self, key, num_rooms):
        """Rooms ``(N, 2)`` tops, sizes and entry doors of the first chain of
        ``num_rooms`` rooms, drawing whole chains until one is that long."""

        def short(carry):
            return carry[0] < num_rooms

        def draw(carry):
            _, attempt, *_ = carry
            chain = self._attempt(jax.random.fold_in(key, attempt), num_rooms)
            return (chain[0], attempt + 1, *chain[1:])

        n = self.max_rooms
        empty = jnp.zeros((n, 2), jnp.int32)
        init = (jnp.int32(0), jnp.int32(0), empty, empty, empty)
        _, _, tops, sizes, doors = jax.lax.while_loop(short, draw, init)
        return tops, sizes, doors

    def _sizes(self, words):
        return _MIN_SIZE + L.below(words, self.max_room_size - _MIN_SIZE + 1)

    def _attempt(self, key, num_rooms):
        """One chain: ``(length, tops, sizes, entry doors)``."""
        n, grid_size = self.max_rooms, self.width
        words = L.random_words(key, 4)
        first_top = L.below(words[:2], grid_size - 2)
        first_size = self._sizes(words[2:4])
        tops = jnp.zeros((n, 2), jnp.int32).at[0].set(first_top)
        sizes = jnp.zeros((n, 2), jnp.int32).at[0].set(first_size)
        doors = jnp.zeros((n, 2), jnp.int32).at[0].set(first_top)
        length = self._fits(first_top, first_size).astype(jnp.int32)
        try_room = jax.vmap(self._candidate, in_axes=(0, None, None, None, None))

        # A loop, not unrolled: one room's tries compiled once (MultiRoom's
        # compile time was mostly these unrolled rooms).
        def grow_room(index, carry):
            length, tops, sizes, doors, entry_wall = carry
            tries = L.random_words(jax.random.fold_in(key, index), _TRIES * 6)
            ok, top, size, door, wall = try_room(
                tries.reshape(_TRIES, 6), tops, sizes, entry_wall, index
            )
            first_ok = jnp.argmax(ok)
            grow = (length == index) & jnp.any(ok) & (index < num_rooms)
            tops = tops.at[index].set(jnp.where(grow, top[first_ok], tops[index]))
            sizes = sizes.at[index].set(jnp.where(grow, size[first_ok], sizes[index]))
            doors = doors.at[index].set(jnp.where(grow, door[first_ok], doors[index]))
            entry_wall = jnp.where(grow, wall[first_ok], entry_wall)
            return length + grow.astype(jnp.int32), tops, sizes, doors, entry_wall

        init = (length, tops, sizes, doors, jnp.int32(2))
        length, tops, sizes, doors, _ = jax.lax.fori_loop(1, n, grow_room, init)
        return length, tops, sizes, doors

    def _candidate(self, words, tops, sizes, entry_wall, index):
        """One try at room ``index`` (() int32, may be traced) behind an
        exit of room ``index - 1``."""
        parent_top, parent_size = tops[index - 1], sizes[index - 1]
        # The exit: a uniform wall other than the entry one, then a uniform
        # cell along it (corners excluded).
        exit_wall = (entry_wall + 1 + L.below(words[0], 3)) % 4
        along = 1 + L.below(words[1], parent_size - 2)  # (2,) per axis
        px, py = parent_top[0], parent_top[1]
        far_x, far_y = px + parent_size[0] - 1, py + parent_size[1] - 1
        door = jnp.stack([
            jnp.select([exit_wall == 0, exit_wall == 2], [far_x, px], px + along[0]),
            jnp.select([exit_wall == 1, exit_wall == 3], [far_y, py], py + along[1]),
        ])  # fmt: skip
        wall = (exit_wall + 2) % 4  # the new room's entry wall
        size = self._sizes(words[2:4])
        offset = door - size + 2 + L.below(words[4:6], size - 2)  # uniform
        top = jnp.stack([
            jnp.select([wall == 0, wall == 2], [door[0] - size[0] + 1, door[0]],
                       offset[0]),
            jnp.select([wall == 1, wall == 3], [door[1] - size[1] + 1, door[1]],
                       offset[1]),
        ])  # fmt: skip
        ok = self._fits(top, size)
        # rooms before the parent must not overlap the new one
        others_top, others_size = tops, sizes
        before = jnp.arange(self.max_rooms, dtype=jnp.int32) < index - 1
        apart = (
            (top[0] + size[0] < others_top[:, 0])
            | (others_top[:, 0] + others_size[:, 0] <= top[0])
            | (top[1] + size[1] < others_top[:, 1])
            | (others_top[:, 1] + others_size[:, 1] <= top[1])
        )
        ok = ok & jnp.all(apart | ~before)
        return ok, top, size, door, wall

    def _fits(self, top, size) -> jax.Array:
        """Farama's bounds test (``>=`` on the bottom edge, as Farama)."""
        return (
            (top[0] >= 0) & (top[1] >= 0)
            & (top[0] + size[0] <= self.width) & (top[1] + size[1] < self.height)
        )  # fmt: skip

    def _build(self, key, num_rooms, tops, sizes, doors) -> Level:
        n = self.width
        xs, ys = L.cell_coords(n, n)
        grid = jnp.broadcast_to(jnp.asarray(C.EMPTY_CELL, jnp.uint8), (n, n, 3))
        words = L.random_words(key, self.max_rooms + 3)

        def add_room(index, carry):  # a loop, not unrolled: compiled once
            grid, color = carry
            used = index < num_rooms
            x0, y0 = tops[index, 0], tops[index, 1]
            x1, y1 = x0 + sizes[index, 0] - 1, y0 + sizes[index, 1] - 1
            inside = (xs >= x0) & (xs <= x1) & (ys >= y0) & (ys <= y1)
            border = inside & ((xs == x0) | (xs == x1) | (ys == y0) | (ys == y1))
            grid = L.paint(grid, border & used, C.WALL_CELL)
            # The door into room index (none into the first room): a uniform
            # color, then each a uniform other color than the previous one.
            first = L.below(words[index], C.NUM_COLORS)
            other = (color + 1 + L.below(words[index], C.NUM_COLORS - 1)) % 6
            color = jnp.where(index == 0, color, jnp.where(index == 1, first, other))
            door = jnp.stack([jnp.int32(C.DOOR), color, jnp.int32(C.CLOSED)])
            stored = grid[doors[index, 0], doors[index, 1]]
            has_door = used & (index > 0)
            grid = L.put(grid, doors[index], jnp.where(has_door, door, stored))
            return grid, color

        grid, _ = jax.lax.fori_loop(0, self.max_rooms, add_room, (grid, jnp.int32(0)))
        last = num_rooms - 1

        def room(index):
            x0, y0 = tops[index, 0], tops[index, 1]
            return (
                (xs >= x0) & (xs < x0 + sizes[index, 0])
                & (ys >= y0) & (ys < y0 + sizes[index, 1])
            )  # fmt: skip

        w = words[self.max_rooms :]
        agent_pos = L.sample_cell(w[0], L.free_cells(grid, room(0)))
        goal_region = room(last) & L.not_at(agent_pos, n, n)
        goal = L.sample_cell(w[1], L.free_cells(grid, goal_region))
        grid = L.put(grid, goal, C.GOAL_CELL)
        mission = M.fixed("traverse the rooms to get to the goal")
        return Level(grid, agent_pos, L.random_direction(w[2]), mission)
