"""Learning curves of runs: per run and setting, the mean over seeds with a
95% bootstrap band (matplotlib, no display needed).

:func:`plot_curves` draws runs read back by :func:`jaxrl.report.load_run`;
``jaxrl report`` and the engine (each run's own ``learning_curves.png``)
both draw through it.
"""

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxrl import stats

if TYPE_CHECKING:
    from jaxrl.report import Run

SMOOTH_DIVISOR = 50  # curves: trailing mean over 2% of a run's steps,
MIN_WINDOW = 5  # and over at least 5 steps
MAX_POINTS = 400  # points drawn per curve


def plot_curves(group: list[tuple[int, "Run"]], labels: dict, path: Path,
                overwrite: bool = False) -> None:  # fmt: skip
    """One panel per curve metric; per run and setting, the mean over seeds
    with a 95% bootstrap CI band of that mean, from the step where at least
    half of the seeds have a value.

    Each seed's curve is smoothed first (:func:`jaxrl.stats.smooth`, over
    the last 2%, at least 5, of the run's steps, weighted by the curve's
    weight metric).

    Args:
        group: ``(index, run)`` pairs; the runs share a work unit.
        labels: ``(index, setting) -> label``, as :func:`compare` makes them.
        path: the PNG to write.
        overwrite: replace ``path`` if it exists (else FileExistsError).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    panels: dict[str, str] = {}
    for _, run in group:
        for c in run.curves:
            if c["metric"] in run.metrics:
                panels.setdefault(c["metric"], c.get("label") or c["metric"])
    series = [(k, run, i) for k, run in group for i in range(len(run.settings))]
    colours = plt.get_cmap("tab10" if len(series) <= 10 else "tab20")
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    size = (max(7.0, 5.2 * cols), 3.8 * rows + 1.2)
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False,
                             layout="constrained")  # fmt: skip
    handles: dict[str, Any] = {}
    for ax, (metric, label) in zip(axes.flat, panels.items(), strict=False):
        for n, (k, run, i) in enumerate(series):
            colour = colours(n % colours.N)
            line = _draw(ax, run, i, metric, colour, show_seeds=len(series) == 1)
            if line is not None:
                handles.setdefault(labels[k, i], line)
        lower = any(metric in run.lower_is_better for _, run in group)
        ax.set_title(label + (" (lower is better)" if lower else ""))
        ax.set_xlabel(f"{group[0][1].work_unit} per run")
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    ncols = 2 if len(handles) == 4 else min(3, len(handles))
    fig.legend(list(handles.values()), list(handles), loc="outside lower center",
               ncols=ncols, frameon=False)  # fmt: skip
    fig.suptitle(_caption(group, series), fontsize=9.5)
    try:
        with open(path, "wb" if overwrite else "xb") as file:
            fig.savefig(file, format="png", dpi=110)
    finally:
        plt.close(fig)


def _caption(group: list[tuple[int, "Run"]], series: list) -> str:
    seeds = sorted({len(run.runs) // len(run.settings) for _, run in group})
    first = f"line: mean over {'/'.join(map(str, seeds))} seeds"
    first += "; band: 95% bootstrap CI of that mean"
    if len(series) == 1:
        first += "; thin lines: single seeds"
    windows = sorted({_window(run) for _, run in group})
    steps = f"{windows[0]} step" + "s" * (windows[0] > 1)
    if len(windows) > 1:
        steps = f"2% (at least {MIN_WINDOW}) of its run's steps"
    weights = sorted({c["weight"] for _, r in group for c in r.curves if c["weight"]})
    second = f"each seed smoothed: trailing mean of the last {steps}"
    if weights:
        second += f", weighted by {', '.join(weights)}"
    return f"{first}\n{second}"


def _window(run: "Run") -> int:
    # At least a few steps, so that steps where no episode ended leave no gaps.
    return max(min(MIN_WINDOW, run.steps.size), run.steps.size // SMOOTH_DIVISOR, 1)


def _draw(ax: Any, run: "Run", setting: int, metric: str, colour: Any,
          show_seeds: bool) -> Any:  # fmt: skip
    """Draw one run-and-setting curve on ``ax``; return its line, or None."""
    members = [r for r, s in enumerate(run.runs) if s["setting"] == setting]
    if metric not in run.metrics or run.steps.size == 0 or not members:
        return None
    weight = next((c["weight"] for c in run.curves if c["metric"] == metric), None)
    weights = run.metrics[weight][members] if weight in run.metrics else None
    curves = stats.smooth(run.metrics[metric][members], weights, _window(run))
    shown = np.unique(np.linspace(0, run.steps.size - 1, MAX_POINTS).astype(np.int64))
    x, curves = run.work[shown], curves[:, shown]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps: no value yet
        mean = np.nanmean(curves, axis=0)
    lo, hi = stats.bootstrap_mean_band(curves)
    # a mean over the few seeds that happen to have a value (one early lucky
    # episode) is not the seeds' mean: drawn from the step where half have one
    sparse = np.isfinite(curves).sum(axis=0) < max(1, len(members) / 2)
    mean, lo, hi = (np.where(sparse, np.nan, a) for a in (mean, lo, hi))
    if show_seeds:
        for curve in curves:
            ax.plot(x, curve, color=colour, alpha=0.3, linewidth=0.7)
    ax.fill_between(x, lo, hi, color=colour, alpha=0.2, linewidth=0)
    (line,) = ax.plot(x, mean, color=colour, linewidth=1.8)
    return line
