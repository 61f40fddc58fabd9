"""Farama tasks built around rooms and their doors: RedBlueDoors, LockedRoom
and Playground."""

import jax
import jax.numpy as jnp

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import levels as L
from jaxrl.envs.gridworld import missions as M
from jaxrl.envs.gridworld.core import GridParams, Level, MiniGridEnv, goal_reward
from jaxrl.envs.gridworld.tasks import _check_size

_LOCKED_ROOM = "get the {} key from the {} room, unlock the {} door and go to the goal"


def _door(color, state) -> jax.Array:
    return jnp.stack([jnp.int32(C.DOOR), jnp.asarray(color, jnp.int32),
                      jnp.int32(state)])  # fmt: skip


class RedBlueDoors(MiniGridEnv):
    """Open the red door, then the blue one.

    Farama's ``RedBlueDoorEnv``: a ``2 * size`` by ``size`` grid with a
    ``size x size`` room in its middle, a closed red door at a uniform height
    in the room's left wall and a closed blue door at a uniform height in its
    right wall, the agent on a uniform cell of the room. Opening the blue
    door succeeds if the red one was already open and fails otherwise;
    opening the red one after the blue one fails. Step limit
    ``20 * size**2``.
    """

    def __init__(
        self, size: int = 8, view_size: int = 7, see_through_walls: bool = False
    ):
        _check_size(size, 4)
        max_steps = 20 * size * size
        super().__init__(2 * size, size, max_steps, view_size, see_through_walls)
        self.size = size

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        n, left = self.size, self.size // 2
        words = L.random_words(key, 4)
        xs, ys = L.cell_coords(2 * n, n)
        room = (xs >= left) & (xs < left + n)
        walls = room & ((xs == left) | (xs == left + n - 1) | (ys == 0) | (ys == n - 1))
        grid = jnp.asarray(L.walled_room(2 * n, n))
        grid = L.paint(grid, walls, C.WALL_CELL)
        agent_pos = L.sample_cell(words[0], L.free_cells(grid, room))
        agent_dir = L.random_direction(words[1])
        red = jnp.stack([jnp.int32(left), 1 + L.below(words[2], n - 2)])
        blue = jnp.stack([jnp.int32(left + n - 1), 1 + L.below(words[3], n - 2)])
        grid = L.put(grid, red, _door(C.RED, C.CLOSED))
        grid = L.put(grid, blue, _door(C.BLUE, C.CLOSED))
        mission = M.fixed("open the red door then the blue door")
        return Level(grid, agent_pos, agent_dir, mission, jnp.stack([red, blue]))

    def task_rules(self, before, action, after, reward, terminated, params):
        del action

        def opened(state):
            red, blue = state.marks[0], state.marks[1]
            return (state.grid[red[0], red[1], 2] == C.OPEN,
                    state.grid[blue[0], blue[1], 2] == C.OPEN)  # fmt: skip

        red_before, blue_before = opened(before)
        red_after, blue_after = opened(after)
        success = blue_after & red_before
        failure = (blue_after & ~red_before) | (~blue_after & red_after & blue_before)
        reward = jnp.where(success, goal_reward(after.time, params), reward)
        reward = jnp.where(failure, 0.0, reward)
        return reward, terminated | success | failure, success


class LockedRoom(MiniGridEnv):
    """Fetch the key from one side room and unlock another to reach the goal.

    Farama's ``LockedRoomEnv``: a corridor down the middle of a 19x19 grid
    with three rooms on each side, each with a door onto the corridor in six
    distinct uniform colors; one uniform room is locked and holds the goal
    (uniform in it); the key of its color lies uniform in another uniform
    room; the agent on a uniform cell of the corridor. The mission names the
    colors. Step limit ``10 * size``.
    """

    def __init__(self, size: int = 19, view_size: int = 7, see_through_walls=False):
        _check_size(size, 13)
        super().__init__(size, size, 10 * size, view_size, see_through_walls)
        self.size = size

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        n = self.size
        left_wall, right_wall, band = n // 2 - 2, n // 2 + 2, n // 3
        words = L.random_words(key, 6 + 6)
        xs, ys = L.cell_coords(n, n)
        on_side = (xs < left_wall) | (xs >= right_wall)
        walls = (xs == left_wall) | (xs == right_wall)
        for index in range(3):
            walls = walls | ((ys == index * band) & on_side)
        grid = jnp.asarray(L.walled_room(n, n))
        grid = L.paint(grid, walls, C.WALL_CELL)
        # Rooms 0..5: (row 0 left, row 0 right, row 1 left, ...), as Farama.
        tops_y = jnp.arange(3, dtype=jnp.int32).repeat(2) * band
        door_x = jnp.tile(jnp.array([left_wall, right_wall], jnp.int32), 3)
        x_low = jnp.tile(jnp.array([1, right_wall + 1], jnp.int32), 3)
        colors = jnp.argsort(words[:6]).astype(jnp.int32)
        locked = L.below(words[6], 6)
        key_room = (locked + 1 + L.below(words[7], 5)) % 6
        for room in range(6):
            state = jnp.where(room == locked, C.LOCKED, C.CLOSED)
            door = jnp.stack([door_x[room], tops_y[room] + 3])
            grid = L.put(grid, door, _door(colors[room], state))

        def inside(room, word_x, word_y):
            x = x_low[room] + L.below(word_x, left_wall - 1)
            y = tops_y[room] + 1 + L.below(word_y, band - 1)
            return jnp.stack([x, y])

        grid = L.put(grid, inside(locked, words[8], words[9]), C.GOAL_CELL)
        key_cell = jnp.stack([jnp.int32(C.KEY), colors[locked], jnp.int32(0)])
        grid = L.put(grid, inside(key_room, words[10], words[11]), key_cell)
        corridor = (xs >= left_wall) & (xs < right_wall)
        w = L.random_words(jax.random.fold_in(key, 1), 2)
        agent_pos = L.sample_cell(w[0], L.free_cells(grid, corridor))
        mission = M.slotted(
            _LOCKED_ROOM, colors[locked], colors[key_room], colors[locked]
        )
        return Level(grid, agent_pos, L.random_direction(w[1]), mission)


class Playground(MiniGridEnv):
    """A 3x3 grid of rooms with doors and twelve objects, and no goal.

    Farama's ``PlaygroundEnv``: 19x19, each inner wall segment with a closed
    door of uniform color at a uniform place, the agent on a uniform empty
    cell, then twelve objects of uniform kind (key, ball, box) and color on
    uniform empty cells. Nothing ends the episode but the step limit (100).
    """

    def __init__(self, view_size: int = 7, see_through_walls: bool = False):
        super().__init__(19, 19, 100, view_size, see_through_walls)

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        n, room = 19, 19 // 3
        words = L.random_words(key, 24 + 2 + 36)
        xs, ys = L.cell_coords(n, n)
        grid = jnp.asarray(L.walled_room(n, n))
        inner = ((xs % room == 0) | (ys % room == 0)) & (xs < n - 1) & (ys < n - 1)
        grid = L.paint(grid, inner, C.WALL_CELL)
        word = 0
        for j in range(3):
            for i in range(3):
                x_left, y_top = i * room, j * room
                if i + 1 < 3:
                    y = y_top + 1 + L.below(words[word], room - 2)
                    color = L.below(words[word + 1], C.NUM_COLORS)
                    pos = jnp.stack([jnp.int32(x_left + room), y])
                    grid = L.put(grid, pos, _door(color, C.CLOSED))
                    word += 2
                if j + 1 < 3:
                    x = x_left + 1 + L.below(words[word], room - 2)
                    color = L.below(words[word + 1], C.NUM_COLORS)
                    pos = jnp.stack([x, jnp.int32(y_top + room)])
                    grid = L.put(grid, pos, _door(color, C.CLOSED))
                    word += 2
        agent_pos = L.sample_cell(words[24], L.free_cells(grid))
        agent_dir = L.random_direction(words[25])
        kinds = jnp.array([C.KEY, C.BALL, C.BOX], jnp.int32)
        not_agent = L.not_at(agent_pos, n, n)
        for w_kind, w_color, w_pos in words[26:].reshape(12, 3):
            kind, color = kinds[L.below(w_kind, 3)], L.below(w_color, C.NUM_COLORS)
            pos = L.sample_cell(w_pos, L.free_cells(grid, not_agent))
            grid = L.put(grid, pos, jnp.stack([kind, color, jnp.int32(0)]))
        return Level(grid, agent_pos, agent_dir, M.fixed(""))
