"""Episode statistics, flat observations and the five-value adapter."""

import jax
import jax.numpy as jnp
import numpy as np

import jaxrl
from jaxrl.wrappers import DoneAdapter, EpisodeStatistics, FlattenObservation


def test_episode_statistics_reports_return_and_length_when_episodes_end():
    env, params = jaxrl.make("Empty-5x5", max_steps_in_episode=3)
    env = EpisodeStatistics(env)
    obs, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step)
    lengths = []
    for t in range(7):  # truncations after steps 3 and 6
        obs, state, reward, terminated, truncated, info = step(
            jax.random.key(t), state, 0, params
        )
        episode = info["episode"]
        assert bool(episode.returned) == bool(terminated | truncated)
        if episode.returned:
            lengths.append(int(episode.length))
            assert float(episode.episode_return) == 0.0  # turning never scores
        else:
            assert int(episode.length) == 0  # only reported at the end
        assert episode.success.dtype == jnp.bool_ and not bool(episode.success)
    assert lengths == [3, 3]


def test_episode_statistics_counts_the_goal_reward():
    env, params = jaxrl.make("Empty-5x5")
    env = EpisodeStatistics(env)
    _, state = env.reset(jax.random.key(0), params)
    # (1, 1) facing right: forward, forward, right, forward, forward reaches (3, 3)
    successes = []
    for t, action in enumerate([2, 2, 1, 2, 2]):
        _, state, reward, terminated, _, info = env.step(
            jax.random.key(t), state, action, params
        )
        successes.append(bool(info["episode"].success))
    assert bool(terminated)
    assert successes == [False, False, False, False, True]
    expected = 1 - 0.9 * 5 / params.max_steps_in_episode
    assert np.isclose(float(info["episode"].episode_return), expected)
    assert int(info["episode"].length) == 5


def test_flatten_observation_shapes_and_space():
    env, params = jaxrl.make("DoorKey-5x5")
    flat = FlattenObservation(env)
    obs, state = flat.reset(jax.random.key(0), params)
    assert obs.shape == (7 * 7 * 3 + 2,) and obs.dtype == jnp.float32
    assert flat.observation_space(params).shape == obs.shape
    obs, _, _, _, _, info = flat.step(jax.random.key(1), state, 2, params)
    assert info["final_observation"].shape == obs.shape


def test_done_adapter_returns_five_values():
    env, params = jaxrl.make("Empty-5x5", max_steps_in_episode=1)
    adapted = DoneAdapter(env)
    _, state = adapted.reset(jax.random.key(0), params)
    out = adapted.step(jax.random.key(1), state, 0, params)
    assert len(out) == 5
    obs, state, reward, done, info = out
    assert bool(done) and bool(info["truncated"]) and not bool(info["terminated"])


def test_episode_statistics_success_is_none_without_an_env_success():
    env, params = jaxrl.make("CartPole-v1")
    env = EpisodeStatistics(env)
    _, state = env.reset(jax.random.key(0), params)
    info = jax.jit(env.step)(jax.random.key(1), state, 0, params)[-1]
    assert "success" not in info and info["episode"].success is None
    traced = jax.eval_shape(env.step, jax.random.key(1), state, 0, params)[-1]
    assert traced["episode"].success is None  # decided when tracing
