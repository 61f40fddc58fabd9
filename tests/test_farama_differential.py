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

# forward, pickup and toggle more often than turning, so that random walks
# reach keys and doors
ACTION_WEIGHTS = np.array([2, 2, 4, 2, 1, 2, 1], float) / 14


@pytest.mark.parametrize(
    "env_id",
    ["Empty-5x5", "Empty-Random-6x6", "DoorKey-5x5", "DoorKey-8x8", "FourRooms"],
)
def test_same_observations_rewards_and_ends_as_farama(env_id):
    ours, params = jaxrl.make(env_id)
    farama = gym.make(f"MiniGrid-{env_id}-v0").unwrapped
    assert farama.max_steps == params.max_steps_in_episode
    step = jax.jit(ours.step_env)
    observe = jax.jit(lambda s: ours.observe(None, s, None, params))
    rng = np.random.default_rng(0)
    steps_checked, picked_key, opened_door = 0, False, False
    for episode in range(4):
        farama_obs, _ = farama.reset(seed=episode)
        _, _, state = from_minigrid(farama)
        obs = observe(state)
        np.testing.assert_array_equal(obs.image, farama_obs["image"])
        for _ in range(farama.max_steps):
            action = int(rng.choice(7, p=ACTION_WEIGHTS))
            farama_obs, reward, terminated, truncated, _ = farama.step(action)
            obs, state, our_reward, our_terminated, _ = step(
                jax.random.key(0), state, action, params
            )
            steps_checked += 1
            picked_key |= int(state.carrying[0]) == C.KEY
            grid = np.asarray(state.grid)
            opened_door |= bool(
                np.any((grid[..., 0] == C.DOOR) & (grid[..., 2] == C.OPEN))
            )
            context = f"{env_id} episode {episode} step {int(state.time)}"
            np.testing.assert_array_equal(obs.image, farama_obs["image"], context)
            assert int(obs.direction) == farama_obs["direction"], context
            assert np.isclose(float(our_reward), reward, atol=1e-6), context
            assert bool(our_terminated) == terminated, context
            assert bool(ours.is_truncated(state, params)) == truncated, context
            if terminated or truncated:
                break
    assert steps_checked > 100
    if env_id == "DoorKey-5x5":  # the walks did reach the key and door rules
        assert picked_key and opened_door


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
