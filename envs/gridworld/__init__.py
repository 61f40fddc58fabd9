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
from jaxrl.envs.gridworld.lava import Crossing, DistShift, LavaGap
from jaxrl.envs.gridworld.room_tasks import (
    BlockedUnlockPickup,
    KeyCorridor,
    Unlock,
    UnlockPickup,
)
from jaxrl.envs.gridworld.tasks import DoorKey, Empty, FourRooms
from jaxrl.envs.gridworld.text_levels import (
    LevelTextError,
    TextLevels,
    level_to_text,
    parse_level,
)
from jaxrl.registry import register

__all__ = [
    "BlockedUnlockPickup", "Crossing", "DistShift", "KeyCorridor", "LavaGap",
    "Unlock", "UnlockPickup",
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
register("Unlock", Unlock)
register("UnlockPickup", UnlockPickup)
register("BlockedUnlockPickup", BlockedUnlockPickup)
for _size, _rows in ((3, 1), (3, 2), (3, 3), (4, 3), (5, 3), (6, 3)):
    register(
        f"KeyCorridorS{_size}R{_rows}", KeyCorridor,
        {"room_size": _size, "num_rows": _rows},
    )  # fmt: skip
for _size in (5, 6, 7):
    register(f"LavaGapS{_size}", LavaGap, {"size": _size})
for _size, _count in ((9, 1), (9, 2), (9, 3), (11, 5)):
    for _name, _obstacle in (("Lava", "lava"), ("Simple", "wall")):
        register(
            f"{_name}CrossingS{_size}N{_count}", Crossing,
            {"size": _size, "num_crossings": _count, "obstacle": _obstacle},
        )  # fmt: skip
register("DistShift1", DistShift, {"strip2_row": 2})
register("DistShift2", DistShift, {"strip2_row": 5})
