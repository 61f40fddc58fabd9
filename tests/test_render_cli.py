"""``jaxrl render``: episode GIFs and MP4s, batched episodes in a grid, and its
errors (red ``error:``, exit 2)."""

import sys

import imageio.v2 as imageio
import imageio_ffmpeg
import jax
import numpy as np
import pytest
from PIL import Image

import jaxrl
from jaxrl import cli
from jaxrl.envs.gridworld import episode_video

FRAME_MS = 100  # --fps 10: a whole number of GIF centiseconds


def _gif_frames(path) -> list[np.ndarray]:
    """The frames a viewer shows, one per 1/fps second.

    Pillow stores a run of identical frames once, with the run's duration, so
    each stored frame is repeated ``duration / FRAME_MS`` times.
    """
    frames = []
    with Image.open(path) as gif:
        for i in range(gif.n_frames):
            gif.seek(i)
            repeats, rest = divmod(gif.info["duration"], FRAME_MS)
            assert rest == 0
            frames += [np.asarray(gif.convert("RGB"))] * repeats
    return frames


def _render(tmp_path, *flags, name="episode.gif"):
    out = tmp_path / name
    argv = ["render", "--out", str(out), "--tile-size", "8", "--fps", "10", *flags]
    return cli.main(argv), out


def test_random_episode_gif_has_one_frame_per_step(tmp_path, capsys):
    code, out = _render(tmp_path, "DoorKey-5x5", "--max-steps", "6")
    assert code == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "episode length 6" in printed
    assert "return 0.000" in printed  # DoorKey cannot be solved in 6 steps
    frames = _gif_frames(out)
    assert len(frames) == 7  # the reset state, then one per step
    assert frames[0].shape == (40, 40, 3)

    # the same frames as rendering the played states directly (GIF is lossless
    # here: far fewer than 256 colors)
    env, params = jaxrl.make("DoorKey-5x5")
    act = episode_video.random_policy(env, params)
    episode = episode_video.play_episode(env, params, act, jax.random.key(0), 6)
    expected = list(episode_video.episode_frames(env, episode.states, 7, tile_size=8))
    np.testing.assert_array_equal(np.stack(frames), np.stack(expected))


def test_episode_is_cut_at_its_end(tmp_path, capsys):
    """Asked for more steps than the time limit (100), the GIF stops at the
    episode's end: the goal or the limit, whichever comes first."""
    code, out = _render(tmp_path, "--env", "Empty-5x5", "--max-steps", "150",
                        "--seed", "3")  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "terminated" in printed or "truncated at the time limit" in printed
    length = int(printed.split("episode length ")[1].split()[0])
    assert 1 <= length <= 100
    assert len(_gif_frames(out)) == length + 1


# trains a run first (about 19 s in the CI run); --exhaustive
@pytest.mark.exhaustive
def test_checkpoint_policy(tmp_path, capsys):
    """A tiny `jaxrl train ppo` run, then its first seed's policy plays.

    Two seeds; each env runs 128 steps, past the 100-step limit, and every
    update counts for the final score, so every seed has ended episodes to
    report (the results table needs one).
    """
    run = tmp_path / "run"
    code = cli.main([
        "train", "ppo", "--env", "Empty-5x5", "--seeds", "2", "--out", str(run),
        "--total-steps", "256", "--num-envs", "2", "--num-steps", "64",
        "--num-minibatches", "2", "--update-epochs", "1", "--hidden-size", "8",
        "--final-fraction", "1.0", "--no-progress",
    ])  # fmt: skip
    assert code == 0
    capsys.readouterr()
    code, out = _render(tmp_path, "--policy", "checkpoint", "--checkpoint",
                        str(run), "--max-steps", "5")  # fmt: skip
    assert code == 0, capsys.readouterr().out
    assert len(_gif_frames(out)) <= 6
    assert "episode length" in capsys.readouterr().out
    # another env with the same observation and action shapes is fine; the
    # run directory may be given as --policy itself; the policy plays a batch
    greedy = tmp_path / "greedy.gif"
    code = cli.main(["render", "--policy", str(run), "--env", "DoorKey-5x5",
                     "--greedy", "--max-steps", "3", "--tile-size", "8",
                     "--fps", "10", "--episodes", "2",
                     "--out", str(greedy)])  # fmt: skip
    assert code == 0 and "2 episodes in a grid" in capsys.readouterr().out
    assert _gif_frames(greedy)[0].shape == (40, 82, 3)
    code, _ = _render(tmp_path, "--policy", str(run), "--checkpoint", str(run),
                      name="twice.gif")  # fmt: skip
    assert code == 2 and "give one" in capsys.readouterr().out


def test_checkpoint_needs_the_same_interface():
    train_env, train_params = jaxrl.make("Empty-5x5")
    env, params = jaxrl.make("Empty-5x5", view_size=5)
    with pytest.raises(ValueError, match="other observation or action shapes"):
        cli._check_same_interface(train_env, train_params, env, params)


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--env", "NoSuchEnv-v9"], "Unknown environment id"),
        (["--env", "CartPole-v1"], "cannot draw itself"),
        (["CartPole-v1", "--env", "Empty-5x5"], "disagree"),
        (["--policy", "checkpoint", "--checkpoint", "missing"], "no checkpoint in"),
        (["--policy", "checkpoint"], "needs --checkpoint"),
        (["--env", "DoorKey-5x5", "--checkpoint", "run"], "needs --policy checkpoint"),
        (["--policy", "random"], "--env is required"),
        (["--policy", "no-such-run"], "random, checkpoint or a `jaxrl train ppo`"),
        (["--env", "DoorKey-5x5", "--episodes", "0"], "--episodes must be from 1"),
        (["--env", "DoorKey-5x5", "--episodes", "65"], "--episodes must be from 1"),
        (["--env", "DoorKey-5x5", "--tile-size", "3"], "from 4 to 128"),
        (["--env", "DoorKey-5x5", "--fps", "0"], "--fps"),
        (["--env", "DoorKey-5x5", "--max-steps", "0"], "--max-steps"),
    ],
)
def test_errors(tmp_path, capsys, flags, message):
    code, out = _render(tmp_path, *flags)
    assert code == 2
    printed = capsys.readouterr().out
    assert printed.startswith("error:") and message in printed
    assert not out.exists()


def test_other_formats_and_existing_files_are_refused(tmp_path, capsys):
    avi = tmp_path / "episode.avi"
    assert cli.main(["render", "--env", "DoorKey-5x5", "--out", str(avi)]) == 2
    assert ".gif or .mp4" in capsys.readouterr().out and not avi.exists()
    existing = tmp_path / "episode.gif"
    existing.write_bytes(b"keep me")
    code, _ = _render(tmp_path, "--env", "DoorKey-5x5")
    assert code == 2
    assert "already exists" in capsys.readouterr().out
    assert existing.read_bytes() == b"keep me"


def _expected_frames(env_id, seed, num_steps):
    """What one episode of ``--seed seed`` draws, from the library."""
    env, params = jaxrl.make(env_id)
    act = episode_video.random_policy(env, params)
    key = jax.random.key(seed)
    episode = episode_video.play_episode(env, params, act, key, num_steps)
    frames = episode_video.episode_frames(env, episode.states, num_steps + 1, 8)
    return np.stack(list(frames))


# reading an MP4 back starts ffmpeg, a fork that JAX warns about; the fork is
# followed at once by an exec, so the warning does not apply
@pytest.mark.filterwarnings("ignore:os.fork:RuntimeWarning")
def test_mp4(tmp_path, capsys):
    code, out = _render(tmp_path, "Empty-5x5", "--max-steps", "4", name="e.mp4")
    assert code == 0, capsys.readouterr().out
    assert str(out) in capsys.readouterr().out
    assert imageio_ffmpeg.count_frames_and_secs(str(out))[0] == 5
    with imageio.get_reader(out, format="FFMPEG") as video:
        first = video.get_data(0)
    assert first.shape == (40, 40, 3)  # even sizes: nothing padded or rescaled
    # H.264 is lossy: close to the drawn frame, not equal to it
    expected = _expected_frames("Empty-5x5", 0, 4)[0]
    assert np.abs(first.astype(int) - expected).mean() < 8


def test_mp4_without_imageio_names_the_extra_and_gif_still_works(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)  # as if missing
    code, out = _render(tmp_path, "Empty-5x5", name="e.mp4")
    assert code == 2 and not out.exists()
    printed = capsys.readouterr().out
    assert printed.startswith("error:") and "pip install 'jaxrl[video]'" in printed
    code, out = _render(tmp_path, "Empty-5x5", "--max-steps", "2")
    assert code == 0 and len(_gif_frames(out)) == 3


def test_episodes_play_at_once_in_a_grid(tmp_path, capsys):
    """Three episodes in a 2 x 2 grid; episode i is the one --seed 5 + i plays
    alone (checked for the second and third: each check compiles an episode),
    and the fourth cell is black."""
    code, out = _render(tmp_path, "Empty-5x5", "--episodes", "3", "--seed", "5",
                        "--max-steps", "4")  # fmt: skip
    assert code == 0
    assert "3 episodes in a grid" in capsys.readouterr().out
    frames = np.stack(_gif_frames(out))
    assert frames.shape == (5, 82, 82, 3)  # 2 x (40 + 2) - 2: a 2-pixel gap
    assert (frames[:, 40:42] == 255).all() and (frames[:, :, 40:42] == 255).all()
    for i, (row, col) in [(1, (0, 1)), (2, (1, 0))]:
        cell = frames[:, 42 * row : 42 * row + 40, 42 * col : 42 * col + 40]
        np.testing.assert_array_equal(cell, _expected_frames("Empty-5x5", 5 + i, 4))
    assert (frames[:, 42:, 42:] == 0).all()


def test_ended_episodes_hold_their_last_frame():
    env, params = jaxrl.make("Empty-5x5")
    act = episode_video.random_policy(env, params)
    keys = jax.vmap(jax.random.key)(np.arange(2))
    played = episode_video.play_episodes(env, params, act, keys, 4)
    terminated = np.zeros((2, 4), bool)
    terminated[0, 1] = True  # as if the first episode ended at its 2nd step
    episodes = played._replace(terminated=terminated)
    np.testing.assert_array_equal(episodes.lengths, [2, 4])
    frames = np.stack(list(episode_video.mosaic_frames(env, episodes, 8, gap=0)))
    assert frames.shape == (5, 40, 80, 3)  # one row of two, no gap
    for i, cell in enumerate((frames[:, :, :40], frames[:, :, 40:])):
        states = jax.tree.map(lambda x, i=i: x[i], played.states)
        alone = np.stack(list(episode_video.episode_frames(env, states, 5, 8)))
        if i == 0:  # drawn up to its end, then held
            alone = alone[[0, 1, 2, 2, 2]]
        np.testing.assert_array_equal(cell, alone)
