"""Which exploration variant of PPO solves which sparse-reward gridworld.

Every variant trains 8 seeds (``--seeds``) per task with the same budget of
environment steps, through ``jaxrl.run`` (one compiled program per task and
variant). Reported per task and variant: the final success rate (the share of
episodes that ended in success over the last 10% of updates; mean, IQM and
its 95% bootstrap CI over seeds), how many seeds reached ``--threshold``
success (smoothed over 5 updates, episodes weighted equally, and backed by
at least 20 episodes) and the median env steps they needed, and env steps/s
(compile time excluded). The learning curves go to
one PNG (a panel per task, a line per variant: the mean over seeds of each
seed's success rate over its last 5 updates' episodes).

Variants (each a ``ppo.Config`` switch, so also ``jaxrl train ppo`` flags):
``plain``; ``rnd`` (``--intrinsic rnd``); ``rdd`` (``--intrinsic rdd``,
random distribution distillation); ``count`` (``--intrinsic count``,
lifelong SimHash counts); ``count-episodic`` (``--count-mode episodic``);
``shaping`` (``--shaping goal_distance``); ``recurrent`` (``--recurrent``, a
GRU actor-critic).

    python benchmarks/ppo_sparse.py                     # every task, ~hours on CPU
    python benchmarks/ppo_sparse.py --tasks DoorKey-8x8 --variants plain rnd
    python benchmarks/ppo_sparse.py --quick             # smoke run, ~2 minutes
"""

import argparse
import json
from pathlib import Path

import jax
import numpy as np
from common import RESULTS_DIR, print_table, rate, save_results
from rich.console import Console

import jaxrl
from jaxrl.algos import ppo
from jaxrl.stats import smooth, summarize

DEFAULT_STEPS = {
    "DoorKey-8x8": 1_000_000,
    "KeyCorridorS3R3": 1_000_000,
    "MultiRoom-N2-S4": 500_000,
    "MemoryS7": 1_000_000,
    "ObstructedMaze-1Dl": 1_000_000,
    "DoorKey-16x16": 2_000_000,
}
VARIANTS = {
    "plain": {},
    "rnd": {"intrinsic": "rnd"},
    "rdd": {"intrinsic": "rdd"},
    "count": {"intrinsic": "count"},
    "count-episodic": {"intrinsic": "count", "count_mode": "episodic"},
    "shaping": {"shaping": "goal_distance"},
    "recurrent": {"recurrent": True},
}
QUICK = {"tasks": ["DoorKey-5x5"], "steps": 4 * 2048, "seeds": 2}
SMOOTH_UPDATES = 5
CURVE_KEYS = ("success_rate", "num_episodes", "env_steps")
MIN_EPISODES = 20  # a smoothed success rate counts once this many episodes back it


def smoothed_success(history: dict) -> np.ndarray:
    """``(R, U)`` success rate over the last 5 updates' episodes; NaN where
    fewer than ``MIN_EPISODES`` episodes ended in that window."""
    episodes = np.asarray(history["num_episodes"], np.float64)
    smoothed = smooth(history["success_rate"], episodes, SMOOTH_UPDATES)
    # the window's episode count: its mean times the updates it holds (fewer
    # than SMOOTH_UPDATES at the start of a run)
    held = np.minimum(np.arange(1, episodes.shape[-1] + 1), SMOOTH_UPDATES)
    backed = smooth(episodes, None, SMOOTH_UPDATES) * held >= MIN_EPISODES
    return np.where(backed, smoothed, np.nan)


def steps_to_threshold(history: dict, threshold: float) -> np.ndarray:
    """``(R,)`` env steps at which each seed's smoothed success rate first
    reached ``threshold``; inf where it never did."""
    reached = np.nan_to_num(smoothed_success(history), nan=-1.0) >= threshold
    steps = np.asarray(history["env_steps"], np.float64)
    first = np.argmax(reached, axis=1)
    return np.where(reached.any(1), steps[np.arange(len(first)), first], np.inf)


def _carried(values: np.ndarray) -> np.ndarray:
    """Each seed's last defined value carried over windows where none of its
    episodes ended (0 before its first), so that every seed counts in the
    mean over seeds at every step."""
    out = np.zeros_like(values)
    for seed, row in enumerate(values):
        last = 0.0
        for t, value in enumerate(row):
            last = last if np.isnan(value) else value
            out[seed, t] = last
    return out


def run_one(task: str, variant: str, steps: int, seeds: int, console) -> dict:
    config = ppo.Config(total_steps=steps, **VARIANTS[variant])
    env, params = jaxrl.make(task)
    program = ppo.make_program(config, env, params, target=task)
    result = jaxrl.run(program, ppo.HParams(), seeds=seeds, console=console)
    run_s = result.results["run_s"]
    return {
        "history": result.history,
        "final": result.final,
        "seconds": run_s,
        "compile_s": result.results["compile_s"],
        "steps_per_s": config.num_updates * config.batch_size * seeds / run_s,
    }


TABLE_COLUMNS = ["task", "variant", "steps a seed", "final success",
                 "IQM [95% CI]", "seeds solved", "median steps to solve",
                 "env steps/s"]  # fmt: skip


def table_title(threshold: float) -> str:
    return (f"PPO exploration variants ({jax.default_backend()}, success >= "
            f"{threshold} counts as solved)")  # fmt: skip


def table_row(name: str, run: dict, threshold: float) -> list[str]:
    """One table row from a saved run (``payload[task/variant]``); the steps
    to ``threshold`` are read off its curves again, so files saved by older
    code get today's rule."""
    task, variant = name.split("/")
    success = run["success"]
    reach = steps_to_threshold(run["curves"], threshold)
    solved = np.isfinite(reach)
    return [
        task, variant, rate(run["steps"]), f"{success['mean']:.2f}",
        f"{success['iqm']:.2f} [{success['iqm_ci95'][0]:.2f}, "
        f"{success['iqm_ci95'][1]:.2f}]",
        f"{solved.sum()}/{len(reach)}",
        f"{np.median(reach[solved]):,.0f}" if solved.any() else "-",
        rate(run["steps_per_s"]),
    ]  # fmt: skip


def replot(paths: list[Path], out: Path | None) -> None:
    """Merge saved results (a later file's task/variant replaces an earlier
    one's), print their table and draw one plot of every task."""
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise SystemExit(f"--replot: no such results file {missing}")
    runs, thresholds = {}, set()
    for path in paths:
        saved = json.loads(path.read_text())
        thresholds.add(saved["threshold"])
        runs.update(saved["runs"])
    if len(thresholds) > 1:
        raise SystemExit(f"the files were made with different --threshold "
                         f"values {sorted(thresholds)}; replot files of one "
                         "threshold")  # fmt: skip
    curves = {}
    for name, run in runs.items():
        task, variant = name.split("/")
        curves.setdefault(task, {})[variant] = {
            k: np.asarray(v) for k, v in run["curves"].items()
        }
    threshold = thresholds.pop()
    rows = [table_row(name, run, threshold) for name, run in runs.items()]
    print_table(table_title(threshold), TABLE_COLUMNS, rows)
    figure = out or paths[-1].with_suffix(".png")
    plot(curves, figure)
    print(f"plot: {figure}")


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(curves)
    columns = min(len(tasks), 3)
    rows = -(-len(tasks) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows),
                             squeeze=False)  # fmt: skip
    colors = dict(zip(VARIANTS, plt.rcParams["axes.prop_cycle"].by_key()["color"],
                      strict=False))  # fmt: skip
    for ax, task in zip(axes.flat, tasks, strict=False):
        for variant, history in curves[task].items():
            smoothed = _carried(smooth(history["success_rate"],
                                       history["num_episodes"], SMOOTH_UPDATES))
            steps = np.asarray(history["env_steps"])[0]
            ax.plot(steps, smoothed.mean(axis=0), label=variant,
                    color=colors.get(variant))  # fmt: skip
        ax.set_title(task)
        ax.set_xlabel("env steps per seed")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=7)
    for ax in axes.flat[len(tasks):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel("success rate (mean over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(DEFAULT_STEPS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS),
                        choices=list(VARIANTS))  # fmt: skip
    parser.add_argument("--steps", type=int, default=None,
                        help="env steps per seed for every task (default: per task)")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--threshold", type=float, default=0.8,
                        help="success rate counted as solved")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--replot", type=Path, nargs="+", default=None,
                        metavar="JSON",
                        help="redraw the table and plot from saved results JSONs "
                             "(merged in order: a later file's task/variant wins) "
                             "and exit")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None,
                        help="with --replot: the PNG to write (default: beside "
                             "the last JSON)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.replot is not None:
        replot(args.replot, args.out)
        return
    if args.quick:
        args.tasks, args.steps = QUICK["tasks"], QUICK["steps"]
        args.seeds = QUICK["seeds"]
    unknown = [t for t in args.tasks if t not in jaxrl.registry.ids()]
    if unknown:
        parser.error(f"unknown task(s) {unknown}; see `jaxrl envs`")
    console = Console()
    rows, payload, curves = [], {}, {}
    for task in args.tasks:
        steps = args.steps or DEFAULT_STEPS.get(task, 500_000)
        for variant in args.variants:
            console.print(f"[bold]{task}[/] {variant}: {args.seeds} x {steps:,} steps")
            out = run_one(task, variant, steps, args.seeds, console)
            success = summarize(out["final"]["success_rate"])
            reach = steps_to_threshold(out["history"], args.threshold)
            payload[f"{task}/{variant}"] = {
                "steps": steps, "seeds": args.seeds, "success": success,
                "steps_to_threshold": [None if np.isinf(r) else r for r in reach],
                "run_s": out["seconds"], "compile_s": out["compile_s"],
                "steps_per_s": out["steps_per_s"],
                "curves": {name: np.asarray(out["history"][name]).tolist()
                           for name in CURVE_KEYS},
            }  # fmt: skip
            rows.append(table_row(f"{task}/{variant}", payload[f"{task}/{variant}"],
                                  args.threshold))  # fmt: skip
            curves.setdefault(task, {})[variant] = out["history"]
    print_table(table_title(args.threshold), TABLE_COLUMNS, rows)
    saved = save_results("ppo_sparse", {"threshold": args.threshold, "runs": payload})
    figure = RESULTS_DIR / (saved.stem + ".png")
    plot(curves, figure)
    print(f"results: {saved}\nplot: {figure}")


if __name__ == "__main__":
    main()
