"""Step-by-step agreement with Farama MiniGrid (the reference implementation).

Each episode starts from the level Farama generated, copied into a
:class:`GridState`; both environments then take the same random actions and
must give the same image, direction, reward, termination and truncation at
every step.
"""

import gymnasium as gym
import jax
import jax.numpy as jnp
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np
import pytest

import jaxrl
from jaxrl.envs.gridworld import GridState
from jaxrl.envs.gridworld import constants as C

# forward, pickup and toggle more often than turning, so that random walks
# reach keys and doors
ACTION_WEIGHTS = np.array([2, 2, 4, 2, 1, 2, 1], float) / 14


def _farama_state(farama) -> GridState:
    return GridState(
        time=jnp.int32(farama.step_count),
        grid=jnp.asarray(farama.grid.encode(), jnp.uint8),
        agent_pos=jnp.asarray(farama.agent_pos, jnp.int32),
        agent_dir=jnp.int32(farama.agent_dir),
        carrying=jnp.asarray(C.EMPTY_CELL, jnp.uint8),
    )


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
        state = _farama_state(farama)
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
