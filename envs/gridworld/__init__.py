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
from jaxrl.envs.gridworld.door_tasks import LockedRoom, Playground, RedBlueDoors
from jaxrl.envs.gridworld.farama import from_minigrid
from jaxrl.envs.gridworld.instructions import Fetch, GoToDoor, GoToObject, PutNear
from jaxrl.envs.gridworld.lava import Crossing, DistShift, LavaGap
from jaxrl.envs.gridworld.memory import Memory
from jaxrl.envs.gridworld.multiroom import MultiRoom
from jaxrl.envs.gridworld.obstacles import DynamicObstacles
from jaxrl.envs.gridworld.obstructed_maze import ObstructedMaze
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
from jaxrl.registry import ids, register, register_alias

__all__ = [
    "BlockedUnlockPickup", "Crossing", "DistShift", "DoorKey", "DynamicObstacles",
    "Empty", "Fetch", "FourRooms", "GoToDoor", "GoToObject", "GridParams", "GridState",
    "KeyCorridor", "LavaGap", "Level", "LevelTextError", "LockedRoom", "Memory",
    "MiniGridEnv", "MultiRoom", "Observation", "ObstructedMaze", "Playground",
    "PutNear", "RedBlueDoors", "TextLevels", "Unlock", "UnlockPickup", "constants",
    "from_minigrid", "level_to_text", "observe_image", "parse_level", "transition",
]  # fmt: skip

_EARLIER_IDS = set(ids())
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
for _size in (5, 6, 8):
    register(f"GoToDoor-{_size}x{_size}", GoToDoor, {"size": _size})
for _size, _count in ((6, 2), (8, 2)):
    register(
        f"GoToObject-{_size}x{_size}-N{_count}", GoToObject,
        {"size": _size, "num_objects": _count},
    )  # fmt: skip
for _size, _count in ((5, 2), (6, 2), (8, 3)):
    register(
        f"Fetch-{_size}x{_size}-N{_count}", Fetch,
        {"size": _size, "num_objects": _count},
    )  # fmt: skip
for _size, _count in ((6, 2), (8, 3)):
    register(
        f"PutNear-{_size}x{_size}-N{_count}", PutNear,
        {"size": _size, "num_objects": _count},
    )  # fmt: skip
for _size in (6, 8):
    register(f"RedBlueDoors-{_size}x{_size}", RedBlueDoors, {"size": _size})
register("LockedRoom", LockedRoom)
register("Playground", Playground)
for _size in (7, 9, 11, 13, 17):
    register(f"MemoryS{_size}", Memory, {"size": _size})
for _size in (13, 17):
    register(f"MemoryS{_size}Random", Memory, {"size": _size, "random_length": True})
for _size, _count in ((5, 2), (6, 3), (8, 4), (16, 8)):
    _kwargs = {"size": _size, "num_obstacles": _count}
    register(f"Dynamic-Obstacles-{_size}x{_size}", DynamicObstacles, _kwargs)
    if _size in (5, 6):
        register(
            f"Dynamic-Obstacles-Random-{_size}x{_size}", DynamicObstacles,
            {**_kwargs, "random_start": True},
        )  # fmt: skip
for _name, _rooms, _size in (("N2-S4", 2, 4), ("N4-S5", 6, 5), ("N4-S5-v1", 4, 5),
                              ("N6", 6, 10)):  # fmt: skip
    # Farama's MultiRoom-N4-S5-v0 has 6 rooms (kept for compatibility); -v1 has 4.
    register(
        f"MultiRoom-{_name}", MultiRoom,
        {"min_rooms": _rooms, "max_rooms": _rooms, "max_room_size": _size},
    )  # fmt: skip
for _name, _box, _blocked in (("1Dl", False, False), ("1Dlh", True, False),
                              ("1Dlhb", True, True)):  # fmt: skip
    register(
        f"ObstructedMaze-{_name}", ObstructedMaze,
        {"layout": "1D", "agent_room": (0, 0), "key_in_box": _box,
         "blocked": _blocked, "num_quarters": 1, "num_rooms_visited": 2},
    )  # fmt: skip
_FULL_MAZES = {
    "2Dl": ((2, 1), False, False, 1, 4), "2Dlh": ((2, 1), True, False, 1, 4),
    "2Dlhb": ((2, 1), True, True, 1, 4), "1Q": ((1, 1), True, True, 1, 5),
    "2Q": ((2, 1), True, True, 2, 11), "Full": ((1, 1), True, True, 4, 25),
}  # fmt: skip
for _name, (_room, _box, _blocked, _quarters, _visited) in _FULL_MAZES.items():
    _kwargs = {"layout": "full", "agent_room": _room, "key_in_box": _box,
               "blocked": _blocked, "num_quarters": _quarters,
               "num_rooms_visited": _visited}  # fmt: skip
    register(f"ObstructedMaze-{_name}", ObstructedMaze, _kwargs)
    if _name in ("2Dlhb", "1Q", "2Q", "Full"):
        register(
            f"ObstructedMaze-{_name}-v1", ObstructedMaze, {**_kwargs, "version": 1}
        )

# Farama's names: "MiniGrid-" before the id, and "-v0" after it unless the id
# ends in its own version ("MiniGrid-ObstructedMaze-Full-v1").
for _env_id in ids():
    if _env_id not in _EARLIER_IDS:
        _versioned = _env_id.rsplit("-", 1)[-1] in ("v0", "v1")
        register_alias(f"MiniGrid-{_env_id}{'' if _versioned else '-v0'}", _env_id)
