"""MiniGrid-like gridworlds with Farama MiniGrid's dynamics and observations.

Registered ids drop Farama's ``MiniGrid-`` prefix and ``-v0`` suffix
(``"DoorKey-5x5"``); the full Farama ids are accepted too.
"""

from jaxrl.envs.gridworld import constants
from jaxrl.envs.gridworld.core import (
    GridParams,
    GridState,
    Level,
    MiniGridEnv,
    Observation,
    observe_image,
    transition,
)
from jaxrl.envs.gridworld.farama import from_minigrid
from jaxrl.envs.gridworld.tasks import DoorKey, Empty, FourRooms
from jaxrl.envs.gridworld.text_levels import (
    LevelTextError,
    TextLevels,
    level_to_text,
    parse_level,
)
from jaxrl.registry import register

__all__ = [
    "DoorKey", "Empty", "FourRooms", "GridParams", "GridState", "Level",
    "LevelTextError", "MiniGridEnv", "Observation", "TextLevels", "constants",
    "from_minigrid", "level_to_text", "observe_image", "parse_level", "transition",
]  # fmt: skip

for _size in (5, 6, 8, 16):
    register(f"Empty-{_size}x{_size}", Empty, {"size": _size})
for _size in (5, 6):
    register(
        f"Empty-Random-{_size}x{_size}", Empty, {"size": _size, "random_start": True}
    )
for _size in (5, 6, 8, 16):
    register(f"DoorKey-{_size}x{_size}", DoorKey, {"size": _size})
register("FourRooms", FourRooms)
