"""Integer codes shared with Farama MiniGrid's observation encoding.

A cell is encoded as three integers ``(object, color, state)``, exactly as
``minigrid.core.grid.Grid.encode`` does, so an observation here and one from
Farama MiniGrid can be compared value for value.
"""

import numpy as np

# Object codes (Farama's OBJECT_TO_IDX).
UNSEEN = 0
EMPTY = 1
WALL = 2
FLOOR = 3
DOOR = 4
KEY = 5
BALL = 6
BOX = 7
GOAL = 8
LAVA = 9
AGENT = 10
NUM_OBJECTS = 11

OBJECT_NAMES = (
    "unseen", "empty", "wall", "floor", "door", "key",
    "ball", "box", "goal", "lava", "agent",
)  # fmt: skip

# Color codes (Farama's COLOR_TO_IDX).
RED, GREEN, BLUE, PURPLE, YELLOW, GREY = range(6)
NUM_COLORS = 6
COLOR_NAMES = ("red", "green", "blue", "purple", "yellow", "grey")

# Door state codes (Farama's STATE_TO_IDX); other objects always encode 0.
OPEN, CLOSED, LOCKED = 0, 1, 2
NUM_STATES = 3

# Actions (Farama's MiniGridEnv.Actions).
LEFT, RIGHT, FORWARD, PICKUP, DROP, TOGGLE, DONE = range(7)
NUM_ACTIONS = 7
ACTION_NAMES = ("left", "right", "forward", "pickup", "drop", "toggle", "done")

# Directions: 0 right (+x), 1 down (+y), 2 left, 3 up; rows of (dx, dy).
DIR_TO_VEC = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.int32)

# Encoded cells used when building levels, as (object, color, state).
EMPTY_CELL = (EMPTY, 0, 0)
WALL_CELL = (WALL, GREY, 0)
GOAL_CELL = (GOAL, GREEN, 0)


def box_cell(color: int, contents: tuple[int, int] | None = None) -> tuple:
    """Encoded box; its state byte holds ``contents`` ``(object, color)``.

    Farama's encoding shows a box's state as 0 whatever it holds; the byte is
    hidden from observations (``core.as_seen``) and read when the box is
    toggled open (the box becomes its contents).
    """
    inside = 0 if contents is None else contents[0] * 16 + contents[1]
    return (BOX, color, inside)
