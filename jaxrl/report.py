"""Read run directories back, and compare them: a table and learning curves.

``jaxrl report RUN_DIR [RUN_DIR ...] [--out DIR]`` calls :func:`compare`.
Every run directory is read with :func:`load_run`, which accepts a finished
run (``results.json``), and also one still running or killed (only
``config.json`` and ``metrics.jsonl``): its final values are then estimated
from the metrics history, and the table says so.

The statistics follow rliable (Agarwal et al. 2021, "Deep Reinforcement
Learning at the Edge of the Statistical Precipice"): per setting, the mean
and the interquartile mean over seeds, each with a percentile-bootstrap 95%
confidence interval (:mod:`jaxrl.stats`). They are recomputed from the
per-run final values, so every report uses one estimator.

No JAX here: NumPy, and matplotlib and rich imported when first needed.
"""

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from jaxrl import plots, rundir, stats
from jaxrl.rundir import CONFIG_FILE, METRICS_FILE, RESULTS_FILE, SCHEMA_VERSION

REPORT_FILE, CURVES_FILE = "report.md", "learning_curves.png"
FINAL_FRACTION = 0.1  # no results.json: final = mean over the last 10% (as PPO)


@dataclass(frozen=True)
class Run:
    """One run directory, read back.

    The fields after ``metrics`` say what the run is. They come from
    ``results.json``, else from ``config.json``, else they are guessed from
    ``metrics.jsonl`` (a run killed before it wrote ``config.json``).

    Attributes:
        path: the directory.
        results: ``results.json`` (schema 1), or ``None`` if the run never
            wrote it (still running, or killed).
        config: ``config.json``, or ``None`` if absent.
        steps: ``(T,)`` int64 engine steps that ``metrics.jsonl`` holds.
        work: ``(T,)`` float64 work each run had done after each step.
        metrics: name -> ``(R, T)`` float64, one row per run in ``runs``
            order; NaN and infinities as written.
        status: ``results.json``'s status; else ``config.json``'s, else
            ``"unknown"``.
        runs: ``[{"seed", "setting"}]``, what row ``r`` of a per-run list is.
        curves: ``[{"metric", "weight", "label"}]``, what to plot.
        diverged: runs whose state went non-finite.
    """

    path: Path
    results: dict | None
    config: dict | None
    steps: np.ndarray
    work: np.ndarray
    metrics: dict[str, np.ndarray]
    status: str = "unknown"
    algorithm: str = "?"
    target: str = "?"
    settings: list[dict] = field(default_factory=lambda: [{}])
    runs: list[dict] = field(default_factory=list)
    work_unit: str = "steps"
    curves: list[dict] = field(default_factory=list)
    primary: str | None = None
    lower_is_better: list[str] = field(default_factory=list)
    diverged: set[int] = field(default_factory=set)
    steps_done: int = 0
    num_steps: int | None = None

    def final(self) -> dict[str, np.ndarray]:
        """Metric -> ``(R,)`` final values (NaN where there is none).

        From ``results.json``; without it, estimated from ``metrics.jsonl``:
        for each curve metric, the (weighted) mean over the last
        ``final_fraction`` (from the config, else 0.1) of the planned steps,
        which is how PPO defines its final return.
        """
        if self.results is not None:
            finals = (self.results.get("final") or {}).items()
            return {k: np.array(v, float) for k, v in finals}  # None -> NaN
        if self.steps.size == 0:
            return {}
        fraction = ((self.config or {}).get("config") or {}).get("final_fraction")
        if not isinstance(fraction, float | int) or not 0 < fraction <= 1:
            fraction = FINAL_FRACTION
        window = max(1, math.ceil(fraction * (self.num_steps or self.steps.size)))
        out = {}
        for curve in self.curves:
            if curve["metric"] in self.metrics:
                weights = self.metrics.get(curve["weight"] or "")
                values = self.metrics[curve["metric"]]
                out[curve["metric"]] = stats.smooth(values, weights, window)[:, -1]
        return out

    def setting_label(self, setting: int) -> str:
        """``"lr=0.001 ent_coef=0"`` (as the engine labels settings)."""
        items = self.settings[setting].items()
        return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in items)  # fmt: skip


def load_run(run_dir: str | Path) -> Run:
    """Read a run directory.

    Args:
        run_dir: a directory with ``results.json`` and/or ``metrics.jsonl``
            (and usually ``config.json``).

    Returns:
        The :class:`Run`. A last line of ``metrics.jsonl`` cut short by a
        kill is left out, with a warning.

    Raises:
        ValueError: ``run_dir`` is not a run directory, a file is not valid
            JSON, ``results.json`` has another schema, or ``metrics.jsonl`` is
            inconsistent; the message names the file.
    """
    path = Path(run_dir)
    has_results = (path / RESULTS_FILE).is_file()
    has_metrics = (path / METRICS_FILE).is_file()
    if not (has_results or has_metrics):
        why = "does not exist" if not path.exists() else "is not a run directory"
        raise ValueError(f"{path} {why}: it has no {METRICS_FILE} or {RESULTS_FILE}")
    results = rundir.read_json(path / RESULTS_FILE) if has_results else None
    if results is not None and results.get("schema") != SCHEMA_VERSION:
        raise ValueError(
            f"{path / RESULTS_FILE} has schema {results.get('schema')!r}; this "
            f"jaxrl reads schema {SCHEMA_VERSION} (written by another version?)"
        )
    config = (
        rundir.read_json(path / CONFIG_FILE) if (path / CONFIG_FILE).is_file() else None
    )
    steps, work, metrics = np.zeros(0, np.int64), np.zeros(0), {}
    if has_metrics:
        steps, work, metrics = rundir.read_metrics(path / METRICS_FILE)
    run = Run(path, results, config, steps, work, metrics)
    run = replace(run, **_describe(results, config, steps, metrics))
    for name, values in (results or {}).get("final", {}).items():
        if len(values) != len(run.runs):
            raise ValueError(
                f"{path / RESULTS_FILE}: final[{name!r}] has {len(values)} "
                f"values for {len(run.runs)} runs"
            )
    return run


def _describe(results: dict | None, config: dict | None, steps: np.ndarray,
              metrics: dict[str, np.ndarray]) -> dict[str, Any]:  # fmt: skip
    """The :class:`Run` fields that say what the run is."""

    def get(key: str, default: Any = None) -> Any:
        for source in (results, config):
            if source and source.get(key) is not None:
                return source[key]
        return default

    settings = list(get("settings") or [{}])
    seeds = get("seeds")
    width = next((m.shape[0] for m in metrics.values()), None)
    if results is not None and results.get("runs"):
        runs = list(results["runs"])
    elif seeds is not None and width in (None, len(seeds) * len(settings)):
        # The engine's layout: setting-major, every setting with every seed.
        runs = [{"seed": s, "setting": i} for i in range(len(settings)) for s in seeds]
    else:
        runs, settings = [{"seed": r, "setting": 0} for r in range(width or 0)], [{}]
    curves = [{"weight": None, "label": c["metric"], **c} for c in get("curves") or []]
    if not curves:
        # Without results.json: the episode curves RL runs log, else every
        # top-level metric that is not a count.
        known = [n for n in ("episode_return", "success_rate") if n in metrics]
        weight = "num_episodes" if known and "num_episodes" in metrics else None
        names = known or [
            n for n in metrics if "." not in n and not n.startswith("num_")
        ]
        curves = [{"metric": n, "weight": weight, "label": n.replace("_", " ")}
                  for n in names]  # fmt: skip
    status = (results or {}).get("status") or (config or {}).get("status")
    return {
        "status": str(status or "unknown"),
        "algorithm": str(get("algorithm") or get("algo") or "?"),
        "target": str(get("target") or get("env") or "?"),
        "settings": settings,
        "runs": runs,
        "work_unit": str(get("work_unit") or "steps"),
        "curves": curves,
        "primary": get("primary") or (curves[0]["metric"] if curves else None),
        "lower_is_better": list(get("lower_is_better") or []),
        "diverged": {int(d["run"]) for d in (results or {}).get("diverged") or []},
        "steps_done": int(get("steps_done") or (steps[-1] if steps.size else 0)),
        "num_steps": get("num_steps"),
    }


# --- the comparison table ------------------------------------------------------


def compare(
    run_dirs: Sequence[str | Path],
    out_dir: str | Path | None = None,
    console: Any = None,
) -> str:
    """Compare runs: a table of final metrics, and learning curves.

    One table row per run directory and setting, labelled
    ``"algorithm target [setting]"``; per final metric, the mean ± std over
    seeds, the IQM with its 95% bootstrap CI, and ``n`` (seeds with a finite
    value / seeds); then the status, with diverged seeds counted.

    Args:
        run_dirs: run directories (see :func:`load_run`).
        out_dir: if given, ``report.md`` (the table, notes and the runs'
            provenance) and ``learning_curves.png`` are written there (one
            figure per work unit, ``learning_curves_<unit>.png``, when the
            runs count work in different units). Created if missing.
        console: a ``rich.console.Console`` to print to (default: stdout).

    Returns:
        The table as Markdown.

    Raises:
        ValueError: no run directories, or one that is not a run directory.
        FileExistsError: a file the report would write exists already in
            ``out_dir``; nothing is written then.
    """
    if not run_dirs:
        raise ValueError("compare needs at least one run directory")
    runs = [load_run(d) for d in run_dirs]
    labels = _labels(runs)
    header, rows = _table(runs, labels)
    markdown, notes = _markdown(header, rows), _notes(runs)
    _print(console, header, rows, notes)
    if out_dir is not None:
        _write_report(
            Path(out_dir), runs, labels, markdown + "\n" + notes.replace("\n", "\n\n")
        )
    return markdown


def _labels(runs: list[Run]) -> dict[tuple[int, int], str]:
    """``(run index, setting) -> "algorithm target [setting]"``, unique."""
    labels = {}
    for k, run in enumerate(runs):
        for i in range(len(run.settings)):
            setting = run.setting_label(i)
            labels[k, i] = f"{run.algorithm} {run.target}" + (
                f" [{setting}]" if setting else ""
            )
    counts: dict[str, int] = {}
    for label in labels.values():
        counts[label] = counts.get(label, 0) + 1
    for (k, i), label in labels.items():
        if counts[label] > 1:  # the same experiment twice: name the directory
            names = [run.path.name for run in runs]
            unique = names.count(runs[k].path.name) == 1
            labels[k, i] = f"{label} ({runs[k].path.name if unique else runs[k].path})"
    return labels


def _metric_names(runs: list[Run]) -> list[str]:
    primaries = [run.primary for run in runs if run.primary in run.final()]
    others = [name for run in runs for name in run.final()]
    return list(dict.fromkeys(primaries + others))


def _table(runs: list[Run], labels: dict) -> tuple[list[str], list[list[str]]]:
    names = _metric_names(runs)
    lower = {name for run in runs for name in run.lower_is_better}
    header = ["run"]
    for name in names:
        shown = f"{name} (lower is better)" if name in lower else name
        header += [f"{shown}: mean ± std", f"{shown}: IQM [95% CI]", f"{shown}: n"]
    header.append("status")
    rows = []
    for k, run in enumerate(runs):
        final = run.final()
        setting_of = [r["setting"] for r in run.runs]
        for i in range(len(run.settings)):
            members = [r for r, s in enumerate(setting_of) if s == i]
            row = [labels[k, i]]
            for name in names:
                values = final.get(name)
                if values is None:
                    row += ["-", "-", "-"]
                    continue
                summary = stats.summarize(values[members])
                row += _cells(summary, len(members))
            row.append(_status(run, members))
            rows.append(row)
    return header, rows


def _cells(summary: dict, total: int) -> list[str]:
    if summary["n"] == 0:
        return ["n/a", "n/a", f"0/{total}"]
    lo, hi = summary["iqm_ci95"]
    return [
        f"{_num(summary['mean'])} ± {_num(summary['std'])}",
        f"{_num(summary['iqm'])} [{_num(lo)}, {_num(hi)}]",
        f"{summary['n']}/{total}",
    ]


def _num(value: float) -> str:
    if 1e4 <= abs(value) < 1e9:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _status(run: Run, members: list[int]) -> str:
    status, num_diverged = run.status, len(run.diverged & set(members))
    if status in ("running", "interrupted", "unknown") and run.num_steps:
        status += f" at step {run.steps_done}/{run.num_steps}"
    if status == "diverged" or num_diverged:
        diverged = f"diverged: {num_diverged} of {len(members)}"
        status = diverged if status == "diverged" else f"{status}; {diverged}"
    return status + (", estimated" if run.results is None else "")


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    align = ["---"] + ["---:"] * (len(header) - 2) + ["---"]
    return (
        "\n".join([line(header), "|" + "|".join(align) + "|", *map(line, rows)]) + "\n"
    )


def _print(console: Any, header: list[str], rows: list[list[str]], notes: str) -> None:
    """Print the table; one table per metric when it is too wide for the
    terminal (the same cells, the metric name moved into the title)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    last = len(header) - 1
    groups = [(None, list(range(len(header))))]
    # Headers print as "metric" over "statistic", two lines.
    cells = [
        [*header[k].split(": "), *(row[k] for row in rows)] for k in range(last + 1)
    ]
    widths = [max(map(len, column)) + 3 for column in cells]
    if sum(widths) > console.width and last > 4:
        groups = [(header[k].split(": ")[0], [0, k, k + 1, k + 2, last])
                  for k in range(1, last, 3)]  # fmt: skip
    for metric, columns in groups:
        title = "final metrics" + (f": {metric}" if metric else " per run and setting")
        table = Table(title=escape(title))
        for k in columns:
            name = (
                header[k].split(": ")[-1] if metric else header[k].replace(": ", "\n")
            )
            justify = "right" if 0 < k < last else "left"
            table.add_column(escape(name), justify=justify, no_wrap=0 < k < last)
        for row in rows:
            table.add_row(*(escape(row[k]) for k in columns))
        console.print(table)
    console.print(notes, highlight=False)


def _notes(runs: list[Run]) -> str:
    notes = (
        "mean ± std: over the seeds' finite final values (std with ddof=0); "
        "IQM: interquartile mean (25% trimmed, as rliable); 95% CI: percentile "
        "bootstrap over seeds (2000 resamples); n: seeds with a finite value / seeds."
    )
    if any(run.results is None for run in runs):
        notes += (
            f"\nestimated: the run wrote no {RESULTS_FILE} (still running, or "
            f"killed); its final values are trailing means from {METRICS_FILE}."
        )
    return notes


# --- report.md and the figures ---------------------------------------------------


def _write_report(out_dir: Path, runs: list[Run], labels: dict, table: str) -> None:
    units = list(dict.fromkeys(run.work_unit for run in runs if _has_curves(run)))
    figures = {
        unit: out_dir
        / (CURVES_FILE if len(units) == 1 else f"learning_curves_{_slug(unit)}.png")
        for unit in units
    }
    targets = [out_dir / REPORT_FILE, *figures.values()]
    for target in targets:
        if target.exists():
            raise FileExistsError(
                f"{target} exists already; the report never overwrites: "
                "remove it or choose another output directory"
            )
    out_dir.mkdir(parents=True, exist_ok=True)
    for unit, figure in figures.items():
        group = [(k, run) for k, run in enumerate(runs) if run.work_unit == unit]
        plots.plot_curves(group, labels, figure)
    text = ["# Run comparison", "", table, ""]
    text += [
        f"![learning curves ({unit})]({figure.name})"
        for unit, figure in figures.items()
    ]
    pictures = [(k, path) for k, run in enumerate(runs) for path in _pictures(run)]
    if pictures:
        text += ["", "## Pictures the runs left", ""]
        for k, path in pictures:
            relative = os.path.relpath(path.resolve(), out_dir.resolve())
            text.append(f"![{labels[k, 0]}: {path.name}]({relative})")
    text += ["", "## Runs", ""]
    for k, run in enumerate(runs):
        text.append(
            f"- {', '.join(labels[k, i] for i in range(len(run.settings)))}: "
            f"`{run.path}`; {_provenance(run)}"
        )
    with open(out_dir / REPORT_FILE, "x") as file:  # "x": never overwrite
        file.write("\n".join(text) + "\n")


def _pictures(run: Run) -> list[Path]:
    """The images a run left besides its learning curves (a QD archive, the
    maze's final positions, a GFlowNet's distributions), by name."""
    return sorted(p for p in run.path.glob("*.png") if p.name != CURVES_FILE)


def _provenance(run: Run) -> str:
    info = {**(run.config or {}), **(run.results or {})}
    seeds = sorted({r["seed"] for r in run.runs})
    shown = (
        ", ".join(map(str, seeds)) if len(seeds) <= 8 else f"{seeds[0]}..{seeds[-1]}"
    )
    parts = [
        f"status {run.status}",
        f"{len(seeds)} seeds ({shown})",
        f"step {run.steps_done}/{run.num_steps or '?'}",
    ]
    if run.work.size and np.isfinite(run.work[-1]):
        parts.append(f"{run.work[-1]:,.0f} {run.work_unit} per run")
    throughput = info.get("throughput") or {}
    if throughput.get("value"):
        parts.append(f"{throughput['value']:,.0f} {throughput.get('unit', '')}")
    for key in ("device", "git_commit"):
        if info.get(key):
            parts.append(f"{key.replace('_', ' ')} {info[key]}")
    return ", ".join(parts)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "work"


def _has_curves(run: Run) -> bool:
    return run.steps.size > 0 and any(c["metric"] in run.metrics for c in run.curves)


def plot_run(run_dir: str | Path) -> Path | None:
    """Draw one run's learning curves into ``run_dir/learning_curves.png``.

    The engine calls this when a run ends (or stops); the file is the run's
    own and is redrawn, so it is overwritten.

    Returns:
        The path written, or ``None`` when there is nothing to plot.
    """
    run = load_run(run_dir)
    if not _has_curves(run):
        return None
    path = run.path / CURVES_FILE
    plots.plot_curves([(0, run)], _labels([run]), path, overwrite=True)
    return path
