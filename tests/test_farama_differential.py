"""Step-by-step agreement with Farama MiniGrid (the reference implementation).

Each episode starts from the level Farama generated, copied into a
:class:`GridState`; both environments then take the same random actions and
must give the same image, direction, reward, termination and truncation at
every step.
"""

from typing import Any, NamedTuple

import gymnasium as gym
import jax
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np
import pytest

import jaxrl
from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import from_minigrid
from jaxrl.envs.gridworld.core import as_seen
from jaxrl.envs.gridworld.missions import MISSIONS

# forward, pickup and toggle more often than turning, so that random walks
# reach keys and doors
ACTION_WEIGHTS = np.array([2, 2, 4, 2, 1, 2, 1], float) / 14


# One or more ids per family: every family's level layout and rules. The
# default run steps the first id of each environment class; the others (the
# same step code at other sizes and layouts) run with --exhaustive.
FAMILIES = [
    "Empty-5x5", "Empty-Random-6x6", "DoorKey-5x5", "DoorKey-8x8", "FourRooms",
    "Unlock", "UnlockPickup", "BlockedUnlockPickup", "KeyCorridorS3R2",
    "KeyCorridorS4R3", "LavaGapS6", "LavaCrossingS9N2", "SimpleCrossingS9N3",
    "DistShift2", "GoToDoor-8x8", "GoToObject-6x6-N2", "Fetch-5x5-N2",
    "PutNear-6x6-N2", "RedBlueDoors-6x6", "LockedRoom", "Playground", "MemoryS7",
    "MemoryS13Random", "MultiRoom-N2-S4", "MultiRoom-N6", "ObstructedMaze-1Dlhb",
    "ObstructedMaze-2Dlh", "ObstructedMaze-Full", "ObstructedMaze-1Q-v1",
]  # fmt: skip
# Long step limits (ObstructedMaze-Full: 3600) are walked only this far;
# truncation is compared on the tasks with short limits.
MAX_WALK = 400
# How many walks per id reach each rule, summed over the ids this process ran.
_RULES_SEEN = {"pickup": 0, "door": 0, "success": 0, "box opened": 0}
_RAN: set[str] = set()
# Ids whose walks reach every rule between them (success, keys and doors,
# boxes), stepped again where a worker process ran none of them.
RULE_IDS = ("Empty-5x5", "DoorKey-5x5", "ObstructedMaze-1Dlhb")


def _one_per_class(env_ids):
    """``env_ids`` as pytest params, all but the first of each class exhaustive."""
    params, classes = [], set()
    for env_id in env_ids:
        env_class = type(jaxrl.make(env_id)[0])
        marks = [pytest.mark.exhaustive] if env_class in classes else []
        classes.add(env_class)
        params.append(pytest.param(env_id, marks=marks))
    return params


class Seen(NamedTuple):
    """What one step is compared on, fetched from the device in one transfer."""

    agent_pos: np.ndarray  # (2,) int32
    agent_dir: np.ndarray  # () int32
    carrying: np.ndarray  # (3,) uint8, as Farama encodes it (box contents hidden)
    grid: np.ndarray  # (W, H, 3) uint8, as Farama encodes it
    cells: np.ndarray  # (W, H, 3) uint8, our own encoding (door states, boxes)
    obs: Any  # Observation
    truncated: np.ndarray  # () bool


def _compiled(ours, params):
    """Jitted ``observe(state) -> Seen`` and ``step(state, action) -> (state,
    reward, terminated, Seen)``: one dispatch a step (calling ``as_seen`` and
    indexing device arrays step by step took most of this file's time)."""

    def look(state, obs):
        return Seen(
            state.agent_pos, state.agent_dir, as_seen(state.carrying),
            as_seen(state.grid), state.grid, obs, ours.is_truncated(state, params),
        )  # fmt: skip

    def observe(state):
        return look(state, ours.observe(None, state, None, params))

    def step(state, action):
        obs, state, reward, terminated, _ = ours.step_env(
            jax.random.key(0), state, action, params
        )
        return state, reward, terminated, look(state, obs)

    return jax.jit(observe), jax.jit(step)


def _faces_box(seen: Seen) -> bool:
    front = seen.agent_pos + C.DIR_TO_VEC[int(seen.agent_dir)]
    return int(seen.cells[front[0], front[1], 0]) == C.BOX


def _farama(env_id):
    suffix = "" if env_id.endswith("-v1") else "-v0"
    return gym.make(f"MiniGrid-{env_id}{suffix}").unwrapped


def assert_same_step(seen: Seen, farama, farama_obs, context):
    """Agent, carried object, full grid and observation equal Farama's."""
    assert tuple(seen.agent_pos) == tuple(farama.agent_pos), context
    assert int(seen.agent_dir) == farama.agent_dir, context
    expected = C.EMPTY_CELL if farama.carrying is None else farama.carrying.encode()
    np.testing.assert_array_equal(seen.carrying, expected, context)
    np.testing.assert_array_equal(seen.grid, farama.grid.encode(), context)
    np.testing.assert_array_equal(seen.obs.image, farama_obs["image"], context)
    assert int(seen.obs.direction) == farama_obs["direction"], context
    assert MISSIONS[int(seen.obs.mission)] == farama_obs["mission"], context


@pytest.mark.parametrize("env_id", _one_per_class(FAMILIES))
def test_same_steps_as_farama(env_id):
    ours, params = jaxrl.make(env_id)
    farama = _farama(env_id)
    assert farama.max_steps == params.max_steps_in_episode
    assert farama.agent_view_size == ours.view_size
    assert farama.see_through_walls == ours.see_through_walls
    assert (farama.width, farama.height) == (ours.width, ours.height)
    observe, step = _compiled(ours, params)
    _RAN.add(env_id)
    rng = np.random.default_rng(0)
    steps_checked = 0
    for episode in range(100):
        if episode >= 4 and steps_checked > 150:
            break
        farama_obs, _ = farama.reset(seed=episode)
        _, _, state = from_minigrid(farama)
        seen = jax.device_get(observe(state))
        assert_same_step(seen, farama, farama_obs, env_id)
        for t in range(min(farama.max_steps, MAX_WALK)):
            action = int(rng.choice(7, p=ACTION_WEIGHTS))
            before = seen
            farama_obs, reward, terminated, truncated, _ = farama.step(action)
            state, *out = step(state, action)
            our_reward, our_terminated, seen = jax.device_get(out)
            steps_checked += 1
            context = f"{env_id} episode {episode} step {t + 1}"
            assert_same_step(seen, farama, farama_obs, context)
            assert np.isclose(float(our_reward), reward, atol=1e-6), context
            assert bool(our_terminated) == terminated, context
            assert bool(seen.truncated) == truncated, context
            _RULES_SEEN["pickup"] += int(seen.carrying[0]) != C.EMPTY
            _RULES_SEEN["door"] += bool(
                np.any((seen.cells[..., 0] == C.DOOR) & (seen.cells[..., 2] == C.OPEN))
            )
            _RULES_SEEN["success"] += reward > 0
            _RULES_SEEN["box opened"] += action == C.TOGGLE and _faces_box(before)
            if terminated or truncated:
                break
    assert steps_checked > 150


def test_the_walks_reached_the_rules():
    """The random walks above picked things up, opened doors, opened boxes
    and succeeded (so the rules were compared, not only walking).

    The counts are this process's: run alone, or in a test worker that got
    few of the walks, the walks of RULE_IDS not yet run here are run first.
    """
    for env_id in RULE_IDS:
        if env_id not in _RAN and not all(_RULES_SEEN.values()):
            test_same_steps_as_farama(env_id)
    assert all(count > 0 for count in _RULES_SEEN.values()), _RULES_SEEN


def test_from_minigrid_replays_a_farama_episode_midway():
    """Convert Farama's DoorKey after the key is picked up, then keep stepping
    both with the converted env: same images, rewards and ends."""
    farama = gym.make("MiniGrid-DoorKey-5x5-v0").unwrapped
    rng = np.random.default_rng(1)
    for seed in range(20):
        farama.reset(seed=seed)
        for _ in range(200):
            farama.step(int(rng.choice(7, p=ACTION_WEIGHTS)))
            if farama.carrying is not None:
                break
        if farama.carrying is not None:
            break
    assert farama.carrying is not None, "no random walk picked up the key"
    env, params, state = from_minigrid(farama)
    assert int(state.carrying[0]) == C.KEY and int(state.time) == farama.step_count
    _, step = _compiled(env, params)
    for _ in range(60):
        action = int(rng.choice(7, p=ACTION_WEIGHTS))
        farama_obs, reward, terminated, truncated, _ = farama.step(action)
        state, *out = step(state, action)
        our_reward, our_terminated, seen = jax.device_get(out)
        np.testing.assert_array_equal(seen.obs.image, farama_obs["image"])
        assert np.isclose(float(our_reward), reward, atol=1e-6)
        assert bool(our_terminated) == terminated
        assert bool(seen.truncated) == truncated
        if terminated or truncated:
            break
