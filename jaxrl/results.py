"""``results.json``: one schema for every algorithm, and the table a run prints.

Keys (schema 1):

- ``schema``, ``status`` (``running``, ``interrupted``, ``failed``,
  ``diverged`` or ``done``), ``error`` (failed runs);
- ``algorithm``, ``target`` (env or task id), ``seeds``, ``settings`` (the
  sweep's hyperparameter overrides, ``[{}]`` without one), ``runs`` (seed
  and setting index of every run, the order of every per-run list),
  ``config``, ``hparams``;
- ``final``: metric -> one value per run (``null`` where not finite),
  ``nonfinite``: metric -> runs whose value was NaN or infinite, with
  ``nonfinite_reason``: run -> why (``"diverged"``, ``"no value"``);
- ``summary``: metric -> one entry per setting: ``mean``, ``std``, ``iqm``,
  ``ci95`` (bootstrap CI of the mean), ``iqm_ci95``, ``n`` (finite runs);
- ``primary``, ``lower_is_better``, ``curves``, ``work_unit``;
- ``steps_done``, ``num_steps``, ``compile_s``, ``run_s``, ``throughput``
  (``value`` and ``unit``), ``checkpoint_s`` (seconds each save held the
  run), ``diverged`` (``[{"run", "seed", "setting", "step"}]``),
  ``versions``, ``git_commit``, ``device``.
"""

from typing import Any

import jax
import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from jaxrl import rundir, stats
from jaxrl.layout import RunLayout
from jaxrl.program import Program

MAX_ROWS_PER_RUN = 16  # more runs than this: the table shows summaries only


def results_dict(
    *,
    program: Program,
    layout: RunLayout,
    config: dict,
    final: dict[str, np.ndarray],
    diverged: dict[int, int],
    status: str,
    steps_done: int,
    compile_s: float,
    run_s: float,
    session_work: int,
    session_s: float,
    checkpoint_s: list[float],
    error: str | None = None,
) -> dict:
    """Assemble the ``results.json`` dictionary (JSON-ready)."""
    runs = layout.runs()
    nonfinite, reasons = {}, {}
    for name, values in final.items():
        bad = rundir.nonfinite_runs(values)
        if bad:
            nonfinite[name] = bad
            for r in bad:
                reasons[r] = "diverged" if r in diverged else "no value"
    summary = {
        name: [_summary(values, layout, i) for i in range(len(layout.settings))]
        for name, values in final.items()
    }
    unit = program.work_unit
    results = {
        "schema": rundir.SCHEMA_VERSION,
        "status": status,
        "algorithm": config.get("algorithm"),
        "target": config.get("target"),
        "seeds": list(layout.seeds),
        "settings": list(layout.settings),
        "runs": runs,
        "config": config.get("config", {}),
        "hparams": config.get("hparams", {}),
        "final": {name: np.asarray(v, np.float64) for name, v in final.items()},
        "nonfinite": nonfinite,
        "nonfinite_reason": {str(r): why for r, why in sorted(reasons.items())},
        "summary": summary,
        "primary": program.primary,
        "lower_is_better": list(program.lower_is_better),
        "curves": [c._asdict() for c in program.curves],
        "work_unit": unit,
        "steps_done": steps_done,
        "num_steps": program.num_steps,
        "compile_s": compile_s,
        "run_s": run_s,
        "throughput": {
            "value": session_work / session_s if session_s > 0 else None,
            "unit": f"{unit}/s",
        },
        "checkpoint_s": checkpoint_s,
        "diverged": [
            {"run": r, **runs[r], "step": s} for r, s in sorted(diverged.items())
        ],
        "versions": config.get("versions") or rundir.versions(),
        "git_commit": config.get("git_commit"),
        "device": str(jax.devices()[0].device_kind),
    }
    if error is not None:
        results["error"] = error
    return rundir.jsonable(results)


def _summary(values: np.ndarray, layout: RunLayout, setting: int) -> dict:
    n = len(layout.seeds)
    return stats.summarize(
        np.asarray(values, np.float64)[setting * n : (setting + 1) * n]
    )


def print_table(console: Console, results: dict, layout: RunLayout) -> None:
    """The final metrics: one row per run (if few), then one per setting."""
    names = list(results["final"])
    if not names:
        return
    labels = layout.labels()
    is_sweep = len(layout.settings) > 1
    title = (
        f"{results['algorithm']} on {results['target']}: final metrics "
        f"({results['status']}, step {results['steps_done']}/"
        f"{results['num_steps']})"
    )
    table = Table(title=escape(title))
    table.add_column("seed" if not is_sweep else "setting / seed")
    for name in names:
        table.add_column(escape(name), justify="right")
    reasons = results["nonfinite_reason"]
    if len(results["runs"]) <= MAX_ROWS_PER_RUN:
        for r, run in enumerate(results["runs"]):
            label = str(run["seed"])
            if is_sweep:
                label = f"{labels[run['setting']]} / {label}"
            cells = [_cell(results["final"][n][r], reasons.get(str(r))) for n in names]
            table.add_row(escape(label), *cells)
        table.add_section()
    for i, label in enumerate(labels):
        prefix = f"{label} " if is_sweep else ""
        summaries = [results["summary"][n][i] for n in names]
        table.add_row(
            escape(prefix + "mean ± std"),
            *[f"{_num(s['mean'])} ± {_num(s['std'])}" for s in summaries],
        )
        table.add_row(escape(prefix + "IQM [95% CI]"), *[_iqm(s) for s in summaries])
    console.print(table)
    if "no value" in reasons.values():
        console.print("n/a: no value in the final window (e.g. no episode ended)")
    throughput = results["throughput"]["value"]
    shown = f"{throughput:,.0f}" if throughput else "-"
    console.print(
        f"{shown} {results['throughput']['unit']} (all runs)   compile "
        f"{results['compile_s']:.1f} s   run {results['run_s']:.1f} s",
        highlight=False,
    )


def _iqm(summary: dict) -> str:
    low, high = summary.get("iqm_ci95") or (None, None)
    if summary.get("iqm") is None:
        return "n/a"
    return f"{_num(summary['iqm'])} [{_num(low)}, {_num(high)}]"


def _cell(value: Any, reason: str | None) -> str:
    if value is None:
        return "diverged" if reason == "diverged" else "n/a"
    return _num(value)


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"
