"""Who reaches the exit of the deceptive hard maze: QD and novelty against
objective search.

Every method searches the same controllers (the ``"hard-maze"`` QD task: a
67-gene MLP in [-5, 5], final (x, y) as the descriptor, fitness the progress
towards the exit) with the same variation (Gaussian mutation, sigma 5% of
the gene range, 0.5) and the same budget of evaluations, for the same seeds.
A seed counts as solved from the first evaluation whose robot ended within
5 of the exit: its fitness is then above ``1 - 5 / d0``, and every method
here keeps its best fitness so far, so the best-so-far curve says when.

Methods (all of them run in one compiled program per method, seeds vmapped):

- ``novelty-search``: pure novelty (k = 15), ring archive;
- ``map-elites``: a 50 x 50 grid archive on the final position, fitness the
  progress towards the exit (objective search inside each cell);
- ``fitness``: objective search alone: MAP-Elites with a single cell, i.e.
  a (1 + lambda) elitist search on the progress towards the exit;
- ``random``: uniform genotypes in [-5, 5], no search at all;
- ``serene``, ``aurora`` (Gaussian variation like the others), ``ns-es``
  (its own perturbations: ``batch / 2`` antithetic pairs a generation), or
  any other registered QD program given by name with ``--methods`` (it must
  report ``max_fitness`` as the best fitness so far).

Prints, per method: seeds that reached the exit, the median evaluations to
the first success, compile and run seconds. Saves the fraction of seeds
solved against evaluations and each method's final positions (seed 0) drawn
on the maze to one figure, and every number to a JSON file::

    python benchmarks/hard_maze.py                       # 10 seeds x 200k evals
    python benchmarks/hard_maze.py --seeds 2 --evals 20000   # a quick look
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from common import print_table, save_results

from jaxrl import algorithms
from jaxrl.envs import qd
from jaxrl.envs.qd.maze import EXIT, EXIT_RADIUS, INITIAL_DISTANCE, START, WALLS
from jaxrl.program import scan_program

# fitness (d0 - d) / d0 of a robot that stopped within EXIT_RADIUS of the exit
SOLVED_FITNESS = 1.0 - EXIT_RADIUS / INITIAL_DISTANCE
DEFAULT_METHODS = (
    "novelty-search",
    "serene",
    "aurora",
    "ns-es",
    "map-elites",
    "fitness",
    "random",
)


def variation(name: str, batch: int, iterations: int, sigma: float):
    """``(config, hparams)`` of registered algorithm ``name`` on the maze."""
    algorithm = algorithms.get("map-elites" if name == "fitness" else name)
    fields = {f for f in algorithm.config_type.__dataclass_fields__}
    settings = {"genotype_dim": 67, "batch_size": batch, "num_iterations": iterations}
    per_method = {
        "novelty-search": {"population_size": batch, "emitter": "gaussian",
                           "coverage_cells": 50},
        "map-elites": {"emitter": "gaussian", "grid_cells": 50},
        "fitness": {"emitter": "gaussian", "grid_cells": 1},
        "serene": {"chunk_size": 4 * batch},  # SERENE's ~1,000 in whole batches
        "aurora": {"emitter": "gaussian"},
        "ns-es": {"num_pairs": batch // 2},
    }  # fmt: skip
    settings.update(per_method.get(name, {}))
    settings = {k: v for k, v in settings.items() if k in fields}
    config = algorithm.config_type(**settings)
    hparams = algorithm.hparams_type()
    if "mutation_sigma" in hparams.__dataclass_fields__:
        hparams = hparams.replace(mutation_sigma=sigma)
    return algorithm, config, hparams


def final_positions(state) -> tuple[np.ndarray, np.ndarray]:
    """``(positions (seeds, N, 2), kept (seeds, N) bool)`` of a run's archive."""
    if hasattr(state, "qd"):  # MAP-Elites
        archive = state.qd.archive
        return np.asarray(archive.descriptors), np.asarray(archive.is_filled)
    if hasattr(state, "aurora"):  # the archive's descriptors are learned codes
        archive = state.aurora.container
        return np.asarray(archive.task_descriptors), np.asarray(archive.is_valid)
    for name in ("ns", "serene", "es"):  # novelty archives
        if hasattr(state, name):
            archive = getattr(state, name).archive
            return np.asarray(archive.descriptors), np.asarray(archive.is_valid)
    raise ValueError("no archive of final positions found in this run's state")


def run_method(name: str, task, keys, batch: int, evals: int, sigma: float) -> dict:
    """One method on every seed: best fitness so far against evaluations."""
    if name == "random":
        return run_random(task, keys, batch, evals)
    iterations = max(1, (evals - batch) // batch)
    algorithm, config, hparams = variation(name, batch, iterations, sigma)
    program = algorithm.make_program(config, task.name)
    run = scan_program(program, hparams)
    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(run, in_axes=(0, None))).lower(keys, hparams).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(keys, hparams))
    run_s = time.perf_counter() - start
    best = np.asarray(out.metrics.max_fitness)  # (seeds, iterations)
    # the first population counted as one generation's worth
    evaluations = program.work_per_step * (1 + np.arange(1, best.shape[1] + 1))
    positions, kept = final_positions(out.state)
    return {"best": best, "evaluations": evaluations, "positions": positions,
            "kept": kept, "compile_s": compile_s, "run_s": run_s}  # fmt: skip


def run_random(task, keys, batch: int, evals: int) -> dict:
    """Uniform genotypes in the task's bounds, batch after batch; the last 16
    batches' positions."""
    iterations = max(1, evals // batch)
    low, high = task.genotype_bounds
    shape = (batch, task.genotype_dim)

    def one_seed(key):
        def step(best, key):
            genotypes = jax.random.uniform(key, shape, jnp.float32, low, high)
            fitness, descriptors, _ = task(genotypes, key)
            best = jnp.maximum(best, jnp.max(fitness))
            return best, (best, descriptors)

        steps = jax.random.split(key, iterations)
        _, (best, descriptors) = jax.lax.scan(step, jnp.float32(-jnp.inf), steps)
        return best, descriptors[-16:].reshape(-1, 2)

    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(one_seed)).lower(keys).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    best, positions = jax.block_until_ready(compiled(keys))
    run_s = time.perf_counter() - start
    positions = np.asarray(positions)
    return {"best": np.asarray(best),
            "evaluations": batch * np.arange(1, iterations + 1),
            "positions": positions, "kept": np.ones(positions.shape[:2], bool),
            "compile_s": compile_s, "run_s": run_s}  # fmt: skip


def first_success(best: np.ndarray, evaluations: np.ndarray) -> np.ndarray:
    """Evaluations at each seed's first success, NaN where it never solved."""
    solved = best >= SOLVED_FITNESS
    first = np.argmax(solved, axis=1)
    return np.where(solved.any(axis=1), evaluations[first], np.nan)


def plot(results: dict, seeds: int, path: str) -> None:
    """Fraction solved against evaluations, and final positions per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(1, 1 + len(names), figsize=(4 * (1 + len(names)), 4))
    curve_ax = axes[0]
    for name in names:
        r = results[name]
        solved = np.mean(r["best"] >= SOLVED_FITNESS, axis=0)
        curve_ax.step(r["evaluations"], solved, where="post", label=name)
    curve_ax.set(xlabel="evaluations", ylabel=f"fraction of {seeds} seeds solved",
                 ylim=(-0.02, 1.02), title="reached the exit")  # fmt: skip
    curve_ax.legend(fontsize=7)
    for ax, name in zip(axes[1:], names, strict=True):
        for x0, y0, x1, y1 in WALLS:
            ax.plot([x0, x1], [y0, y1], color="black", linewidth=1.5)
        r = results[name]
        points = r["positions"][0][r["kept"][0]]
        ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.5)
        ax.scatter(*START, marker="o", s=50, color="tab:green")
        ax.scatter(*EXIT, marker="*", s=120, color="tab:red")
        ax.set(xlim=(0, 205), ylim=(0, 205), aspect="equal", xticks=[], yticks=[],
               title=f"{name} (seed 0)")  # fmt: skip
        ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evals", type=int, default=200_000, help="budget per seed")
    parser.add_argument(
        "--batch", type=int, default=256, help="evaluations a generation"
    )
    parser.add_argument(
        "--sigma", type=float, default=0.05, help="Gaussian mutation (x gene range)"
    )
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS))
    parser.add_argument("--plot", default="hard_maze.png")
    parser.add_argument(
        "--json", default=None, help="results file (default: timestamped)"
    )
    args = parser.parse_args()
    known = set(algorithms.names()) | {"random", "fitness"}
    unknown = [m for m in args.methods if m not in known]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; known: {sorted(known)}")
    if args.seeds < 1 or args.batch < 1 or args.evals < 2 * args.batch:
        parser.error("need --seeds >= 1, --batch >= 1 and --evals >= 2 * --batch")

    task = qd.make_task("hard-maze")
    keys = jax.random.split(jax.random.key(0), args.seeds)
    results, rows = {}, []
    for name in args.methods:
        r = run_method(name, task, keys, args.batch, args.evals, args.sigma)
        results[name] = r
        first = first_success(r["best"], r["evaluations"])
        solved = np.isfinite(first)
        median = f"{np.median(first[solved]):,.0f}" if solved.any() else "-"
        rows.append([name, f"{solved.sum()}/{args.seeds}", median,
                     f"{float(np.max(r['best'])):.3f}",
                     f"{r['compile_s']:.1f}", f"{r['run_s']:.1f}"])  # fmt: skip
        print(f"{name}: {solved.sum()}/{args.seeds} solved", flush=True)
    title = f"hard maze: {args.seeds} seeds x {args.evals:,} evals, batch {args.batch}"
    print_table(
        title,
        ["method", "solved", "median evals to solve", "best fitness",
         "compile s", "run s"],
        rows,
    )  # fmt: skip
    plot(results, args.seeds, args.plot)
    payload = {
        "settings": vars(args),
        "solved_fitness": SOLVED_FITNESS,
        "methods": {
            name: {"first_success": first_success(r["best"], r["evaluations"]).tolist(),
                   "best_final": r["best"][:, -1].tolist(),
                   "compile_s": r["compile_s"], "run_s": r["run_s"]}
            for name, r in results.items()
        },
    }  # fmt: skip
    saved = save_results("hard_maze", payload, args.json)
    print(f"figure: {args.plot}; numbers: {saved}")


if __name__ == "__main__":
    main()
