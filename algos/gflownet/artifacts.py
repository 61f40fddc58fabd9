"""Files a GFlowNet run leaves in its run directory.

- ``terminating_distribution.npy``: ``(R, N)`` float64, each run's exact
  probability of stopping at every state (states in ``env.state_index``
  order; 0 where exiting is not allowed), from the final forward policy.
- ``target_distribution.npy``: ``(N,)`` float64, ``R(x) / Z`` the same way.
- ``distribution.png`` (2-D grids only): the learned distribution (mean over
  runs) and the target side by side as heatmaps.
"""

import functools
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.algos.gflownet.evaluation import enumerate_states, terminating_log_probs
from jaxrl.algos.gflownet.policies import GFNPolicy, masked_logsumexp

DISTRIBUTION_FILE = "terminating_distribution.npy"
TARGET_FILE = "target_distribution.npy"
HEATMAP_FILE = "distribution.png"


def distributions(
    env, reward, network, net_params, conditional: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``(learned (R, N), target (N,))`` exact distributions, for net
    parameters with a leading run axis (a conditional GFlowNet's at beta=1)."""

    @jax.jit
    def compute(net_params):
        enum = enumerate_states(env, reward)
        can_exit = enum.forward_mask[:, env.exit_action]

        obs = enum.obs
        if conditional:
            obs = jnp.concatenate([obs, jnp.ones((*obs.shape[:-1], 1))], axis=-1)

        def one(params):
            logits = network.apply(params, obs, method=GFNPolicy.forward_logits)
            log_p = terminating_log_probs(env, enum, logits)
            return jnp.where(can_exit, jnp.exp(log_p), 0.0)

        log_z = masked_logsumexp(enum.log_reward, can_exit)
        target = jnp.where(can_exit, jnp.exp(enum.log_reward - log_z), 0.0)
        return jax.vmap(one)(net_params), target

    learned, target = compute(net_params)
    return np.asarray(learned, np.float64), np.asarray(target, np.float64)


def write_artifacts(
    env, reward, network, state, run_dir: Path, conditional: bool = False
) -> list[Path]:
    """Write the files above from a run's final state; the paths written."""
    learned, target = distributions(env, reward, network, state.params.net, conditional)
    paths = [
        _save_npy(run_dir / DISTRIBUTION_FILE, learned),
        _save_npy(run_dir / TARGET_FILE, target),
    ]
    coords = getattr(env.all_states(), "coords", None)  # (N, ndim), index order
    if coords is not None and coords.shape[-1] == 2:
        image = functools.partial(_grid_image, np.asarray(coords), env.height)
        paths.append(_heatmaps(image, learned.mean(0), target, run_dir / HEATMAP_FILE))
    return paths


def _save_npy(path: Path, array: np.ndarray) -> Path:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as file:
        np.save(file, array)
    os.replace(temporary, path)
    return path


def _grid_image(coords: np.ndarray, height: int, values: np.ndarray) -> np.ndarray:
    """``(height, height)`` image of per-state values; row = coordinate 1."""
    image = np.zeros((height, height))
    image[coords[:, 1], coords[:, 0]] = values
    return image


def _heatmaps(image_of, learned: np.ndarray, target: np.ndarray, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = (image_of(learned), image_of(target))
    high = max(image.max() for image in images)
    figure, axes = plt.subplots(1, 2, figsize=(9, 4), constrained_layout=True)
    for axis, image, title in zip(
        axes, images, ("learned p(x) (mean over runs)", "target R(x) / Z"), strict=True
    ):
        shown = axis.imshow(image, origin="lower", vmin=0.0, vmax=high, cmap="viridis")
        axis.set_title(title)
        axis.set_xlabel("coordinate 0")
        axis.set_ylabel("coordinate 1")
    figure.colorbar(shown, ax=axes, shrink=0.8, label="probability")
    l1 = np.abs(learned - target).sum()
    figure.suptitle(f"terminating distribution, L1 = {l1:.3f}")
    temporary = path.with_name(f".{path.stem}.tmp.png")
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    os.replace(temporary, path)
    return path
