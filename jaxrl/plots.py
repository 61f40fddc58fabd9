"""Learning-curve plots (matplotlib, no display needed)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def smooth_curves(values: np.ndarray, valid: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` valid points, per run.

    Args:
        values: ``(R, U)`` per-update values of ``R`` runs.
        valid: ``(R, U)`` bool, False where an update has no value (no
            episode ended).
        window: number of updates averaged.

    Returns:
        ``(R, U)`` float64, NaN until a run's first valid update.
    """
    weights = valid.astype(np.float64)
    sums = np.cumsum(np.where(valid, values, 0.0), axis=1)
    counts = np.cumsum(weights, axis=1)
    shifted = lambda a: np.pad(a, ((0, 0), (window, 0)))[:, :-window]  # noqa: E731
    window_sum, window_count = sums - shifted(sums), counts - shifted(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(window_count > 0, window_sum / window_count, np.nan)


def plot_learning_curves(
    env_steps: np.ndarray,
    returns: np.ndarray,
    valid: np.ndarray,
    path: str | Path,
    title: str,
    success: np.ndarray | None = None,
) -> Path:
    """Mean episode return over runs, a min-max band and thin per-run lines.

    Args:
        env_steps: ``(U,)`` environment steps per run after each update.
        returns: ``(R, U)`` mean return of the episodes ended in each update.
        valid: ``(R, U)`` bool, whether any episode ended in that update.
        path: where to write the PNG.
        title: figure title.
        success: optional ``(R, U)`` success rates, drawn in a second panel.

    Returns:
        The path written.
    """
    window = max(1, returns.shape[1] // 50)
    panels = [("episode return", returns)]
    if success is not None:
        panels.append(("success rate", success))
    fig, axes = plt.subplots(
        1, len(panels), figsize=(6 * len(panels), 4), squeeze=False
    )
    for ax, (label, values) in zip(axes[0], panels, strict=True):
        curves = smooth_curves(np.asarray(values, np.float64), valid, window)
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(curves, 0)
            low, high = np.nanmin(curves, 0), np.nanmax(curves, 0)
        for curve in curves:
            ax.plot(env_steps, curve, color="tab:blue", alpha=0.25, linewidth=0.8)
        ax.plot(env_steps, mean, color="tab:blue", linewidth=2, label="mean over runs")
        ax.fill_between(env_steps, low, high, color="tab:blue", alpha=0.2,
                        label="min-max over runs")  # fmt: skip
        ax.set_xlabel("environment steps per run")
        smoothing = f"mean of last {window} updates" if window > 1 else "per update"
        ax.set_ylabel(f"{label} ({smoothing})")
        ax.grid(alpha=0.3)
    axes[0][0].legend(loc="lower right")
    fig.suptitle(f"{title} ({returns.shape[0]} runs)")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
