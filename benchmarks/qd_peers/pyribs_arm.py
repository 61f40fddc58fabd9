"""pyribs' MAP-Elites on the arm race (driven by benchmarks/compare_qd.py).

Runs in its own virtual environment. Prints one JSON line: evals/s (the
ask/evaluate/tell loop, timed from the first ask), coverage and QD-score.
"""

import json
import math
import time

import numpy as np
from race_args import parse_race_args
from ribs.archives import CVTArchive, GridArchive
from ribs.emitters import IsoLineEmitter
from ribs.schedulers import Scheduler


def arm(genotypes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The race's arm: joints 2 pi x - pi, fitness -var, descriptor the end
    effector mapped to the unit square (jaxrl.envs.qd.arm's definition)."""
    theta = 2.0 * np.pi * np.clip(genotypes, 0.0, 1.0) - np.pi
    phi = np.cumsum(theta, axis=1)
    reach = np.stack([np.cos(phi), np.sin(phi)], axis=-1).sum(1) / theta.shape[1]
    return -np.var(theta, axis=1), 0.5 + 0.5 * reach


def main() -> None:
    args = parse_race_args()

    offset = -(math.pi**2)
    box = [(0.0, 1.0), (0.0, 1.0)]
    if args.archive == "grid":
        archive = GridArchive(
            solution_dim=args.dof, dims=[args.cells, args.cells], ranges=box,
            qd_score_offset=offset, seed=args.seed,
        )  # fmt: skip
    else:  # centroids from k-means on 50,000 uniform samples, as jaxrl's default
        archive = CVTArchive(
            solution_dim=args.dof, centroids=args.centroids, ranges=box,
            samples=50_000, qd_score_offset=offset, seed=args.seed,
        )  # fmt: skip
    rng = np.random.default_rng(args.seed)
    first = rng.uniform(0.0, 1.0, size=(args.batch, args.dof))
    emitter = IsoLineEmitter(
        archive, iso_sigma=args.sigma_iso, line_sigma=args.sigma_line,
        initial_solutions=first, bounds=[(0.0, 1.0)] * args.dof,
        batch_size=args.batch, seed=args.seed,
    )  # fmt: skip
    scheduler = Scheduler(archive, [emitter])
    start = time.perf_counter()
    for _ in range(args.iterations + 1):  # the first batch, then iterations
        solutions = scheduler.ask()
        fitness, descriptors = arm(solutions)
        scheduler.tell(fitness, descriptors)
    run_s = time.perf_counter() - start
    evaluations = args.batch * (args.iterations + 1)
    print(json.dumps({
        "evaluations": evaluations, "run_s": run_s, "compile_s": 0.0,
        "evals_per_s": evaluations / run_s,
        "coverage": float(archive.stats.coverage),
        "qd_score": float(archive.stats.qd_score),
        "max_fitness": float(archive.stats.obj_max),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
