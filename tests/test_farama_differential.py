"""Step-by-step agreement with Farama MiniGrid (the reference implementation).

Each episode starts from the level Farama generated, copied into a
:class:`GridState`; both environments then take the same random actions and
must give the same image, direction, reward, termination and truncation at
every step.
"""

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


# One or two ids per family: every family's level layout and rules.
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
# How many walks per id reach each rule, summed over the run.
_RULES_SEEN = {"pickup": 0, "door": 0, "success": 0, "box opened": 0}


def _faces_box(state) -> bool:
    front = np.asarray(state.agent_pos) + C.DIR_TO_VEC[int(state.agent_dir)]
    return int(state.grid[front[0], front[1], 0]) == C.BOX


def _farama(env_id):
    suffix = "" if env_id.endswith("-v1") else "-v0"
    return gym.make(f"MiniGrid-{env_id}{suffix}").unwrapped


def assert_same_step(ours_state, obs, farama, farama_obs, context):
    """Agent, carried object, full grid and observation equal Farama's."""
    assert tuple(np.asarray(ours_state.agent_pos)) == tuple(farama.agent_pos), context
    assert int(ours_state.agent_dir) == farama.agent_dir, context
    carried = np.asarray(as_seen(ours_state.carrying))
    expected = C.EMPTY_CELL if farama.carrying is None else farama.carrying.encode()
    np.testing.assert_array_equal(carried, expected, context)
    grid = np.asarray(as_seen(ours_state.grid))
    np.testing.assert_array_equal(grid, farama.grid.encode(), context)
    np.testing.assert_array_equal(obs.image, farama_obs["image"], context)
    assert int(obs.direction) == farama_obs["direction"], context
    assert MISSIONS[int(obs.mission)] == farama_obs["mission"], context


@pytest.mark.parametrize("env_id", FAMILIES)
def test_same_steps_as_farama(env_id):
    ours, params = jaxrl.make(env_id)
    farama = _farama(env_id)
    assert farama.max_steps == params.max_steps_in_episode
    assert farama.agent_view_size == ours.view_size
    assert farama.see_through_walls == ours.see_through_walls
    assert (farama.width, farama.height) == (ours.width, ours.height)
    step = jax.jit(ours.step_env)
    observe = jax.jit(lambda s: ours.observe(None, s, None, params))
    rng = np.random.default_rng(0)
    steps_checked = 0
    for episode in range(100):
        if episode >= 4 and steps_checked > 150:
            break
        farama_obs, _ = farama.reset(seed=episode)
        _, _, state = from_minigrid(farama)
        assert_same_step(state, observe(state), farama, farama_obs, env_id)
        for _ in range(min(farama.max_steps, MAX_WALK)):
            action = int(rng.choice(7, p=ACTION_WEIGHTS))
            before = state
            farama_obs, reward, terminated, truncated, _ = farama.step(action)
            obs, state, our_reward, our_terminated, _ = step(
                jax.random.key(0), state, action, params
            )
            steps_checked += 1
            context = f"{env_id} episode {episode} step {int(state.time)}"
            assert_same_step(state, obs, farama, farama_obs, context)
            assert np.isclose(float(our_reward), reward, atol=1e-6), context
            assert bool(our_terminated) == terminated, context
            assert bool(ours.is_truncated(state, params)) == truncated, context
            _RULES_SEEN["pickup"] += int(state.carrying[0]) != C.EMPTY
            grid = np.asarray(state.grid)
            _RULES_SEEN["door"] += bool(
                np.any((grid[..., 0] == C.DOOR) & (grid[..., 2] == C.OPEN))
            )
            _RULES_SEEN["success"] += reward > 0
            _RULES_SEEN["box opened"] += action == C.TOGGLE and _faces_box(before)
            if terminated or truncated:
                break
    assert steps_checked > 150


def test_the_walks_reached_the_rules():
    """The random walks above picked things up, opened doors and succeeded
    (so the rules were compared, not only walking)."""
    if _RULES_SEEN["success"] == 0:
        for env_id in FAMILIES:
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
    step = jax.jit(env.step_env)
    for _ in range(60):
        action = int(rng.choice(7, p=ACTION_WEIGHTS))
        farama_obs, reward, terminated, truncated, _ = farama.step(action)
        obs, state, our_reward, our_terminated, _ = step(
            jax.random.key(0), state, action, params
        )
        np.testing.assert_array_equal(obs.image, farama_obs["image"])
        assert np.isclose(float(our_reward), reward, atol=1e-6)
        assert bool(our_terminated) == terminated
        assert bool(env.is_truncated(state, params)) == truncated
        if terminated or truncated:
            break
