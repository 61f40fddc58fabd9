"""jaxrl's gridworlds in gymnasium's registry, as ``"jaxrl/<Name>-v0"``.

``import jaxrl`` registers them (cheaply: nothing JAX runs and gymnax is not
imported until an environment is made), and gymnasium imports jaxrl itself
when the id names the module first::

    import gymnasium

    env = gymnasium.make("jaxrl:jaxrl/DoorKey-5x5-v0")  # imports jaxrl
    vec = gymnasium.make_vec("jaxrl:jaxrl/DoorKey-5x5-v0", num_envs=8)

After ``import jaxrl`` the plain id works too:
``gymnasium.make("jaxrl/DoorKey-5x5-v0")``.

WARN: gymnasium 1.x has no plugin mechanism (0.26-0.29 loaded the
``gymnasium.envs`` entry points on import; 1.0 removed that), and
``gymnasium.make`` imports nothing but the module named before a ``:``.
So ``gymnasium.make("jaxrl/...")`` in a process that never imported jaxrl
finds no such id, whatever jaxrl's packaging says.

The single env is :class:`~jaxrl.gymnasium_adapter.GymnasiumEnv`;
``make_vec`` goes through the spec's ``vector_entry_point`` to
:class:`~jaxrl.gymnasium_adapter.GymnasiumVectorEnv`, which steps every copy
in one jitted, vmapped call (same-step auto-reset). Keyword arguments of
``make`` and ``make_vec`` go to ``jaxrl.make``
(``gymnasium.make("jaxrl/DoorKey-8x8-v0", max_steps=50)``). Ids that carry
their own version (``"ObstructedMaze-Full-v1"``) keep it
(``"jaxrl/ObstructedMaze-Full-v1"``), as in Farama MiniGrid.
"""

from collections.abc import Iterable
from typing import Any

NAMESPACE = "jaxrl"

# The gridworld ids of jaxrl.registry.ids(), in its order. Spelled out so
# that registering them imports no environment (gymnax starts a JAX backend
# when imported); tests check this list against the registry.
GRIDWORLD_IDS = (
    "Empty-5x5", "Empty-6x6", "Empty-8x8", "Empty-16x16", "Empty-Random-5x5",
    "Empty-Random-6x6", "DoorKey-5x5", "DoorKey-6x6", "DoorKey-8x8",
    "DoorKey-16x16", "FourRooms", "Unlock", "UnlockPickup", "BlockedUnlockPickup",
    "KeyCorridorS3R1", "KeyCorridorS3R2", "KeyCorridorS3R3", "KeyCorridorS4R3",
    "KeyCorridorS5R3", "KeyCorridorS6R3", "LavaGapS5", "LavaGapS6", "LavaGapS7",
    "LavaCrossingS9N1", "SimpleCrossingS9N1", "LavaCrossingS9N2",
    "SimpleCrossingS9N2", "LavaCrossingS9N3", "SimpleCrossingS9N3",
    "LavaCrossingS11N5", "SimpleCrossingS11N5", "DistShift1", "DistShift2",
    "GoToDoor-5x5", "GoToDoor-6x6", "GoToDoor-8x8", "GoToObject-6x6-N2",
    "GoToObject-8x8-N2", "Fetch-5x5-N2", "Fetch-6x6-N2", "Fetch-8x8-N3",
    "PutNear-6x6-N2", "PutNear-8x8-N3", "RedBlueDoors-6x6", "RedBlueDoors-8x8",
    "LockedRoom", "Playground", "MemoryS7", "MemoryS9", "MemoryS11", "MemoryS13",
    "MemoryS17", "MemoryS13Random", "MemoryS17Random", "Dynamic-Obstacles-5x5",
    "Dynamic-Obstacles-Random-5x5", "Dynamic-Obstacles-6x6",
    "Dynamic-Obstacles-Random-6x6", "Dynamic-Obstacles-8x8",
    "Dynamic-Obstacles-16x16", "MultiRoom-N2-S4", "MultiRoom-N4-S5",
    "MultiRoom-N4-S5-v1", "MultiRoom-N6", "ObstructedMaze-1Dl",
    "ObstructedMaze-1Dlh", "ObstructedMaze-1Dlhb", "ObstructedMaze-2Dl",
    "ObstructedMaze-2Dlh", "ObstructedMaze-2Dlhb", "ObstructedMaze-2Dlhb-v1",
    "ObstructedMaze-1Q", "ObstructedMaze-1Q-v1", "ObstructedMaze-2Q",
    "ObstructedMaze-2Q-v1", "ObstructedMaze-Full", "ObstructedMaze-Full-v1",
)  # fmt: skip


def gymnasium_id(env_id: str) -> str:
    """The gymnasium id of a jaxrl id: ``"DoorKey-5x5"`` ->
    ``"jaxrl/DoorKey-5x5-v0"``; an id ending in ``-v<N>`` keeps its version."""
    name, _, version = env_id.rpartition("-v")
    versioned = bool(name) and version.isdigit()
    return f"{NAMESPACE}/{env_id if versioned else env_id + '-v0'}"


def make_env(env_id: str, render_mode: str | None = None, **make_kwargs: Any):
    """``gymnasium.make``'s entry point: ``jaxrl.to_gymnasium(env_id, ...)``.

    Args:
        env_id: the jaxrl id (the spec's ``kwargs`` hold it).
        render_mode: ``None`` or ``"rgb_array"``.
        **make_kwargs: passed to ``jaxrl.make``.

    Returns:
        A :class:`~jaxrl.gymnasium_adapter.GymnasiumEnv`.
    """
    from jaxrl.gymnasium_adapter import to_gymnasium

    return to_gymnasium(env_id, render_mode=render_mode, **make_kwargs)


# gymnasium.make reads the entry point's render modes: with them it offers
# "rgb_array_list" (RenderCollection) and "human" (HumanRendering) on top.
make_env.metadata = {"render_modes": ["rgb_array"]}  # type: ignore[attr-defined]


def make_vector_env(env_id: str, num_envs: int, **make_kwargs: Any):
    """``gymnasium.make_vec``'s vector entry point:
    ``jaxrl.to_gymnasium(env_id, num_envs=num_envs, ...)``.

    Returns:
        A :class:`~jaxrl.gymnasium_adapter.GymnasiumVectorEnv`: ``num_envs``
        copies stepped in one jitted, vmapped call.
    """
    from jaxrl.gymnasium_adapter import to_gymnasium

    return to_gymnasium(env_id, num_envs=num_envs, **make_kwargs)


def register_envs(env_ids: Iterable[str] = GRIDWORLD_IDS) -> list[str]:
    """Register jaxrl ids with gymnasium under ``"jaxrl/<Name>-v0"``.

    ``import jaxrl`` calls this for the gridworlds; call it for ids of your
    own (``jaxrl.register``) to make them with gymnasium. Ids already in
    gymnasium's registry are left as they are.

    Args:
        env_ids: jaxrl ids; each is checked only when made.

    Returns:
        The gymnasium ids, in order.
    """
    import gymnasium

    gym_ids = []
    for env_id in env_ids:
        if not isinstance(env_id, str) or not env_id:
            raise ValueError(f"env_ids must hold non-empty strs, got {env_id!r}")
        gym_ids.append(gymnasium_id(env_id))
        if gym_ids[-1] not in gymnasium.registry:
            gymnasium.register(
                id=gym_ids[-1],
                entry_point=f"{__name__}:make_env",
                vector_entry_point=f"{__name__}:make_vector_env",
                nondeterministic=False,  # the same seed replays the same episode
                kwargs={"env_id": env_id},
            )
    return gym_ids
