"""Exploration showdown: RL and quality-diversity on the same sparse tasks.

On the deceptive hard maze and on one sparse gridworld, plain PPO, PPO with
an exploration bonus (RND; RDD where ``ppo.Config.intrinsic`` offers it),
novelty search and SERENE each get the same number of environment steps per
seed (``--env-steps``). Each method runs once per task through
``jaxrl.run`` (one compiled program, the seeds vmapped by the engine).

When a seed first reaches the goal:

- PPO: the first update in which an episode ended at the goal (the
  gridworld's ``success_rate > 0``; on the maze, whose only reward is 1 on
  reaching the exit, a mean episode return above 0), counted at the env
  steps done by the end of that update;
- novelty search and SERENE: the first generation whose best fitness so
  far says an evaluation solved the task (maze: ended within 5 of the exit,
  fitness ``>= 1 - 5 / d0``, as ``benchmarks/hard_maze.py``; gridworld:
  return > 0, the task's ``is_solved``), counted as the evaluations so far
  (the first population included) times the steps of one evaluation (400 on
  the maze; the gridworld's step limit, 270 on KeyCorridorS3R3: an
  evaluation's episode is scanned to the end even after it stops).

Tasks:

- ``hard-maze``: PPO trains on the gymnax ``HardMaze`` (reward 1 at the
  exit); the QD methods search the ``"hard-maze"`` task's 67-gene MLP
  controllers (final (x, y) descriptor, Gaussian mutation of 5% of the gene
  range, as ``benchmarks/hard_maze.py``).
- ``KeyCorridorS3R3`` (or any gridworld id given with ``--tasks``): PPO
  trains on the registered environment (a fresh random level every
  episode); the QD methods search the ``"gridworld-final-position"`` task on
  the same environment (an MLP 151 -> 8 -> 7 on the egocentric view,
  descriptor the final cell, one fixed level: the reset of seed 0; genes
  drawn in [-1, 1] and unbounded, so the Gaussian step is 0.05). The QD
  side thus faces one level and PPO every level: QD policy search has no
  notion of a level distribution, and this is the setting where it is used.
  README's sparse-PPO table picks this task: plain PPO ends it near 0%
  success at 500k steps, count bonuses do better.

Prints a table (method x task: seeds that reached the goal, median env
steps to the first success, compile and run seconds) and draws one figure
(a panel per task: the fraction of seeds that reached the goal against env
steps, a line per method)::

    # CPU default: 5 seeds; 1M env steps per seed on the maze (2,500
    # evaluations), 200k on the gridworld (740 evaluations)
    python benchmarks/exploration_showdown.py
    # a GPU-scale setting: 80M env steps a task (200k maze evaluations, as
    # benchmarks/hard_maze.py), 10 seeds, the paper's RND size
    python benchmarks/exploration_showdown.py --env-steps 80000000 --seeds 10 \\
        --qd-batch 256 --num-envs 256 --rnd-hidden 256 --rnd-output 512

PPO's bonuses run at their defaults except RND's size: on CPU the default
is RND at RDD's network size (64 wide, 64 target features) rather than
Burda et al.'s 256 / 512, which on the loaded 2-core CPU ran at 1/30 of
plain PPO's env steps/s on the maze and 1/3.5 on KeyCorridorS3R3; a GPU run
takes ``--rnd-hidden 256 --rnd-output 512``. QD batches are 64 on CPU (37-38
generations on the maze) and 256 at GPU scale; SERENE's emitter slots are
as many as one generation holds (5 of batch 64, its 16 from batch 192).
"""

import argparse
import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import print_table, save_results
from rich.console import Console

import jaxrl
from jaxrl.algos import novelty_search, ppo, serene
from jaxrl.algos.ppo.config import INTRINSIC_REWARDS
from jaxrl.envs import qd
from jaxrl.envs.qd.maze import EXIT_RADIUS, INITIAL_DISTANCE, NUM_STEPS

MAZE = "hard-maze"
GRIDWORLD = "KeyCorridorS3R3"
DEFAULT_TASKS = (MAZE, GRIDWORLD)
# CPU-sized budgets (env steps per seed): the maze's is 2,500 evaluations
DEFAULT_STEPS = {MAZE: 1_000_000, GRIDWORLD: 200_000}
GRIDWORLD_STEPS = 200_000  # the budget of a gridworld not in DEFAULT_STEPS
PPO_METHODS = {"ppo": "none", "ppo-rnd": "rnd", "ppo-rdd": "rdd"}
QD_METHODS = ("novelty-search", "serene")
MAZE_SOLVED_FITNESS = 1.0 - EXIT_RADIUS / INITIAL_DISTANCE
# one colour a method, whichever methods a run draws
COLORS = {"ppo": "tab:blue", "ppo-rnd": "tab:orange", "ppo-rdd": "tab:green",
          "novelty-search": "tab:red", "serene": "tab:purple"}  # fmt: skip


def default_methods() -> list[str]:
    """Every PPO variant this PPO offers, then the QD methods."""
    ppo_methods = [m for m, bonus in PPO_METHODS.items()
                   if bonus in INTRINSIC_REWARDS]  # fmt: skip
    return ppo_methods + list(QD_METHODS)


@dataclasses.dataclass(frozen=True)
class ShowdownTask:
    """One task as both an RL environment and a QD policy-search task."""

    name: str
    env_id: str  # jaxrl.make id PPO trains on
    make_qd_task: Callable[[], qd.Task]
    steps_per_evaluation: int  # env steps one QD evaluation costs
    is_solved: Callable[[np.ndarray], np.ndarray]  # best fitness -> solved


def make_showdown_task(name: str) -> ShowdownTask:
    """The hard maze, or a gridworld id with the final-position QD task."""
    if name == MAZE:
        return ShowdownTask(
            name=MAZE,
            env_id="HardMaze",
            make_qd_task=lambda: qd.make_task(MAZE),
            steps_per_evaluation=NUM_STEPS,
            is_solved=lambda best: best >= MAZE_SOLVED_FITNESS,
        )
    _, params = jaxrl.make(name)
    limit = int(params.max_steps_in_episode)
    return ShowdownTask(
        name=name,
        env_id=name,
        make_qd_task=lambda: qd.make_task(
            "gridworld-final-position", env_id=name, episode_steps=limit
        ),
        steps_per_evaluation=limit,
        is_solved=lambda best: best > 0.0,
    )


def first_success(solved: np.ndarray, env_steps: np.ndarray) -> np.ndarray:
    """``(R,)`` env steps at each run's first solved step; NaN where none.

    Args:
        solved: ``(R, T)`` bool, whether the goal had been reached by step t
            (or was reached during it).
        env_steps: ``(R, T)`` or ``(T,)`` env steps done by the end of step t.
    """
    solved = np.asarray(solved, bool)
    steps = np.broadcast_to(np.asarray(env_steps, np.float64), solved.shape)
    first = np.argmax(solved, axis=1)
    reached = solved.any(axis=1)
    return np.where(reached, steps[np.arange(len(first)), first], np.nan)


def fraction_reached(first: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Share of runs whose first success came at or before each grid step."""
    first = np.asarray(first, np.float64)
    done = np.isfinite(first)[:, None] & (first[:, None] <= grid[None, :])
    return done.mean(axis=0)


def run_ppo(method: str, task: ShowdownTask, budget: int, args, console) -> dict:
    """One PPO variant on ``task``'s environment, every seed at once."""
    config = ppo.Config(
        total_steps=budget,
        num_envs=args.num_envs,
        intrinsic=PPO_METHODS[method],
        rnd_hidden_size=args.rnd_hidden,
        rnd_output_size=args.rnd_output,
    )
    env, params = jaxrl.make(task.env_id)
    program = ppo.make_program(config, env, params, target=task.env_id)
    result = jaxrl.run(program, ppo.HParams(), seeds=args.seeds,
                       progress=False, console=console)  # fmt: skip
    history = result.history
    if "success_rate" in history:
        solved = np.asarray(history["success_rate"]) > 0
    else:  # the maze: reward 1 at the exit and 0 elsewhere
        solved = np.asarray(history["episode_return"]) > 0
    solved &= np.asarray(history["num_episodes"]) > 0
    return {
        "first": first_success(solved, history["env_steps"]),
        "compile_s": result.results["compile_s"],
        "run_s": result.results["run_s"],
    }


def qd_config(method: str, task: ShowdownTask, qd_task, budget: int, args):
    """``(module, config, hparams)`` of a QD method within ``budget`` env
    steps: the first population and whole batches, rounded down."""
    evaluations = budget // task.steps_per_evaluation
    batch = args.qd_batch
    if method == "novelty-search":
        module = novelty_search
        population = batch
        extra = {"population_size": batch, "emitter": "gaussian",
                 "coverage_cells": 50}  # fmt: skip
    else:
        module = serene
        population = module.Config().population_size
        defaults = module.Config()
        # ~SERENE's 1,000 evaluations a chunk, in whole batches; as many
        # emitter slots as one generation holds (16 from batches of 192)
        slots = batch // (2 * defaults.emitter_population)
        extra = {"chunk_size": 4 * batch,
                 "num_emitters": max(1, min(defaults.num_emitters, slots))}  # fmt: skip
    iterations = (evaluations - population) // batch
    if iterations < 1:
        raise ValueError(
            f"--env-steps {budget:,} buys {evaluations} evaluations of "
            f"{task.steps_per_evaluation} steps on {task.name}: fewer than the "
            f"first population plus one batch ({population} + {batch})"
        )
    config = module.Config(genotype_dim=qd_task.genotype_dim, batch_size=batch,
                           num_iterations=iterations, **extra)  # fmt: skip
    hparams = module.HParams(mutation_sigma=args.sigma)
    return module, config, hparams


def run_qd(method: str, task: ShowdownTask, budget: int, args, console) -> dict:
    """Novelty search or SERENE on ``task``'s QD task, every seed at once."""
    qd_task = task.make_qd_task()
    module, config, hparams = qd_config(method, task, qd_task, budget, args)
    program = module.make_program(config, qd_task, target=qd_task.name)
    result = jaxrl.run(program, hparams, seeds=args.seeds,
                       progress=False, console=console)  # fmt: skip
    best = np.asarray(result.history["max_fitness"])  # (R, T), best so far
    evaluations = config.population_size + config.batch_size * (
        1 + np.arange(best.shape[1])
    )
    return {
        "first": first_success(task.is_solved(best),
                               evaluations * task.steps_per_evaluation),
        "compile_s": result.results["compile_s"],
        "run_s": result.results["run_s"],
    }  # fmt: skip


def plot(results: dict, budgets: dict, seeds: int, path: Path) -> None:
    """One panel per task: fraction of seeds that reached the goal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    tasks = list(results)
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.6 * len(tasks), 3.6),
                             squeeze=False)  # fmt: skip
    for ax, task in zip(axes[0], tasks, strict=True):
        grid = np.linspace(0, budgets[task], 401)
        for method, r in results[task].items():
            first = np.asarray(r["first"], np.float64)
            linestyle = "--" if method.startswith("ppo") else "-"
            label = f"{method} ({np.isfinite(first).sum()}/{len(first)})"
            ax.step(grid, fraction_reached(first, grid), where="post",
                    linestyle=linestyle, color=COLORS[method], label=label)  # fmt: skip
        ax.set(title=f"{task}: {budgets[task]:,} env steps a seed",
               xlabel="env steps per seed", xlim=(0, budgets[task]),
               ylim=(-0.03, 1.5), yticks=np.linspace(0, 1, 6))  # fmt: skip
        ax.xaxis.set_major_formatter(EngFormatter())
        ax.grid(alpha=0.3)
        # the headroom above 1 holds the legend, off the curves
        ax.legend(loc="upper center", ncol=2, fontsize=8,
                  title="seeds at the goal", title_fontsize=8)  # fmt: skip
    axes[0][0].set_ylabel(f"fraction of {seeds} seeds at the goal")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def replot(saved: Path, path: Path) -> None:
    """Draw the figure of a results JSON this script wrote."""
    numbers = json.loads(saved.read_text())
    results, seeds = {}, int(numbers["settings"]["seeds"])
    for name, run in numbers["runs"].items():
        task, method = name.split("/")
        first = [np.nan if f is None else f for f in run["first_success"]]
        results.setdefault(task, {})[method] = {"first": np.asarray(first)}
    plot(results, numbers["budgets"], seeds, path)
    print(f"figure: {path}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(DEFAULT_TASKS))
    parser.add_argument("--methods", nargs="+", default=None,
                        help=f"default: {' '.join(default_methods())}")  # fmt: skip
    steps_help = (
        "env steps per seed for every method: one number for every task, or "
        f"one per task (default: maze {DEFAULT_STEPS[MAZE]:,}, gridworld "
        f"{GRIDWORLD_STEPS:,})"
    )
    parser.add_argument("--env-steps", type=int, nargs="+", default=None,
                        help=steps_help)  # fmt: skip
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--num-envs", type=int, default=16,
                        help="PPO's parallel environments per seed")  # fmt: skip
    parser.add_argument("--qd-batch", type=int, default=64,
                        help="QD evaluations a generation")  # fmt: skip
    parser.add_argument("--sigma", type=float, default=0.05,
                        help="QD Gaussian mutation (x gene range)")  # fmt: skip
    parser.add_argument("--rnd-hidden", type=int, default=64,
                        help="RND's width (Burda et al.: 256)")  # fmt: skip
    parser.add_argument("--rnd-output", type=int, default=64,
                        help="RND's target features (Burda et al.: 512)")  # fmt: skip
    parser.add_argument("--out", type=Path,
                        default=Path("runs/showdown/showdown.png"))  # fmt: skip
    parser.add_argument("--replot", type=Path, default=None,
                        help="redraw a results JSON's figure to --out")  # fmt: skip
    args = parser.parse_args(argv)
    if args.replot is not None:
        replot(args.replot, args.out)
        return
    methods = args.methods or default_methods()
    known = list(PPO_METHODS) + list(QD_METHODS)
    unknown = [m for m in methods if m not in known]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; known: {known}")
    missing = [m for m in methods if m in PPO_METHODS
               and PPO_METHODS[m] not in INTRINSIC_REWARDS]  # fmt: skip
    if missing:
        parser.error(f"{missing}: this PPO's intrinsic rewards are "
                     f"{list(INTRINSIC_REWARDS)}")  # fmt: skip
    bad = [t for t in args.tasks if t != MAZE and t not in jaxrl.registry.ids()]
    if bad:
        parser.error(f"unknown task(s) {bad}; {MAZE} or a gridworld id (`jaxrl envs`)")
    if args.seeds < 1 or args.qd_batch < 1 or args.num_envs < 1:
        parser.error("--seeds, --qd-batch and --num-envs must be >= 1")
    if args.env_steps is None:
        budgets = [DEFAULT_STEPS.get(t, GRIDWORLD_STEPS) for t in args.tasks]
    elif len(args.env_steps) in (1, len(args.tasks)):
        budgets = list(args.env_steps) * (len(args.tasks) // len(args.env_steps))
    else:
        parser.error(f"--env-steps takes one number or one per task "
                     f"({len(args.tasks)}), got {len(args.env_steps)}")  # fmt: skip
    update = args.num_envs * ppo.Config().num_steps
    if min(budgets) < update:
        parser.error(f"--env-steps must cover one PPO update ({args.num_envs} x "
                     f"{ppo.Config().num_steps} = {update} steps)")  # fmt: skip
    tasks = [make_showdown_task(t) for t in args.tasks]
    budgets = dict(zip(args.tasks, budgets, strict=True))
    for task in tasks:  # a budget too small for a QD run is refused up front
        for method in (m for m in methods if m in QD_METHODS):
            try:
                qd_config(method, task, task.make_qd_task(), budgets[task.name], args)
            except ValueError as error:
                parser.error(str(error))

    console = Console()
    results, rows, payload = {}, [], {}
    for task in tasks:
        budget = budgets[task.name]
        results[task.name] = {}
        for method in methods:
            console.print(f"[bold]{task.name}[/] {method}: {args.seeds} seeds x "
                          f"{budget:,} env steps")  # fmt: skip
            start = time.perf_counter()
            run = run_ppo if method in PPO_METHODS else run_qd
            r = run(method, task, budget, args, console)
            results[task.name][method] = r
            first = r["first"]
            reached = np.isfinite(first)
            median = f"{np.median(first[reached]):,.0f}" if reached.any() else "-"
            rows.append([task.name, f"{budget:,}", method,
                         f"{reached.sum()}/{args.seeds}", median,
                         f"{r['compile_s']:.0f}", f"{r['run_s']:.0f}"])  # fmt: skip
            payload[f"{task.name}/{method}"] = {
                "env_steps": budget,
                "first_success": [None if np.isnan(f) else float(f) for f in first],
                "compile_s": r["compile_s"], "run_s": r["run_s"],
                "wall_s": time.perf_counter() - start,
            }  # fmt: skip
            console.print(f"  reached the goal: {reached.sum()}/{args.seeds}")
    print_table(
        f"exploration showdown: {args.seeds} seeds, the same env steps per seed "
        "for every method on a task",
        ["task", "env steps", "method", "seeds at the goal",
         "median env steps to the goal", "compile s", "run s"],
        rows,
    )  # fmt: skip
    plot(results, budgets, args.seeds, args.out)
    settings = {k: str(v) for k, v in vars(args).items()}
    saved = save_results("exploration_showdown", {"settings": settings,
                                                   "budgets": budgets,
                                                   "runs": payload})  # fmt: skip
    print(f"figure: {args.out}; numbers: {saved}")


if __name__ == "__main__":
    main()
