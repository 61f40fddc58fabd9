"""Farama's instruction tasks: the mission names an object or door to go to,
fetch, or put near another. GoToDoor, GoToObject, Fetch and PutNear.

In all four, walls do not block the view (``see_through_walls=True``, as in
Farama), and the target is told only by the mission, so a policy must read it.
"""

import jax
import jax.numpy as jnp

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import levels as L
from jaxrl.envs.gridworld import missions as M
from jaxrl.envs.gridworld.core import GridParams, Level, MiniGridEnv, goal_reward
from jaxrl.envs.gridworld.tasks import _check_size

_GO_TO_DOOR = "go to the {} door"
_GO_TO = "go to the {} {}"
_FETCH = "{} {} {}"
_PUT_NEAR = "put the {} {} near the {} {}"


def _check_count(num_objects, low: int, high: int) -> None:
    if not isinstance(num_objects, int) or not low <= num_objects <= high:
        raise ValueError(
            f"num_objects must be an int in [{low}, {high}], got {num_objects!r}"
        )


def _beside(pos: jax.Array, target: jax.Array) -> jax.Array:
    """() bool: ``pos`` is one of the four cells next to ``target``."""
    dx, dy = jnp.abs(pos[0] - target[0]), jnp.abs(pos[1] - target[1])
    return ((dx == 0) & (dy == 1)) | ((dy == 0) & (dx == 1))


def _distinct_objects(words: jax.Array, count: int, kinds: int) -> jax.Array:
    """``(count,)`` int32 distinct (kind, color) codes ``kind * 6 + color``,
    a uniform ordered sample without replacement (Farama redraws repeats)."""
    order = jnp.argsort(words[: kinds * C.NUM_COLORS])
    return order[:count].astype(jnp.int32)


def _place_objects(words, grid, codes, kinds, avoid_near: bool):
    """Place objects ``codes`` (kind * 6 + color) one by one on uniform empty
    cells (optionally not within one cell, in both axes, of an earlier one).

    Returns ``(grid, positions (count, 2) int32)``.
    """
    width, height = grid.shape[:2]
    xs, ys = L.cell_coords(width, height)
    allowed_extra = jnp.ones((width, height), bool)
    positions = []
    for index in range(codes.shape[0]):
        pos = L.sample_cell(words[index], L.free_cells(grid, allowed_extra))
        kind, color = jnp.divmod(codes[index], C.NUM_COLORS)
        cell = jnp.stack([kinds[kind], color, jnp.int32(0)])
        grid = L.put(grid, pos, cell)
        if avoid_near:
            near = (jnp.abs(xs - pos[0]) <= 1) & (jnp.abs(ys - pos[1]) <= 1)
            allowed_extra = allowed_extra & ~near
        positions.append(pos)
    return grid, jnp.stack(positions)


def _distinct_objects_room(key, size: int, count: int, avoid_near: bool):
    """A walled room with ``count`` objects of distinct (kind, color), kinds
    key, ball and box, then the agent on a uniform empty cell.

    Returns ``(grid, codes (count,), positions (count, 2), agent_pos, words)``
    with four spare uint32 ``words`` for the caller (``words[0]`` is used).
    """
    words = L.random_words(key, 18 + count + 4)
    codes = _distinct_objects(words[:18], count, 3)
    grid = jnp.asarray(L.walled_room(size, size))
    kinds = jnp.array([C.KEY, C.BALL, C.BOX], jnp.int32)
    grid, positions = _place_objects(words[18:], grid, codes, kinds, avoid_near)
    spare = words[18 + count :]
    agent_pos = L.sample_cell(spare[0], L.free_cells(grid))
    return grid, codes, positions, agent_pos, spare


class _GoToTask(MiniGridEnv):
    """Success: ``done`` next to ``marks[0]``; ``done`` and ``toggle`` end the
    episode either way (Farama's GoToDoor and GoToObject)."""

    def task_rules(self, before, action, after, reward, terminated, params):
        del before
        done = action == C.DONE
        success = done & _beside(after.agent_pos, after.marks[0])
        reward = jnp.where(success, goal_reward(after.time, params), reward)
        return reward, terminated | done | (action == C.TOGGLE), success


class GoToDoor(_GoToTask):
    """Go to the door of the mission's color and say ``done``.

    Farama's ``GoToDoorEnv``: a walled room of uniform width and height in
    ``[5, size]`` in the top-left of the grid, one closed door in each of its
    four walls (top and bottom at a uniform ``x`` in ``[2, w - 2)``, left and
    right at a uniform ``y`` in ``[2, h - 2)``), four distinct uniform colors,
    the agent on a uniform empty cell of the room, the target a uniform door.
    Step limit ``4 * size**2``.
    """

    def __init__(self, size: int = 5, view_size: int = 7, see_through_walls=True):
        _check_size(size, 5)
        super().__init__(size, size, 4 * size * size, view_size, see_through_walls)
        self.size = size

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        n = self.size
        words = L.random_words(key, 6 + 4 + 6 + 2)
        room_w, room_h = 5 + L.below(words[0], n - 4), 5 + L.below(words[1], n - 4)
        xs, ys = L.cell_coords(n, n)
        inside = (xs < room_w) & (ys < room_h)
        border = inside & (
            (xs == 0) | (ys == 0) | (xs == room_w - 1) | (ys == room_h - 1)
        )
        grid = jnp.asarray(L.walled_room(n, n))
        grid = L.paint(grid, ~inside, C.EMPTY_CELL)
        grid = L.paint(grid, border, C.WALL_CELL)
        along_x = 2 + L.below(words[2:4], room_w - 4)
        along_y = 2 + L.below(words[4:6], room_h - 4)
        doors = jnp.stack([
            jnp.stack([along_x[0], 0]),
            jnp.stack([along_x[1], room_h - 1]),
            jnp.stack([0, along_y[0]]),
            jnp.stack([room_w - 1, along_y[1]]),
        ])  # fmt: skip
        colors = jnp.argsort(words[6:12])[:4].astype(jnp.int32)
        for index in range(4):
            door = jnp.stack([jnp.int32(C.DOOR), colors[index], jnp.int32(C.CLOSED)])
            grid = L.put(grid, doors[index], door)
        agent_pos = L.sample_cell(words[12], L.free_cells(grid, inside))
        target = L.below(words[13], 4)
        mission = M.slotted(_GO_TO_DOOR, colors[target])
        return Level(
            grid, agent_pos, L.random_direction(words[14]), mission, doors[target][None]
        )


class GoToObject(_GoToTask):
    """Go to the object the mission names and say ``done``.

    Farama's ``GoToObjectEnv``: ``num_objects`` objects of distinct uniform
    (kind, color), kinds key, ball and box, on uniform empty cells of a walled
    room; the agent on a uniform empty cell; the target a uniform one of them.
    Step limit ``5 * size**2``.
    """

    def __init__(
        self, size: int = 6, num_objects: int = 2, view_size: int = 7,
        see_through_walls: bool = True,
    ):  # fmt: skip
        _check_size(size, 4)
        _check_count(num_objects, 1, min(18, (size - 2) ** 2 - 1))
        super().__init__(size, size, 5 * size * size, view_size, see_through_walls)
        self.size = size
        self.num_objects = num_objects  # static

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        count = self.num_objects
        grid, codes, positions, agent_pos, w = _distinct_objects_room(
            key, self.size, count, avoid_near=False
        )
        target = L.below(w[1], count)
        kind, color = jnp.divmod(codes[target], C.NUM_COLORS)
        mission = M.slotted(_GO_TO, color, kind)
        return Level(
            grid, agent_pos, L.random_direction(w[2]), mission, positions[target][None]
        )


class Fetch(MiniGridEnv):
    """Pick up an object of the kind and color the mission names.

    Farama's ``FetchEnv``: ``num_objects`` keys and balls of uniform kind and
    color (repeats allowed) on uniform empty cells, the agent on a uniform
    empty cell, the target the kind and color of a uniform one of them, the
    mission one of five phrasings ("get a", "go get a", "fetch a", "go fetch
    a", "you must fetch a"). Picking up a matching object succeeds; picking
    up anything else ends the episode with 0. Step limit ``5 * size**2``.
    """

    def __init__(
        self, size: int = 8, num_objects: int = 3, view_size: int = 7,
        see_through_walls: bool = True,
    ):  # fmt: skip
        _check_size(size, 4)
        _check_count(num_objects, 1, (size - 2) ** 2 - 1)
        super().__init__(size, size, 5 * size * size, view_size, see_through_walls)
        self.size = size
        self.num_objects = num_objects  # static

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        n, count = self.size, self.num_objects
        words = L.random_words(key, 2 * count + 5)
        codes = L.below(words[:count], 2 * C.NUM_COLORS)
        grid = jnp.asarray(L.walled_room(n, n))
        kinds = jnp.array([C.KEY, C.BALL], jnp.int32)
        grid, _ = _place_objects(words[count:], grid, codes, kinds, False)
        w = words[2 * count :]
        agent_pos = L.sample_cell(w[0], L.free_cells(grid))
        target = codes[L.below(w[1], count)]
        kind, color = jnp.divmod(target, C.NUM_COLORS)
        mission = M.slotted(_FETCH, L.below(w[2], 5), color, kind)
        return Level(grid, agent_pos, L.random_direction(w[3]), mission)

    def task_rules(self, before, action, after, reward, terminated, params):
        del before, action
        _, color, kind = M.slots_of(_FETCH, after.mission)
        holds = after.carrying[0] != C.EMPTY
        match = (after.carrying[0] == kind + C.KEY) & (after.carrying[1] == color)
        success = holds & match
        reward = jnp.where(success, goal_reward(after.time, params), reward)
        reward = jnp.where(holds & ~match, 0.0, reward)
        return reward, terminated | holds, success


class PutNear(MiniGridEnv):
    """Put the object the mission names next to the other one it names.

    Farama's ``PutNearEnv``: ``num_objects`` objects of distinct uniform
    (kind, color), kinds key, ball and box, each on a uniform empty cell not
    within one cell (in both axes) of an earlier one; the agent on a uniform
    empty cell; the object to move and the target two distinct uniform ones.
    Picking up anything but the object to move ends the episode; any drop
    ends it, with success if the object lands within one cell (in both axes)
    of the target. Step limit ``5 * size``. The level marks the target's cell
    and the moved object's start cell (Farama's ``target_pos`` and
    ``move_pos``).
    """

    def __init__(
        self, size: int = 6, num_objects: int = 2, view_size: int = 7,
        see_through_walls: bool = True,
    ):  # fmt: skip
        _check_size(size, 5)
        _check_count(num_objects, 2, min(18, ((size - 2 + 2) // 3) ** 2))
        super().__init__(size, size, 5 * size, view_size, see_through_walls)
        self.size = size
        self.num_objects = num_objects  # static

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        count = self.num_objects
        grid, codes, positions, agent_pos, w = _distinct_objects_room(
            key, self.size, count, avoid_near=True
        )
        moved = L.below(w[1], count)
        target = (moved + 1 + L.below(w[2], count - 1)) % count
        move_kind, move_color = jnp.divmod(codes[moved], C.NUM_COLORS)
        target_kind, target_color = jnp.divmod(codes[target], C.NUM_COLORS)
        mission = M.slotted(_PUT_NEAR, move_color, move_kind, target_color, target_kind)
        # marks: the target's cell (the rules read it) and the moved object's
        # start cell (Farama's target_pos and move_pos)
        marks = positions[jnp.stack([target, moved])]
        return Level(grid, agent_pos, L.random_direction(w[3]), mission, marks)

    def task_rules(self, before, action, after, reward, terminated, params):
        move_color, move_kind, _, _ = M.slots_of(_PUT_NEAR, after.mission)
        carried = after.carrying
        wrong_pickup = (
            (action == C.PICKUP)
            & (carried[0] != C.EMPTY)
            & ((carried[0] != move_kind + C.KEY) | (carried[1] != move_color))
        )
        drop = (action == C.DROP) & (before.carrying[0] != C.EMPTY)
        front = after.agent_pos + jnp.asarray(C.DIR_TO_VEC)[after.agent_dir]
        landed = drop & (carried[0] == C.EMPTY)
        near = jnp.all(jnp.abs(front - after.marks[0]) <= 1)
        success = landed & near
        reward = jnp.where(success, goal_reward(after.time, params), reward)
        return reward, terminated | wrong_pickup | drop, success
