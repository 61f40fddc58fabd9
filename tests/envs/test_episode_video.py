"""Episode videos: playing without auto-reset, drawing frames, writing GIFs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

import jaxrl
from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import episode_video


def _forward_else_right(key, obs):
    """Walk forward; turn right in front of a wall. From Empty-5x5's start,
    (1, 1) facing right: forward, forward, right, forward, forward: the goal."""
    del key
    front = obs.image[3, 5, 0]  # the cell ahead in the 7x7 view
    return jnp.where(front == C.WALL, C.RIGHT, C.FORWARD).astype(jnp.int32)


def test_play_episode_ends_at_the_goal_and_never_resets():
    env, params = jaxrl.make("Empty-5x5")
    episode = episode_video.play_episode(
        env, params, _forward_else_right, jax.random.key(0), max_steps=8
    )
    assert episode.length == 5
    assert episode.terminated.tolist() == [False] * 4 + [True] + [False] * 3
    assert not episode.truncated.any()
    np.testing.assert_allclose(episode.rewards[4], 1 - 0.9 * 5 / 100, rtol=1e-6)
    # the reset state first, then one state a step, time running on past the end
    assert episode.states.time.tolist() == list(range(9))
    assert episode.states.agent_pos[5].tolist() == [3, 3]


def test_length_is_max_steps_when_the_episode_goes_on():
    env, params = jaxrl.make("Empty-5x5")
    turn = lambda key, obs: jnp.int32(C.LEFT)  # noqa: E731
    episode = episode_video.play_episode(env, params, turn, jax.random.key(0), 4)
    assert episode.length == 4 and not episode.terminated.any()


def test_frames_are_the_states_drawn(tmp_path):
    env, params = jaxrl.make("Empty-5x5")
    act = episode_video.random_policy(env, params)
    episode = episode_video.play_episode(env, params, act, jax.random.key(1), 40)
    frames = list(episode_video.episode_frames(env, episode.states, 35, tile_size=4))
    assert len(frames) == 35 and frames[0].shape == (20, 20, 3)  # two chunks
    last = jax.tree.map(lambda x: x[34], episode.states)
    np.testing.assert_array_equal(frames[34], env.render_rgb(last, params, 4))

    path = tmp_path / "episode.gif"
    episode_video.write_gif(path, frames[:3], fps=10)
    with Image.open(path) as gif:
        assert gif.size == (20, 20) and gif.info["duration"] in (100, 200, 300)
    with pytest.raises(FileExistsError):
        episode_video.write_gif(path, frames[:3], fps=10)
