"""Aggregate statistics over runs, after rliable (Agarwal et al. 2021).

"Deep Reinforcement Learning at the Edge of the Statistical Precipice"
(NeurIPS 2021) recommends reporting the interquartile mean (IQM) over runs
with a percentile-bootstrap confidence interval, rather than a mean over a
handful of seeds alone. This module computes those numbers for one task
(one environment), so the bootstrap is over runs (seeds), which is what
rliable's stratified bootstrap reduces to with a single task.

Pure NumPy: importing it imports neither JAX nor SciPy, and every result is
a plain Python ``float`` (or ``None``), ready for JSON.

Why not the ``rliable`` package itself: rliable 1.2.0 (the newest) pins
``arch<8``. With NumPy 2.4 and SciPy 1.17 ``pip install rliable`` resolves to
arch 7.2.0 and pandas 3.1, and ``import rliable.library`` then fails inside
arch (``TypeError: deprecate_kwarg() missing 1 required positional
argument``, a pandas 3 API change). It works only with ``pandas<3`` pinned,
and even then importing it takes seconds (arch, statsmodels, pandas,
seaborn). The two estimators used here are a few lines each; the tests check
them against ``scipy.stats.trim_mean``, which rliable's ``aggregate_iqm``
calls, and against rliable's percentile-interval definition.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Statistic = str | Callable[[np.ndarray], float]


def iqm(values: Sequence[float] | np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% of the values.

    Matches rliable's ``metrics.aggregate_iqm``, which is
    ``scipy.stats.trim_mean(values, 0.25, axis=None)``: with ``n`` values,
    ``int(0.25 * n)`` are cut from each end (rounding down, no fractional
    weights) and the rest are averaged. So 1, 2 and 3 values keep all of
    them; 4 to 7 values drop one from each end; 8 drop two.

    Args:
        values: any shape; flattened.

    Returns:
        The IQM; NaN if any value is NaN (as ``np.mean``).

    Raises:
        ValueError: no values.
    """
    x = np.asarray(values, np.float64).ravel()
    if x.size == 0:
        raise ValueError("iqm of no values")
    if np.isnan(x).any():
        return float("nan")
    return float(_trimmed_means(x[None, :])[0])


def _trimmed_means(x: np.ndarray) -> np.ndarray:
    """Row-wise 25% trimmed mean of a ``(B, n)`` array (scipy's algorithm)."""
    n = x.shape[1]
    cut = int(0.25 * n)
    part = np.partition(x, (cut, n - cut - 1), axis=1)
    return part[:, cut : n - cut].mean(axis=1)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    statistic: Statistic = "mean",
    confidence: float = 0.95,
    num_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of a statistic over runs.

    Each resample draws ``n`` runs with replacement from the ``n`` given;
    the interval is the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
    percentiles (linear interpolation, ``np.percentile``'s default) of the
    statistic over the resamples: rliable's ``get_interval_estimates`` with
    ``method="percentile"`` for a single task.

    Args:
        values: ``(n,)`` per-run values, all finite (drop the others first,
            as :func:`summarize` does).
        statistic: ``"mean"``, ``"iqm"`` (both vectorised over resamples),
            or a function of a ``(n,)`` array returning a float (called once
            per resample). :func:`iqm` and ``np.mean`` themselves are also
            recognised and vectorised.
        confidence: coverage, in ``(0, 1)``.
        num_resamples: bootstrap resamples.
        seed: seeds NumPy's ``default_rng``; the same seed gives the same
            interval.

    Returns:
        ``(lo, hi)``; ``(v, v)`` for a single value.

    Raises:
        ValueError: no values, a non-finite value, or a bad ``confidence``
            or ``num_resamples``.
    """
    x = np.asarray(values, np.float64).ravel()
    if x.size == 0:
        raise ValueError("bootstrap_ci of no values")
    if not np.isfinite(x).all():
        raise ValueError("bootstrap_ci needs finite values; drop NaN and inf first")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if num_resamples < 1:
        raise ValueError(f"num_resamples must be >= 1, got {num_resamples}")
    rng = np.random.default_rng(seed)
    samples = x[rng.integers(0, x.size, size=(num_resamples, x.size))]
    if statistic in ("mean", np.mean):
        estimates = samples.mean(axis=1)
    elif statistic in ("iqm", iqm):
        estimates = _trimmed_means(samples)
    elif callable(statistic):
        estimates = np.array([float(statistic(row)) for row in samples])
    else:
        raise ValueError(
            f"unknown statistic {statistic!r}: use 'mean', 'iqm' or a function"
        )
    tail = 100.0 * (1.0 - confidence) / 2.0
    lo, hi = np.percentile(estimates, [tail, 100.0 - tail])
    return float(lo), float(hi)


def summarize(values: Sequence[float | None] | np.ndarray) -> dict[str, Any]:
    """Mean, standard deviation, IQM and 95% bootstrap CIs over runs.

    Only the finite values count: ``None``, NaN and infinities (runs that
    diverged or never produced a value) are left out, and ``n`` says how
    many values remained.

    Args:
        values: ``(n,)`` one value per run (seed).

    Returns:
        ``{"mean", "std", "iqm", "ci95": [lo, hi], "iqm_ci95": [lo, hi],
        "n"}``. ``std`` is the population standard deviation (``ddof=0``,
        NumPy's default), so one value gives ``0.0``. ``ci95`` is the
        percentile-bootstrap 95% CI of the mean and ``iqm_ci95`` that of the
        IQM (2000 resamples, seed 0, so reports are reproducible). One value
        gives ``[v, v]``; no finite value gives ``None`` everywhere and ``n``
        0. Plain Python floats, JSON-ready.
    """
    raw = [np.nan if v is None else v for v in np.asarray(values, object).ravel()]
    x = np.asarray(raw, np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        none = {"mean": None, "std": None, "iqm": None, "ci95": None, "iqm_ci95": None}
        return {**none, "n": 0}
    return {
        "mean": float(x.mean()),
        "std": float(x.std()),
        "iqm": iqm(x),
        "ci95": list(bootstrap_ci(x, "mean")),
        "iqm_ci95": list(bootstrap_ci(x, "iqm")),
        "n": int(x.size),
    }


def smooth(
    values: np.ndarray, weights: np.ndarray | None = None, window: int = 1
) -> np.ndarray:
    """Trailing weighted mean over the last ``window`` steps, per run.

    Step ``t``'s result averages steps ``t - window + 1 .. t`` of the same
    run, each weighted by ``weights`` (e.g. the number of episodes that
    ended in that step, so every episode counts once). A step with weight 0,
    or with a non-finite value, contributes nothing; a window with no weight
    at all gives NaN (so a diverged run's curve stops).

    Args:
        values: ``(T,)`` or ``(R, T)`` per-step values.
        weights: same shape, non-negative; ``None`` weighs every step 1.
        window: steps averaged, >= 1.

    Returns:
        float64 array of the shape of ``values``.

    Raises:
        ValueError: ``window < 1``, shapes differ, or a negative weight.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    v = np.asarray(values, np.float64)
    w = np.ones_like(v) if weights is None else np.asarray(weights, np.float64)
    if w.shape != v.shape:
        raise ValueError(f"weights shape {w.shape} differs from values {v.shape}")
    if (w < 0).any():
        raise ValueError("weights must be non-negative")
    is_1d = v.ndim == 1
    v, w = np.atleast_2d(v), np.atleast_2d(w)
    w = np.where(np.isfinite(v) & np.isfinite(w), w, 0.0)
    weighted = np.where(w > 0, np.where(np.isfinite(v), v, 0.0) * w, 0.0)

    def window_sum(a: np.ndarray) -> np.ndarray:
        total = np.cumsum(a, axis=1)
        before = np.pad(total, ((0, 0), (window, 0)))[:, :-window]
        return total - before

    sums, counts = window_sum(weighted), window_sum(w)
    # WARN: cumulative sums subtract; counts that should be 0 can come out as
    # tiny non-zero residues with fractional weights, so compare with a margin.
    has_weight = counts > 1e-12 * np.maximum(1.0, np.cumsum(w, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(has_weight, sums / np.where(has_weight, counts, 1.0), np.nan)
    return out[0] if is_1d else out


def bootstrap_mean_band(
    curves: np.ndarray,
    confidence: float = 0.95,
    num_resamples: int = 1000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise percentile-bootstrap CI of the mean over runs of curves.

    Runs are resampled (the same resample at every step, as rliable does for
    sample-efficiency curves); at each step the mean is over the resampled
    runs whose value there is finite.

    Args:
        curves: ``(R, T)``, NaN where a run has no value.
        confidence: coverage, in ``(0, 1)``.
        num_resamples: bootstrap resamples.
        seed: seeds NumPy's ``default_rng``.

    Returns:
        ``(lo, hi)``, each ``(T,)``; NaN where no run has a value.
    """
    c = np.atleast_2d(np.asarray(curves, np.float64))
    num_runs = c.shape[0]
    rng = np.random.default_rng(seed)
    # Resampling runs with replacement == drawing how often each run is picked.
    counts = rng.multinomial(num_runs, np.full(num_runs, 1.0 / num_runs), num_resamples)
    finite = np.isfinite(c)
    sums = counts @ np.where(finite, c, 0.0)
    totals = counts @ finite.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(totals > 0, sums / np.where(totals > 0, totals, 1.0), np.nan)
    tail = 100.0 * (1.0 - confidence) / 2.0
    lo = np.full(c.shape[1], np.nan)
    hi = np.full(c.shape[1], np.nan)
    has = np.isfinite(means).any(axis=0)
    if has.any():
        lo[has], hi[has] = np.nanpercentile(means[:, has], [tail, 100.0 - tail], axis=0)
    return lo, hi
