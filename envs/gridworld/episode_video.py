"""Episode videos: play one episode in one compiled call, draw it, write a GIF.

Example::

    env, params = jaxrl.make("DoorKey-8x8")
    act = random_policy(env, params)
    episode = play_episode(env, params, act, jax.random.key(0), max_steps=200)
    frames = episode_frames(env, episode.states, episode.length + 1, tile_size=32)
    write_gif(Path("episode.gif"), frames, fps=8)
"""

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

FRAMES_PER_CALL = 32  # frames drawn per compiled call (the last call is padded)


class Episode(NamedTuple):
    """One played episode, on the host.

    Steps after the episode's end continue from its final state without a
    reset; :attr:`length` says where to cut.
    """

    states: Any  # leaves (max_steps + 1, ...): the reset state, then each step's
    rewards: np.ndarray  # (max_steps,) float32
    terminated: np.ndarray  # (max_steps,) bool
    truncated: np.ndarray  # (max_steps,) bool

    @property
    def length(self) -> int:
        """Steps up to and including the episode's end; all of them if it
        did not end."""
        done = self.terminated | self.truncated
        return int(np.argmax(done)) + 1 if done.any() else len(done)


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

    states, rewards, terminated, truncated = jax.jit(episode)(key)
    return Episode(
        states, np.asarray(rewards), np.asarray(terminated), np.asarray(truncated)
    )


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
