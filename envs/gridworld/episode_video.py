"""Episode videos: play episodes in one compiled call, draw them, write a video.

Example::

    env, params = jaxrl.make("DoorKey-8x8")
    act = random_policy(env, params)
    episode = play_episode(env, params, act, jax.random.key(0), max_steps=200)
    frames = episode_frames(env, episode.states, episode.length + 1, tile_size=32)
    write_video(Path("episode.gif"), frames, fps=8)  # or .mp4: jaxrl[video]

Several episodes play in one vmapped call (:func:`play_episodes`) and are
drawn side by side, a grid of them a frame (:func:`mosaic_frames`); each one
holds its last frame once it has ended.
"""

import math
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

FRAMES_PER_CALL = 32  # frames drawn per compiled call (the last call is padded)
VIDEO_SUFFIXES = (".gif", ".mp4")  # what write_video writes
_MP4_EXTRA = "pip install 'jaxrl[video]'"  # imageio with its ffmpeg


class Episode(NamedTuple):
    """One played episode, on the host.

    Steps after the episode's end continue from its final state without a
    reset; :attr:`length` says where to cut.
    """

    states: Any  # leaves ([N,] max_steps + 1, ...): the reset state, then each step's
    rewards: np.ndarray  # ([N,] max_steps) float32
    terminated: np.ndarray  # ([N,] max_steps) bool
    truncated: np.ndarray  # ([N,] max_steps) bool

    @property
    def length(self) -> int:
        """Steps up to and including the episode's end; all of them if it
        did not end."""
        return int(self.lengths)

    @property
    def lengths(self) -> np.ndarray:
        """:attr:`length` of each episode, ``[N]`` int (``()`` for one)."""
        done = self.terminated | self.truncated
        ended = np.argmax(done, axis=-1) + 1
        return np.where(done.any(axis=-1), ended, done.shape[-1])

    @property
    def returns(self) -> np.ndarray:
        """The sum of each episode's rewards up to its end, ``[N]`` float32."""
        steps = np.arange(self.rewards.shape[-1])
        inside = steps < np.expand_dims(self.lengths, -1)
        return np.where(inside, self.rewards, 0).sum(axis=-1, dtype=np.float32)


def random_policy(env, params) -> Callable[[jax.Array, Any], jax.Array]:
    """``act(key, obs) -> action``: a uniform sample of the action space."""
    space = env.action_space(params)
    return lambda key, obs: space.sample(key)


def play_episode(
    env, params, act: Callable[[jax.Array, Any], jax.Array], key: jax.Array,
    max_steps: int,
) -> Episode:  # fmt: skip
    """Play one episode of ``max_steps`` steps without auto-reset, in one scan.

    Steps go through ``env.step_env`` and ``env.is_truncated`` (gymnax's
    methods), so the final state stays instead of a fresh episode's.

    Args:
        env: a gymnax-style environment.
        params: its params.
        act: ``act(key, obs) -> action``, traced inside the scan (a policy
            network's apply, or :func:`random_policy`).
        key: the episode's key; the reset and every step and action get their
            own parts of it.
        max_steps: steps played (static: the scan's length).

    Returns:
        An :class:`Episode`, compiled and run once.
    """
    outputs = jax.jit(_episode_function(env, params, act, max_steps))(key)
    return Episode(*jax.device_get(outputs))


def play_episodes(
    env, params, act: Callable[[jax.Array, Any], jax.Array], keys: jax.Array,
    max_steps: int,
) -> Episode:  # fmt: skip
    """:func:`play_episode` for each of ``keys`` ``[N]``, in one vmapped call.

    Episode ``i`` is the one ``play_episode`` plays with ``keys[i]``.

    Returns:
        An :class:`Episode` whose arrays have a leading ``[N]`` axis.
    """
    episode = _episode_function(env, params, act, max_steps)
    return Episode(*jax.device_get(jax.jit(jax.vmap(episode))(keys)))


def _episode_function(env, params, act, max_steps):
    """``key -> (states, rewards, terminated, truncated)`` of one episode."""

    def step(carry, step_key):
        obs, state = carry
        k_act, k_step = jax.random.split(step_key)
        action = act(k_act, obs)
        obs, state, reward, terminated, _ = env.step_env(k_step, state, action, params)
        truncated = env.is_truncated(state, params)
        return (obs, state), (state, reward, terminated, truncated)

    def episode(key):
        k_reset, k_steps = jax.random.split(key)
        obs, state = env.reset(k_reset, params)
        keys = jax.random.split(k_steps, max_steps)
        _, (states, *outcomes) = jax.lax.scan(step, (obs, state), keys)
        states = jax.tree.map(
            lambda first, rest: jnp.concatenate([first[None], rest]), state, states
        )
        return states, *outcomes

    return episode


def episode_frames(
    env, states: Any, num_frames: int, tile_size: int
) -> Iterator[np.ndarray]:
    """Draw the first ``num_frames`` of a batch of states with
    ``env.render_rgb``, ``FRAMES_PER_CALL`` at a time (one compilation).

    Args:
        env: an environment with ``render_rgb(state, params, tile_size)``, such
            as a :class:`~jaxrl.envs.gridworld.MiniGridEnv`.
        states: states with a leading axis of at least ``num_frames``, such as
            :attr:`Episode.states`.
        num_frames: how many to draw, from the first.
        tile_size: pixels per cell.

    Yields:
        ``(H, W, 3)`` uint8 NumPy frames, in order.
    """
    draw = jax.jit(jax.vmap(lambda state: env.render_rgb(state, None, tile_size)))
    for start in range(0, num_frames, FRAMES_PER_CALL):
        # the last chunk repeats its final state up to the full size
        index = np.minimum(np.arange(start, start + FRAMES_PER_CALL), num_frames - 1)
        chunk = np.asarray(draw(jax.tree.map(lambda x, i=index: x[i], states)))
        yield from chunk[: num_frames - start]


def mosaic_frames(
    env, episodes: Episode, tile_size: int, gap: int = 2
) -> Iterator[np.ndarray]:
    """Draw a batch of episodes side by side, a grid of them a frame.

    Frame ``t`` shows each episode's state ``t``, or its last state once it
    has ended; there are ``max(lengths) + 1`` frames. Each compiled call
    draws about ``FRAMES_PER_CALL`` pictures (time steps x episodes) and
    lays them out (one compilation).

    Args:
        env: an environment with ``render_rgb(state, params, tile_size)``.
        episodes: from :func:`play_episodes`, ``N`` of them.
        tile_size: pixels per cell.
        gap: white pixels between neighbouring episodes.

    Yields:
        ``(rows * (H + gap) - gap, cols * (W + gap) - gap, 3)`` uint8 frames,
        with ``cols = ceil(sqrt(N))`` and ``rows = ceil(N / cols)``; cells
        past the ``N``-th are black.
    """
    lengths = np.asarray(episodes.lengths)
    (num,) = lengths.shape
    cols = math.ceil(math.sqrt(num))
    rows = math.ceil(num / cols)
    steps_per_call = max(1, FRAMES_PER_CALL // num)
    picture = jax.vmap(lambda state: env.render_rgb(state, None, tile_size))

    def draw(states):  # leaves (N, steps_per_call, ...)
        frames = jax.vmap(picture)(states)  # (N, T, H, W, 3)
        # one white band right of and under each picture, cut at the edges
        frames = jnp.pad(frames, ((0, rows * cols - num), (0, 0), (0, gap),
                                  (0, gap), (0, 0)), constant_values=255)  # fmt: skip
        frames = frames.at[num:].set(0)  # no episode: black
        _, steps, height, width, _ = frames.shape
        frames = frames.reshape(rows, cols, steps, height, width, 3)
        frames = frames.transpose(2, 0, 3, 1, 4, 5)
        frames = frames.reshape(steps, rows * height, cols * width, 3)
        return frames[:, : rows * height - gap, : cols * width - gap]

    draw = jax.jit(draw)
    num_frames = int(lengths.max()) + 1
    episode_index = np.arange(num)[:, None]
    for start in range(0, num_frames, steps_per_call):
        # each episode holds its last state (index = its length) once ended
        index = np.arange(start, start + steps_per_call)
        index = np.minimum(index[None, :], lengths[:, None])  # (N, T)
        chunk = jax.tree.map(lambda x, i=index: x[episode_index, i], episodes.states)
        yield from np.asarray(draw(chunk))[: num_frames - start]


def check_video_path(path: Path) -> None:
    """Refuse a video file :func:`write_video` cannot write, before any work.

    Raises:
        ValueError: a suffix other than ``VIDEO_SUFFIXES``.
        ModuleNotFoundError: ``.mp4`` without imageio and imageio-ffmpeg; the
            message says to ``pip install 'jaxrl[video]'``.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(
            f"the video must be a {' or '.join(VIDEO_SUFFIXES)} file, got {path}"
        )
    if suffix == ".mp4":
        try:
            import imageio.v2  # noqa: F401
            import imageio_ffmpeg  # noqa: F401
        except ImportError as error:
            raise ModuleNotFoundError(
                f"writing {path} (.mp4) needs imageio and imageio-ffmpeg "
                f"({error}): {_MP4_EXTRA}; .gif needs only pillow"
            ) from error


def write_video(path: Path, frames: Iterable[np.ndarray], fps: float) -> None:
    """Write frames as a GIF (pillow) or an MP4 (imageio-ffmpeg, H.264).

    Args:
        path: ``.gif`` or ``.mp4`` (:func:`check_video_path`); an existing
            file is never replaced (``FileExistsError``), and nothing is left
            behind on failure.
        frames: at least one ``(H, W, 3)`` uint8 frame, all the same size.
        fps: frames per second.
    """
    check_video_path(path)
    if Path(path).suffix.lower() == ".gif":
        write_gif(path, frames, fps)
    else:
        write_mp4(path, frames, fps)


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float) -> None:
    """Write ``(H, W, 3)`` uint8 frames as an H.264 MP4, with imageio-ffmpeg.

    Frames of odd width or height get a black row or column more (H.264's
    4:2:0 colour needs even sizes) instead of being rescaled.

    Args:
        path: the file to create; an existing file is never replaced
            (``FileExistsError``), and nothing is left behind on failure.
        frames: at least one frame, all the same size.
        fps: frames per second.
    """
    import imageio.v2 as imageio

    open(path, "xb").close()  # claim the name: never replace a file
    try:
        # macro_block_size=2: pad to even sizes here rather than let imageio
        # rescale every frame to a multiple of 16; quality 8 of 10 keeps the
        # cells' sharp edges
        with warnings.catch_warnings(), imageio.get_writer(
            path, format="FFMPEG", mode="I", fps=fps, codec="libx264",
            quality=8, macro_block_size=2,
        ) as writer:  # fmt: skip
            # JAX warns at any fork; ffmpeg's is followed at once by an exec
            warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
            for frame in frames:
                height, width = frame.shape[:2]
                pad = ((0, height % 2), (0, width % 2), (0, 0))
                writer.append_data(np.pad(frame, pad))
    except BaseException:
        Path(path).unlink(missing_ok=True)  # no half-written video left behind
        raise


def write_gif(path: Path, frames: Iterable[np.ndarray], fps: float) -> None:
    """Write ``(H, W, 3)`` uint8 frames as a looping GIF, with pillow.

    Pillow stores a run of identical frames once, with their durations
    summed, so the file may hold fewer frames than were given while playing
    for the same time.

    Args:
        path: the file to create; an existing file is never replaced
            (``FileExistsError``), and nothing is left behind on failure.
        frames: at least one frame.
        fps: frames per second; GIF delays are whole milliseconds here.
    """
    images = (Image.fromarray(frame) for frame in frames)
    first = next(images)
    file = open(path, "xb")  # noqa: SIM115  ("x": never replace a file)
    try:
        with file:
            first.save(file, format="GIF", save_all=True, append_images=images,
                       duration=round(1000 / fps), loop=0)  # fmt: skip
    except BaseException:
        Path(path).unlink(missing_ok=True)  # no half-written GIF left behind
        raise
