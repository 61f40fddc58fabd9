"""Farama's MultiRoom task: a chain of rooms joined by closed doors."""

import functools
import math

import jax
import jax.numpy as jnp

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import levels as L
from jaxrl.envs.gridworld import missions as M
from jaxrl.envs.gridworld.core import GridParams, Level, MiniGridEnv

_TRIES = 8  # Farama tries this many exits from a room before the chain ends
_MIN_SIZE = 4
# Share of chain tries that reach max_rooms rooms, by (max_rooms,
# max_room_size, grid size), for Farama's MultiRoom-N2-S4, -N4-S5 (6 rooms)
# and -N6: measured over 200,000 tries (0.871, 0.505, 0.216, +-0.001) less two
# standard errors. It sizes the pooled rounds (_pool_sizes).
_ACCEPT_SHARE = {(2, 4, 25): 0.869, (6, 5, 25): 0.503, (6, 10, 25): 0.214}


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
        on average). Here each round draws enough chains for ``count``
        levels at once (:meth:`_pool_size`; one round, almost always), all
        their random words in one call, and the ``r``-th chain that reaches
        ``num_rooms`` rooms makes level ``r``: accepted chains are independent
        draws of a chain given that it is long enough, which is what the
        per-level loop samples.
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
        of ``N = max_rooms`` rooms, taken in order from rounds of tries, all
        of a round's random words drawn in one call."""
        n = self.max_rooms
        num_firsts, tries = self._pool_sizes(count)

        def short(carry):
            return carry[1] < count

        def draw(carry):
            round_index, found, chains = carry
            key_first, key_rest = jax.random.split(jax.random.fold_in(key, round_index))
            # A third of first rooms leave the grid, ending their chain: the
            # tries start from first rooms that fit (uniform among those),
            # tries left without one (rarely) count as failed.
            firsts = jax.random.bits(key_first, (num_firsts, 4), jnp.uint32)
            fits = self._fits(*self._first_room(firsts))
            place = jnp.where(fits, jnp.cumsum(fits, dtype=jnp.int32) - 1, tries)
            firsts = (
                jnp.zeros((tries, 4), jnp.uint32).at[place].set(firsts, mode="drop")
            )
            rest = jax.random.bits(key_rest, (tries, self._chain_words - 4), jnp.uint32)
            length, *drawn = self._attempts(jnp.concatenate([firsts, rest], 1), n)
            have_first = jnp.arange(tries) < jnp.sum(fits, dtype=jnp.int32)
            ok = (length == n) & have_first
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

    def _pool_sizes(self, count: int) -> tuple[int, int]:
        """First rooms drawn and chain tries per round for ``count`` chains
        of ``max_rooms`` rooms.

        Each is the mean need and three standard deviations (each falls
        short about once in 700; a round short of chains draws another of the
        same sizes):
        tries for ``count`` chains at the share of chains with a fitting
        first room that reach ``max_rooms`` rooms (``_ACCEPT_SHARE`` over the
        exact share of first rooms that fit; ``1 / max(2, max_rooms)`` of
        all chains where not measured), first rooms for that many tries at
        the share that fit.
        """
        grid, sizes = self.width - 2, range(_MIN_SIZE, self.max_room_size + 1)
        fit_x = sum(min(grid, self.width - s + 1) for s in sizes) / grid / len(sizes)
        fit_y = sum(min(grid, self.height - s) for s in sizes) / grid / len(sizes)
        fit = fit_x * fit_y
        share = _ACCEPT_SHARE.get(
            (self.max_rooms, self.max_room_size, self.width), 1 / max(2, self.max_rooms)
        )

        def enough(need: int, share: float) -> int:
            share = min(1.0, share)
            spread = 3 * math.sqrt(need * (1 - share)) / share
            return math.ceil(need / share + spread)

        tries = enough(count, share / fit)
        return enough(tries, fit), tries

    @property
    def _chain_words(self) -> int:
        """uint32 words one chain try reads: 4 for the first room, 2 for
        each try at each next room."""
        return 4 + (self.max_rooms - 1) * _TRIES * 2

    def _chain(self, key, num_rooms):
        """Rooms ``(N, 2)`` tops, sizes and entry doors of the first chain of
        ``num_rooms`` rooms, drawing whole chains until one is that long."""

        def short(carry):
            return carry[0] < num_rooms

        def draw(carry):
            _, attempt, *_ = carry
            words = L.random_words(jax.random.fold_in(key, attempt), self._chain_words)
            chain = self._attempts(words[None], num_rooms)
            return (chain[0][0], attempt + 1, *(c[0] for c in chain[1:]))

        n = self.max_rooms
        empty = jnp.zeros((n, 2), jnp.int32)
        init = (jnp.int32(0), jnp.int32(0), empty, empty, empty)
        _, _, tops, sizes, doors = jax.lax.while_loop(short, draw, init)
        return tops, sizes, doors

    def _sizes(self, words):
        return _MIN_SIZE + L.below(words, self.max_room_size - _MIN_SIZE + 1)

    def _attempts(self, words, num_rooms):
        """Chains from their words ``(T, _chain_words)`` uint32, all at once:
        ``(length (T,), tops, sizes, entry doors (T, N, 2))``.

        Held as structure of arrays, room-major (``(N, T)`` per coordinate)
        and tries ``(_TRIES, T)``, so every operation runs along the pool;
        the rooms are a loop, not unrolled (compiled once).
        """
        n, count = self.max_rooms, words.shape[0]
        top_x, top_y, size_x, size_y = self._first_room(words)
        first = jnp.zeros((n, count), jnp.int32).at[0]
        rooms = tuple(first.set(v) for v in (top_x, top_y, size_x, size_y))
        doors = tuple(first.set(v) for v in (top_x, top_y))
        length = self._fits(top_x, top_y, size_x, size_y).astype(jnp.int32)
        # (N - 1, 2, _TRIES, T): per next room, the tries' two words
        room_words = words[:, 4:].reshape(count, n - 1, _TRIES, 2).transpose(1, 3, 2, 0)
        row = jnp.arange(n, dtype=jnp.int32)[:, None]

        def grow_room(index, carry):
            length, rooms, doors, entry_wall = carry
            parent = tuple(r[index - 1] for r in rooms)
            tries = room_words[index - 1]
            ok, room, door, wall = self._candidates(
                tries[0], tries[1], rooms, parent, entry_wall, index
            )
            # the first try that fits, where the chain is index rooms long
            wanted = (length == index) & (index < num_rooms)
            chosen, before = [], jnp.zeros_like(wanted)
            for k in range(_TRIES):
                chosen.append(ok[k] & ~before & wanted)
                before = before | ok[k]
            chosen = jnp.stack(chosen)
            grow = jnp.any(chosen, axis=0)

            def pick(values):
                return jnp.sum(jnp.where(chosen, values, 0), axis=0)

            here = (row == index) & grow

            def put(new, old):
                return tuple(
                    jnp.where(here, pick(v), o) for v, o in zip(new, old, strict=True)
                )

            rooms, doors = put(room, rooms), put(door, doors)
            entry_wall = jnp.where(grow, pick(wall), entry_wall)
            return length + grow.astype(jnp.int32), rooms, doors, entry_wall

        init = (length, rooms, doors, jnp.full((count,), 2, jnp.int32))
        if n > 1:  # (one room: no words to index)
            length, rooms, doors, _ = jax.lax.fori_loop(1, n, grow_room, init)

        def pairs(x, y):
            return jnp.stack([x.T, y.T], axis=-1)

        return length, pairs(*rooms[:2]), pairs(*rooms[2:]), pairs(*doors)

    def _candidates(self, first, second, rooms, parent, entry_wall, index):
        """The tries ``(_TRIES, T)`` at room ``index`` (() int32, traced)
        behind an exit of room ``index - 1`` (``parent``: its top x, y and
        size x, y, ``(T,)`` each), from two uint32 words a try.

        The first word gives the exit wall (a uniform other wall than the
        entry one) and the door's uniform place along it (corners
        excluded); the second the room's width and height and its uniform
        offset along the door's wall, as digits of one mixed-radix number.
        Each digit is uniform up to a modulo bias below the product of the
        radices over ``2**32`` (3 * 8 and 7 * 7 * 8 for rooms up to 10: under
        1e-7), as one word a choice has below ``high / 2**32``.

        Returns ``ok``, the room ``(top x, top y, size x, size y)``, its
        entry door ``(x, y)`` and entry wall, ``(_TRIES, T)`` each.
        """
        px, py, parent_x, parent_y = parent
        exit_wall = (entry_wall + 1 + L.below(first, 3)) % 4
        # walls 0 and 2 stand at fixed x: the door runs along y
        runs_y = exit_wall % 2 == 0
        along = 1 + L.below(
            first // jnp.uint32(3), jnp.where(runs_y, parent_y, parent_x) - 2
        )
        far_x, far_y = px + parent_x - 1, py + parent_y - 1
        door_x = jnp.where(
            exit_wall == 0, far_x, jnp.where(exit_wall == 2, px, px + along)
        )
        door_y = jnp.where(
            exit_wall == 1, far_y, jnp.where(exit_wall == 3, py, py + along)
        )
        wall = (exit_wall + 2) % 4  # the new room's entry wall
        radix = self.max_room_size - _MIN_SIZE + 1
        size_x = _MIN_SIZE + L.below(second, radix)
        size_y = _MIN_SIZE + L.below(second // jnp.uint32(radix), radix)
        side = jnp.where(runs_y, size_y, size_x)
        shift = L.below(second // jnp.uint32(radix * radix), side - 2)
        # a uniform offset on the axis the door runs along
        offset_x = door_x - size_x + 2 + shift
        offset_y = door_y - size_y + 2 + shift
        top_x = jnp.where(
            wall == 0, door_x - size_x + 1, jnp.where(wall == 2, door_x, offset_x)
        )
        top_y = jnp.where(
            wall == 1, door_y - size_y + 1, jnp.where(wall == 3, door_y, offset_y)
        )
        ok = self._fits(top_x, top_y, size_x, size_y)
        # rooms before the parent must not overlap the new one
        tops_x, tops_y, sizes_x, sizes_y = rooms
        for r in range(self.max_rooms - 2):
            apart = (
                (top_x + size_x < tops_x[r]) | (tops_x[r] + sizes_x[r] <= top_x)
                | (top_y + size_y < tops_y[r]) | (tops_y[r] + sizes_y[r] <= top_y)
            )  # fmt: skip
            ok = ok & (apart | (r >= index - 1))
        return ok, (top_x, top_y, size_x, size_y), (door_x, door_y), wall

    def _first_room(self, words):
        """Top x, y and size x, y of first rooms ``(T,)`` from their words
        ``(T, >= 4)``: a uniform corner in ``[0, width - 2)**2``, uniform
        sizes."""
        top_x, top_y = (L.below(words[:, i], self.width - 2) for i in (0, 1))
        return top_x, top_y, self._sizes(words[:, 2]), self._sizes(words[:, 3])

    def _fits(self, top_x, top_y, size_x, size_y) -> jax.Array:
        """Farama's bounds test (``>=`` on the bottom edge, as Farama)."""
        return (
            (top_x >= 0) & (top_y >= 0)
            & (top_x + size_x <= self.width) & (top_y + size_y < self.height)
        )  # fmt: skip

    def _build(self, key, num_rooms, tops, sizes, doors) -> Level:
        n = self.width
        xs, ys = L.cell_coords(n, n)
        words = L.random_words(key, self.max_rooms + 3)
        used = jnp.arange(self.max_rooms) < num_rooms
        # Every room's walls at once: per room, which columns and rows it
        # spans and which are its edges ((N, n) each), then their products.
        x0, y0 = tops[:, 0:1], tops[:, 1:2]
        x1, y1 = x0 + sizes[:, 0:1] - 1, y0 + sizes[:, 1:2] - 1
        col, row = xs[:, 0][None], ys[0][None]  # (1, n)
        in_x, in_y = (col >= x0) & (col <= x1), (row >= y0) & (row <= y1)
        edge_x, edge_y = (col == x0) | (col == x1), (row == y0) | (row == y1)
        in_x = in_x & used[:, None]
        wall = jnp.any(
            in_x[:, :, None] & in_y[:, None, :]
            & (edge_x[:, :, None] | edge_y[:, None, :]),
            axis=0,
        )  # fmt: skip
        grid = jnp.where(
            wall[..., None],
            jnp.asarray(C.WALL_CELL, jnp.uint8),
            jnp.asarray(C.EMPTY_CELL, jnp.uint8),
        )
        # The door into room index (none into the first room): a uniform
        # color, then each a uniform other color than the previous one (a
        # later room's walls never cover an earlier door).
        first = L.below(words[1], C.NUM_COLORS)
        steps = 1 + L.below(words[2 : self.max_rooms], C.NUM_COLORS - 1)
        later = (first + jnp.cumsum(steps)) % C.NUM_COLORS
        colors = jnp.concatenate([first[None], later])[: self.max_rooms - 1]
        has_door = used[1:]
        cells = jnp.stack(
            [
                jnp.full_like(colors, C.DOOR),
                colors,
                jnp.full_like(colors, C.CLOSED),
            ],
            axis=-1,
        ).astype(jnp.uint8)
        rows = jnp.where(has_door, doors[1:, 0], n)  # out of range: dropped
        grid = grid.at[rows, doors[1:, 1]].set(cells, mode="drop")
        # Every room's inside is free (rooms meet only along the walls
        # their doors are in): the agent on a uniform inside cell of the
        # first room, the goal on one of the last (not the agent's), ranked
        # column by column as L.sample_cell ranks free cells.
        w = words[self.max_rooms :]
        agent_pos = _inside_cell(w[0], tops[0], sizes[0])
        last = num_rooms - 1
        goal = _inside_cell(w[1], tops[last], sizes[last], avoid=agent_pos)
        grid = L.put(grid, goal, C.GOAL_CELL)
        mission = M.fixed("traverse the rooms to get to the goal")
        return Level(grid, agent_pos, L.random_direction(w[2]), mission)


def _inside_cell(word, top, size, avoid=None) -> jax.Array:
    """``(2,)`` int32: the inside cell of the room at ``top`` of ``size``
    (``(2,)`` each) of uniform rank (column by column) among its inside
    cells, but for ``avoid`` ``(2,)`` where it is one of them."""
    height = size[1] - 2
    inside = (size[0] - 2) * height
    skip = jnp.int32(inside)  # past every rank: nothing to skip
    if avoid is not None:
        rel = avoid - top - 1
        within = jnp.all((rel >= 0) & (rel < size - 2))
        skip = jnp.where(within, rel[0] * height + rel[1], skip)
    rank = L.below(word, inside - (skip < inside).astype(jnp.int32))
    rank = rank + (rank >= skip).astype(jnp.int32)
    return top + 1 + jnp.stack([rank // height, rank % height])
