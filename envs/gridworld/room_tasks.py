"""Farama's room-grid tasks: Unlock, UnlockPickup, BlockedUnlockPickup and
KeyCorridor. Each is a grid of rooms with a locked door and the key to it;
success is opening the door (Unlock) or picking up the named object."""

import jax
import jax.numpy as jnp

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import levels as L
from jaxrl.envs.gridworld import missions as M
from jaxrl.envs.gridworld.core import GridParams, Level, MiniGridEnv, goal_reward
from jaxrl.envs.gridworld.room_grid import RoomGrid


def locked_door(color) -> jax.Array:
    return jnp.stack([jnp.int32(C.DOOR), color, jnp.int32(C.LOCKED)])


def colored(obj: int, color) -> jax.Array:
    return jnp.stack([jnp.int32(obj), color, jnp.int32(0)])


class RoomGridTask(MiniGridEnv):
    """A task on a :class:`RoomGrid`; Farama's RoomGrid envs never see
    through walls and use a 7-cell view by default."""

    def __init__(self, rooms: RoomGrid, max_steps: int, view_size: int = 7):
        super().__init__(rooms.width, rooms.height, max_steps, view_size, False)
        self.rooms = rooms


class PickUpTask(RoomGridTask):
    """Success: a pickup that leaves the agent holding the mission's object."""

    def task_rules(self, before, action, after, reward, terminated, params):
        del before
        kind, color = M.pick_up_target(after.mission)
        holds = (after.carrying[0] == kind) & (after.carrying[1] == color)
        success = (action == C.PICKUP) & holds
        reward = jnp.where(success, goal_reward(after.time, params), reward)
        return reward, terminated | success, success


class Unlock(RoomGridTask):
    """Open the locked door.

    Farama's ``UnlockEnv``: two 6x6 rooms side by side, a locked door of a
    uniform color in the wall between them, its key and the agent in the left
    room. Success: a toggle after which the door is open. Step limit 288.
    """

    def __init__(self, view_size: int = 7):
        super().__init__(RoomGrid(6, 1, 2), 8 * 6 * 6, view_size)

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        rooms = self.rooms
        words = L.random_words(key, 7)
        doors_at = rooms.door_positions(words[:4])
        grid = rooms.walls()
        color = L.below(words[4], C.NUM_COLORS)
        door = doors_at[0, 0, 0]
        grid = L.put(grid, door, locked_door(color))
        key_pos = rooms.place_in_room(words[5], grid, 0, 0, rooms.centre)
        grid = L.put(grid, key_pos, colored(C.KEY, color))
        agent_pos, agent_dir = rooms.place_agent(words[6], grid, 0, 0)
        return Level(grid, agent_pos, agent_dir, M.fixed("open the door"), door[None])

    def task_rules(self, before, action, after, reward, terminated, params):
        del before
        door = after.marks[0]
        is_open = after.grid[door[0], door[1], 2] == C.OPEN
        success = (action == C.TOGGLE) & is_open
        reward = jnp.where(success, goal_reward(after.time, params), reward)
        return reward, terminated | success, success


class UnlockPickup(PickUpTask):
    """Unlock the door and pick up the box behind it.

    Farama's ``UnlockPickupEnv``: two 6x6 rooms, a box of uniform color in the
    right room, a locked door of uniform color between them, its key and the
    agent in the left room. Success: picking up the box. Step limit 288.
    """

    def __init__(self, view_size: int = 7):
        super().__init__(RoomGrid(6, 1, 2), 8 * 6 * 6, view_size)

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        return _unlock_pickup(self.rooms, key, blocked=False)


class BlockedUnlockPickup(PickUpTask):
    """UnlockPickup with a ball blocking the door from the agent's side.

    Farama's ``BlockedUnlockPickupEnv``: as :class:`UnlockPickup`, plus a ball
    of uniform color just left of the door. Step limit 576.
    """

    def __init__(self, view_size: int = 7):
        super().__init__(RoomGrid(6, 1, 2), 16 * 6 * 6, view_size)

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        return _unlock_pickup(self.rooms, key, blocked=True)


def _unlock_pickup(rooms: RoomGrid, key: jax.Array, blocked: bool) -> Level:
    doors_at = rooms.door_positions(L.random_words(key, 4))
    words = L.random_words(jax.random.fold_in(key, 1), 6)
    grid = rooms.walls()
    box_color = L.below(words[0], C.NUM_COLORS)
    box_pos = rooms.place_in_room(words[1], grid, 1, 0, rooms.centre)
    grid = L.put(grid, box_pos, colored(C.BOX, box_color))
    door_color = L.below(words[2], C.NUM_COLORS)
    door = doors_at[0, 0, 0]
    grid = L.put(grid, door, locked_door(door_color))
    if blocked:
        ball_color = L.below(words[3], C.NUM_COLORS)
        grid = L.put(grid, door - jnp.array([1, 0]), colored(C.BALL, ball_color))
    key_pos = rooms.place_in_room(words[4], grid, 0, 0, rooms.centre)
    grid = L.put(grid, key_pos, colored(C.KEY, door_color))
    agent_pos, agent_dir = rooms.place_agent(words[5], grid, 0, 0)
    return Level(grid, agent_pos, agent_dir, M.pick_up(box_color, C.BOX))


class KeyCorridor(PickUpTask):
    """Find the key, unlock the room with the ball, pick up the ball.

    Farama's ``KeyCorridorEnv``: three columns of ``num_rows`` rooms; the
    middle column is one corridor (walls between its rooms removed); a locked
    door of uniform color leads from it into a uniform room of the right
    column holding a ball of uniform color; the key is in a uniform room of
    the left column; the agent starts in the corridor's middle room; unlocked
    doors are then added at uniform walls until every room is reachable
    (Farama's ``connect_all``). Success: picking up the ball. Step limit
    ``30 * room_size**2``.
    """

    def __init__(self, room_size: int = 6, num_rows: int = 3, view_size: int = 7):
        checks = (("room_size", room_size, 3), ("num_rows", num_rows, 1))
        for name, value, low in checks:
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        rooms = RoomGrid(room_size, num_rows, 3)
        super().__init__(rooms, 30 * room_size * room_size, view_size)

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        rooms, rows = self.rooms, self.rooms.num_rows
        num_walls = rows * 3 * 4
        words = L.random_words(key, 2 * rows * 3 + 7 + 2 * num_walls)
        doors_at = rooms.door_positions(words[: 2 * rows * 3])
        w = words[2 * rows * 3 :]
        grid = rooms.walls()
        doors = jnp.zeros((rows, 3, 4), bool)
        for row in range(1, rows):  # the corridor: middle rooms joined
            grid = _remove_wall_above(grid, rooms, 1, row)
            doors = rooms.open_wall(doors, 1, row, 3)
        room_row = L.below(w[0], rows)
        door_color = L.below(w[1], C.NUM_COLORS)
        door = doors_at[room_row, 2, 2]
        grid = L.put(grid, door, locked_door(door_color))
        doors = rooms.open_wall(doors, 2, room_row, 2)
        locked = jnp.zeros((rows, 3), bool).at[room_row, 2].set(True)
        ball_color = L.below(w[2], C.NUM_COLORS)
        ball = rooms.place_in_room(w[3], grid, 2, room_row, rooms.centre)
        grid = L.put(grid, ball, colored(C.BALL, ball_color))
        key_row = L.below(w[4], rows)
        key_pos = rooms.place_in_room(w[5], grid, 0, key_row, rooms.centre)
        grid = L.put(grid, key_pos, colored(C.KEY, door_color))
        agent_pos, agent_dir = rooms.place_agent(w[6], grid, 1, rows // 2)
        start = jnp.array([1, rows // 2], jnp.int32)
        grid, _ = rooms.connect_all(
            w[7:].reshape(num_walls, 2), grid, doors, locked, doors_at, start
        )
        return Level(grid, agent_pos, agent_dir, M.pick_up(ball_color, C.BALL))


def _remove_wall_above(grid, rooms: RoomGrid, col: int, row: int) -> jax.Array:
    """Farama's ``remove_wall(col, row, 3)``: clear the inner cells of the
    room's top wall."""
    step = rooms.room_size - 1
    xs, ys = L.cell_coords(rooms.width, rooms.height)
    x0 = col * step
    wall = (ys == row * step) & (xs > x0) & (xs < x0 + step)
    return L.paint(grid, wall, C.EMPTY_CELL)
