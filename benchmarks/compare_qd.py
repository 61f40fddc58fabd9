"""jaxrl's MAP-Elites against pyribs and QDax on the same arm race.

The same work for every library: the 100-DoF planar arm (joints
``2 pi x - pi`` for genes ``x`` in [0, 1], fitness ``-var(joint angles)``,
descriptor the end effector mapped to the unit square), a 100x100 grid
archive over [0, 1]^2 (or a 1,024-cell CVT archive, ``--archive cvt``),
Iso+LineDD with sigma_iso 0.005 and sigma_line 0.05 clipped to [0, 1], a
first batch of 1,024 uniform genotypes, then batches of 1,024 for
1,000,448 evaluations in all (977 batches).

Reported per library: evaluations per second over the whole run (compile
time apart: jaxrl and QDax compile the run ahead of time; pyribs runs its
ask/tell loop in Python), coverage and QD-score with the same offset
(``pi**2``, the arm's lowest fitness, so every elite counts >= 0), and the
ratio of jaxrl's evals/s to pyribs' (target 2x) and QDax's. Coverage tops out
near 78.5%: only a disc of the square is reachable.

jaxrl runs in this process. Each peer runs in its own virtual environment,
as a subprocess of the same invocation (drivers in ``benchmarks/qd_peers/``;
QDax pins its own jax stack). Create the environments once, then race:

    python benchmarks/compare_qd.py --setup
    python benchmarks/compare_qd.py
    python benchmarks/compare_qd.py --archive cvt
    python benchmarks/compare_qd.py --quick
"""

import argparse
import json
import math
import subprocess
from pathlib import Path

import jax
from common import (
    compile_timed,
    peer_python,
    print_table,
    rate,
    save_results,
    setup_peers,
    time_call,
)

HERE = Path(__file__).resolve().parent
PEERS = ("pyribs", "qdax")
LIBS = ("jaxrl", *PEERS)
PEER_REQUIREMENTS = {"pyribs": ["ribs==0.12.0"], "qdax": ["qdax==0.5.0"]}
SETTING = {"dof": 100, "cells": 100, "centroids": 1024, "batch": 1024,
           "sigma_iso": 0.005, "sigma_line": 0.05}  # fmt: skip
FULL_ITERATIONS = 976  # after the first batch: 977 x 1024 = 1,000,448 evaluations
QUICK_ITERATIONS = 50
TARGET_OVER_PYRIBS = 2.0


def run_jaxrl(archive: str, iterations: int, seed: int) -> dict:
    """jaxrl's MAP-Elites, the whole run compiled as one scan."""
    from jaxrl.algos import map_elites
    from jaxrl.envs import qd

    config = map_elites.Config(
        genotype_dim=SETTING["dof"], batch_size=SETTING["batch"],
        num_iterations=iterations, archive=archive, grid_cells=SETTING["cells"],
        num_centroids=SETTING["centroids"], emitter="iso_line",
    )  # fmt: skip
    hparams = map_elites.HParams(
        sigma_iso=SETTING["sigma_iso"], sigma_line=SETTING["sigma_line"]
    )
    run = jax.jit(map_elites.make_run(config, qd.make_task("arm", genotype_dim=100)))
    args = (jax.random.key(seed), hparams)
    compiled, compile_s = compile_timed(run, args)
    run_s = time_call(compiled, args, repeats=1, min_seconds=0.0)
    metrics = compiled(*args).metrics
    evaluations = config.num_evaluations
    return {
        "evaluations": evaluations, "run_s": run_s, "compile_s": compile_s,
        "evals_per_s": evaluations / run_s,
        "coverage": float(metrics.coverage[-1]),
        "qd_score": float(metrics.qd_score[-1]),
        "max_fitness": float(metrics.max_fitness[-1]),
    }  # fmt: skip


def run_peer(peer: str, venv_dir: Path, archive: str, iterations: int, seed: int):
    """``peer``'s driver in its environment: ``(result, None)`` or
    ``(None, reason)``."""
    python = peer_python(venv_dir, peer)
    if not python.exists():
        return None, f"no environment at {python.parent.parent} (run --setup)"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in SETTING.items()]
    command = [
        str(python), str(HERE / "qd_peers" / f"{peer}_arm.py"), *flags,
        f"--archive={archive}", f"--iterations={iterations}", f"--seed={seed}",
    ]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1]), None


def race(args) -> None:
    iterations = QUICK_ITERATIONS if args.quick else FULL_ITERATIONS
    results, notes = {}, []
    for lib in args.libs:
        print(f"  {lib} ({args.archive}) ...", flush=True)
        if lib == "jaxrl":
            result, note = run_jaxrl(args.archive, iterations, args.seed), None
        else:
            result, note = run_peer(lib, args.venv_dir, args.archive, iterations,
                                    args.seed)  # fmt: skip
        if note:
            notes.append(f"{lib}: skipped, {note}")
        else:
            results[lib] = result
    ours = results.get("jaxrl")
    rows = []
    for lib, r in results.items():
        ratio = "—"
        if lib != "jaxrl" and ours:
            speedup = ours["evals_per_s"] / r["evals_per_s"]
            target = TARGET_OVER_PYRIBS if lib == "pyribs" else None
            status = f" ({'PASS' if speedup >= target else 'MISS'})" if target else ""
            ratio = f"{speedup:.1f}x{status}"
        rows.append([
            lib, f"{r['evaluations']:,}", rate(r["evals_per_s"]),
            f"{r['compile_s']:.1f}", f"{r['run_s']:.1f}",
            f"{100 * r['coverage']:.1f}%", f"{r['qd_score']:,.0f}",
            f"{r['max_fitness']:.4f}", ratio,
        ])  # fmt: skip
    archive = "100x100 grid" if args.archive == "grid" else "CVT-1024"
    print_table(
        f"MAP-Elites, 100-DoF arm, {archive}, Iso+LineDD (offset pi^2; "
        f"{jax.default_backend()})",
        ["library", "evals", "evals/s", "compile s", "run s", "coverage",
         "QD-score", "max fitness", "jaxrl / library (evals/s)"],
        rows,
    )  # fmt: skip
    for note in notes:
        print(note)
    payload = {
        "setting": SETTING, "archive": args.archive, "iterations": iterations,
        "qd_offset": -(math.pi**2), "results": results, "notes": notes,
    }  # fmt: skip
    print(f"saved {save_results('compare_qd', payload, args.out)}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libs", nargs="+", choices=LIBS, default=list(LIBS))
    parser.add_argument("--archive", choices=("grid", "cvt"), default="grid")
    parser.add_argument(
        "--quick", action="store_true",
        help=f"{QUICK_ITERATIONS} iterations after the first batch",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--venv-dir", type=Path, default=HERE / ".venvs",
                        help="where each peer's virtual environment lives")  # fmt: skip
    parser.add_argument("--setup", action="store_true",
                        help="create the peers' environments, then exit")  # fmt: skip
    parser.add_argument("--out", default=None, help="result JSON path")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.setup:
        setup_peers(args.venv_dir, {p: PEER_REQUIREMENTS[p] for p in PEERS
                                    if p in args.libs})  # fmt: skip
    else:
        race(args)


if __name__ == "__main__":
    main()
