"""Farama's ObstructedMaze tasks: locked doors whose keys hide in boxes,
doors blocked by balls, and a blue ball to pick up somewhere behind them."""

import jax
import jax.numpy as jnp

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import levels as L
from jaxrl.envs.gridworld import missions as M
from jaxrl.envs.gridworld.core import GridParams, Level
from jaxrl.envs.gridworld.room_grid import RoomGrid
from jaxrl.envs.gridworld.room_tasks import PickUpTask

# Farama picks these as COLOR_NAMES[0..2] of its sorted color names.
_TARGET, _BLOCKER, _BOX = C.BLUE, C.GREEN, C.GREY
_SIDE_ROOMS = ((2, 1), (1, 2), (0, 1), (1, 0))  # (col, row), right/down/left/up
_CORNERS = ((2, 0), (2, 2), (0, 2), (0, 0))


class ObstructedMaze(PickUpTask):
    """Pick up the blue ball, behind locked doors whose keys may be hidden in
    boxes and whose doorways may be blocked by balls.

    Farama's ``ObstructedMaze_1Dlhb`` (``layout="1D"``: two rooms, one locked
    door) and ``ObstructedMaze_Full`` (``layout="full"``: 3x3 rooms; from the
    middle room a closed, unlocked door into each of the first
    ``num_quarters`` side rooms, and from each side room a locked door into
    each neighbouring corner room, the blue ball in a uniform one of the first
    ``num_quarters`` corners). Door colors are a uniform permutation of the
    six colors. Each locked door's key (in a grey box with ``key_in_box``;
    toggle the box to get it) lies in the room on the agent's side, and with
    ``blocked`` a green ball stands just inside that room in front of the
    door. ``version=1`` places both keys of a side room after both its doors
    (Farama's v1, which fixed v0's blocking ball sometimes landing on the
    first key); version 0 keeps v0's order and its flaw. Step limit
    ``4 * num_rooms_visited * 36``.
    """

    def __init__(
        self, layout: str = "full", agent_room: tuple[int, int] = (1, 1),
        key_in_box: bool = True, blocked: bool = True, num_quarters: int = 4,
        num_rooms_visited: int = 25, version: int = 0, view_size: int = 7,
    ):  # fmt: skip
        if layout not in ("1D", "full"):
            raise ValueError(f"layout must be '1D' or 'full', got {layout!r}")
        if not isinstance(num_quarters, int) or not 1 <= num_quarters <= 4:
            raise ValueError(
                f"num_quarters must be an int in [1, 4], got {num_quarters!r}"
            )
        if version not in (0, 1):
            raise ValueError(f"version must be 0 or 1, got {version!r}")
        rooms = RoomGrid(6, 1, 2) if layout == "1D" else RoomGrid(6, 3, 3)
        super().__init__(rooms, 4 * num_rooms_visited * 36, view_size)
        self.layout = layout  # static
        self.agent_room = tuple(agent_room)  # static
        self.key_in_box = key_in_box  # static
        self.blocked = blocked  # static
        self.num_quarters = num_quarters  # static
        self.version = version  # static

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        rooms = self.rooms
        num_cells = rooms.num_rows * rooms.num_cols
        doors_at = rooms.door_positions(L.random_words(key, 2 * num_cells))
        words = L.random_words(jax.random.fold_in(key, 1), 6 + 16 + 3)
        colors = jnp.argsort(words[:6]).astype(jnp.int32)
        grid = rooms.walls()
        place_words = iter(words[6:])
        if self.layout == "1D":
            grid = self._locked_door(grid, doors_at, (0, 0), 0, colors[0])
            grid = self._key(grid, next(place_words), (0, 0), colors[0])
            ball_room = jnp.array([1, 0], jnp.int32)
        else:
            for index, side in enumerate(_SIDE_ROOMS[: self.num_quarters]):
                door = doors_at[1, 1, index]
                grid = L.put(grid, door, _cell(C.DOOR, colors[index], C.CLOSED))
                walls = [(index + k) % 4 for k in (-1, 1)]
                door_colors = [colors[(index + k) % 6] for k in (-1, 1)]
                if self.version == 0:
                    for wall, color in zip(walls, door_colors, strict=True):
                        grid = self._locked_door(grid, doors_at, side, wall, color)
                        grid = self._key(grid, next(place_words), side, color)
                else:
                    for wall, color in zip(walls, door_colors, strict=True):
                        grid = self._locked_door(grid, doors_at, side, wall, color)
                    for color in door_colors:
                        grid = self._key(grid, next(place_words), side, color)
            corners = jnp.array(_CORNERS[: self.num_quarters], jnp.int32)
            ball_room = corners[L.below(words[-3], self.num_quarters)]
        ball = rooms.place_in_room(
            words[-2], grid, ball_room[0], ball_room[1], rooms.centre
        )
        grid = L.put(grid, ball, _cell(C.BALL, _TARGET, 0))
        agent_pos, agent_dir = rooms.place_agent(words[-1], grid, *self.agent_room)
        return Level(grid, agent_pos, agent_dir, M.pick_up(_TARGET, C.BALL))

    def _locked_door(self, grid, doors_at, room, wall, color):
        col, row = room
        door = doors_at[row, col, wall]
        grid = L.put(grid, door, _cell(C.DOOR, color, C.LOCKED))
        if self.blocked:
            inward = door - jnp.asarray(C.DIR_TO_VEC)[wall]
            grid = L.put(grid, inward, _cell(C.BALL, _BLOCKER, 0))
        return grid

    def _key(self, grid, word, room, color):
        if self.key_in_box:
            thing = _cell(C.BOX, _BOX, C.KEY * 16 + color)  # the box holds the key
        else:
            thing = _cell(C.KEY, color, 0)
        pos = self.rooms.place_in_room(word, grid, room[0], room[1], self.rooms.centre)
        return L.put(grid, pos, thing)


def _cell(obj, color, state) -> jax.Array:
    return jnp.stack([jnp.int32(obj), jnp.asarray(color, jnp.int32),
                      jnp.asarray(state, jnp.int32)])  # fmt: skip
