"""Observation modes against Farama's observation wrappers."""

import gymnasium as gym
import jax
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np
import pytest
from minigrid.wrappers import FullyObsWrapper, RGBImgObsWrapper, RGBImgPartialObsWrapper

import jaxrl
from jaxrl.envs.gridworld import from_minigrid
from jaxrl.wrappers import FlattenObservation

WRAPPERS = {
    "full": lambda env, tile: FullyObsWrapper(env),
    "rgb": lambda env, tile: RGBImgPartialObsWrapper(env, tile_size=tile),
    "rgb_full": lambda env, tile: RGBImgObsWrapper(env, tile_size=tile),
}


@pytest.mark.parametrize(
    ("mode", "env_id", "tile"),
    [("full", "DoorKey-6x6", 8), ("rgb", "DoorKey-6x6", 8),
     ("rgb_full", "KeyCorridorS3R2", 8), ("rgb", "ObstructedMaze-1Dlh", 4)],
)  # fmt: skip
def test_observation_equals_farama_wrapper(mode, env_id, tile):
    ours, params = jaxrl.make(env_id, observation=mode, tile_size=tile)
    space = ours.observation_space(params)
    farama = WRAPPERS[mode](gym.make(f"MiniGrid-{env_id}-v0"), tile)
    step = jax.jit(ours.step_env)
    rng = np.random.default_rng(0)
    farama_obs, _ = farama.reset(seed=1)
    _, _, state = from_minigrid(farama.unwrapped)
    obs = ours.observe(None, state, None, params)
    np.testing.assert_array_equal(obs.image, farama_obs["image"])
    for t in range(40):
        action = int(rng.integers(0, 6))
        farama_obs, _, terminated, truncated, _ = farama.step(action)
        obs, state, *_ = step(jax.random.key(0), state, action, params)
        np.testing.assert_array_equal(obs.image, farama_obs["image"], f"step {t}")
        assert obs.image.shape == space.spaces["image"].shape
        assert obs.image.dtype == space.spaces["image"].dtype
        assert np.all(obs.image <= np.asarray(space.spaces["image"].high))
        if terminated or truncated:
            break


def test_bad_observation_mode_and_tile_size_are_named():
    with pytest.raises(ValueError, match="observation must be one of"):
        jaxrl.make("Empty-5x5", observation="pixels")
    with pytest.raises(ValueError, match="tile_size"):
        jaxrl.make("Empty-5x5", observation="rgb", tile_size=2)
    with pytest.raises(TypeError, match="option of other environments only"):
        jaxrl.make("CartPole-v1", observation="rgb")


def test_rgb_mode_trains_through_the_flat_encoder():
    """PPO builds a network for pixel observations (flattened, not one-hot)."""
    from jaxrl.algos.ppo.networks import make_network

    env, params = jaxrl.make("Empty-5x5", observation="rgb", tile_size=4)
    network = make_network(env.observation_space(params), 7, 16, 4)
    obs, _ = env.reset(jax.random.key(0), params)
    batch = jax.tree.map(lambda x: x[None], obs)
    variables = network.init(jax.random.key(1), batch)
    logits, value = network.apply(variables, batch)
    assert logits.shape == (1, 7) and value.shape == (1,)


def test_mission_can_be_left_out():
    env, params = jaxrl.make("Fetch-5x5-N2", mission=False)
    obs, state = env.reset(jax.random.key(0), params)
    assert obs.mission is None and "mission" not in env.observation_space(params).spaces
    obs, *_ = env.step(jax.random.key(1), state, 2, params)
    assert obs.mission is None
    flat = FlattenObservation(env)
    assert flat.reset(jax.random.key(0), params)[0].shape == (7 * 7 * 3 + 1,)
    with pytest.raises(TypeError, match="mission must be True or False"):
        jaxrl.make("Fetch-5x5-N2", mission="no")
