"""What the experiment engine costs: PPO through ``jaxrl.run`` against the bare scan.

Three ways to train the same seeds of PPO on DoorKey-5x5 (default
``ppo.Config`` and ``ppo.HParams``), in one invocation:

- ``engine``: ``jaxrl.run`` with the live progress bar, per-chunk metrics
  (``metrics.jsonl``) and a checkpoint every ``--checkpoint-every`` chunks,
  into a fresh temporary run directory;
- ``bare``: ``jax.jit(jax.vmap(ppo.make_train(...), in_axes=(0, None)))``,
  the same program scanned in one piece, compiled with ``.lower().compile()``;
- ``minimal``: the PureJaxRL-style loop of ``ppo_gridworld.py``.

Each method runs in a fresh subprocess of this script (``--method``), so the
peak host memory reported (``ru_maxrss``) is that method's alone; the
subprocess prints one ``RESULT`` line of JSON on stdout. Rounds alternate the
methods' order and the best of ``--repeats`` rounds is kept (compile and run
timed apart). The final return is ``ppo.final_scores`` for all three.

Overhead: engine run seconds over the bare scan's (target: at most 3%). The
engine's run is timed by the engine itself (``results.json`` ``run_s``: the
chunk loop with its checkpoint saves, from the first chunk to the last
save). While it runs, each part of the host loop is timed (wrappers put
around the engine's functions in that subprocess) and a breakdown is printed.
Run CPU seconds (the process's, every thread's) are reported beside wall
seconds; on a shared machine both move with the load, so compare methods
only within one invocation.

    python benchmarks/engine_overhead.py
    python benchmarks/engine_overhead.py --quick     # smoke run, a few minutes
    python benchmarks/engine_overhead.py --steps 100000 --seeds 4 --repeats 3
"""

import argparse
import functools
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from common import print_table, rate, save_results
from ppo_gridworld import make_minimal_train
from rich.console import Console

import jaxrl
from jaxrl import rundir
from jaxrl.algos import ppo

TASK = "DoorKey-5x5"
METHODS = ("engine", "bare", "minimal")
MARKER = "RESULT "
TARGET_OVERHEAD = 0.03
QUICK = {"steps": 8 * 2048, "seeds": 2, "repeats": 1}
FULL = {"steps": ppo.Config().total_steps, "seeds": 8, "repeats": 2}

# Host-loop functions timed inside the engine's subprocess: (name, module,
# attribute). One not found is left out of the breakdown (and named).
PARTS = (
    ("drive", "jaxrl.chunk_loop", "ChunkLoop.drive"),
    ("fetch", "jaxrl.sharding", "RunPlacement.get"),
    ("record", "jaxrl.chunk_loop", "ChunkLoop._record"),
    ("metrics_jsonl", "jaxrl.rundir", "append_metrics"),
    ("headline", "jaxrl.chunk_loop", "headline"),
    ("progress", "jaxrl.progress", "RunProgress.update"),
    ("save", "jaxrl.chunk_loop", "ChunkLoop._save"),
)
HOST_PARTS = ("record", "headline", "progress", "save")  # compute idles meanwhile


# --- one method, in its own subprocess --------------------------------------


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vmapped_keys(seeds: int) -> jax.Array:
    """``jax.random.key(s)`` for ``s`` in ``0..seeds-1``, as ``jaxrl.run`` seeds."""
    return jax.vmap(jax.random.key)(jnp.arange(seeds))


def final_returns(history: dict, config: ppo.Config) -> list[float]:
    scores = ppo.final_scores(history, config.num_final_updates)
    return scores["episode_return"].tolist()


def time_scanned(train, seeds: int) -> tuple[dict, float, float]:
    """Compile ``jit(vmap(train))`` for ``seeds`` keys, run it once:
    ``(output, compile s, run s, run CPU s)``; CPU seconds are this process's,
    every thread's, and count less of what other processes on the machine
    take from it than wall seconds do."""
    keys, hparams = vmapped_keys(seeds), ppo.HParams()
    start = time.perf_counter()
    compiled = jax.jit(jax.vmap(train, in_axes=(0, None))).lower(keys, hparams)
    compiled = compiled.compile()
    compile_s = time.perf_counter() - start
    start, cpu_start = time.perf_counter(), time.process_time()
    out = jax.block_until_ready(compiled(keys, hparams))
    run_s = time.perf_counter() - start
    return out, compile_s, run_s, time.process_time() - cpu_start


def run_bare(config, env, env_params, args) -> dict:
    out, compile_s, run_s, run_cpu_s = time_scanned(
        ppo.make_train(config, env, env_params), args.seeds
    )
    history = {
        "episode_return": np.asarray(out.metrics.episode_return),
        "num_episodes": np.asarray(out.metrics.num_episodes),
    }
    return {
        "compile_s": compile_s,
        "run_s": run_s,
        "run_cpu_s": run_cpu_s,
        "final_return": final_returns(history, config),
    }


def run_minimal(config, env, env_params, args) -> dict:
    out, compile_s, run_s, run_cpu_s = time_scanned(
        make_minimal_train(config, env, env_params), args.seeds
    )
    history = {name: np.asarray(values) for name, values in out.items()}
    return {
        "compile_s": compile_s,
        "run_s": run_s,
        "run_cpu_s": run_cpu_s,
        "final_return": final_returns(history, config),
    }


class PartTimers:
    """Seconds, CPU seconds (the whole process's) and calls spent in the
    host-loop functions of :data:`PARTS`."""

    def __init__(self):
        self.totals: dict[str, list] = {}
        self.missing: list[str] = []

    def install(self) -> None:
        for name, module, attribute in PARTS:
            owner = importlib.import_module(module)
            *path, last = attribute.split(".")
            for part in path:
                owner = getattr(owner, part, None)
            if owner is None or not callable(getattr(owner, last, None)):
                self.missing.append(f"{module}.{attribute}")
                continue
            setattr(owner, last, self._timed(name, getattr(owner, last)))

    def _timed(self, name: str, function):
        totals = self.totals.setdefault(name, [0.0, 0.0, 0])

        @functools.wraps(function)
        def timed(*args, **kwargs):
            start, cpu_start = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                totals[0] += time.perf_counter() - start
                totals[1] += time.process_time() - cpu_start
                totals[2] += 1

        return timed


def run_engine(config, env, env_params, args) -> dict:
    timers = PartTimers()
    timers.install()
    console = Console(stderr=True)
    program = ppo.make_program(config, env, env_params, target=TASK)
    with tempfile.TemporaryDirectory(prefix="engine-overhead-") as tmp:
        run_dir = Path(tmp) / "run"
        start = time.perf_counter()
        result = jaxrl.run(
            program,
            ppo.HParams(),
            seeds=args.seeds,
            out=run_dir,
            chunk_steps=args.chunk_steps,
            checkpoint_every=args.checkpoint_every,
            progress=True,
            console=console,
        )
        wall_s = time.perf_counter() - start
        schedule = rundir.read_json(run_dir / rundir.CONFIG_FILE)["schedule"]
    results = result.results
    chunk_steps = schedule["chunk_steps"]
    return {
        "compile_s": results["compile_s"],
        "run_s": results["run_s"],
        "wall_s": wall_s,
        "engine_throughput": results["throughput"]["value"],
        "checkpoint_s": results["checkpoint_s"],
        "chunk_steps": chunk_steps,
        "checkpoint_every": schedule["checkpoint_every"],
        "chunks": -(-program.num_steps // chunk_steps),
        "final_return": final_returns(result.history, config),
        "engine_final_return": np.asarray(result.final["episode_return"]).tolist(),
        "run_cpu_s": timers.totals["drive"][1] if "drive" in timers.totals else None,
        "parts": {
            k: {"s": s, "cpu_s": cpu_s, "calls": n}
            for k, (s, cpu_s, n) in timers.totals.items()
        },
        "parts_missing": timers.missing,
    }


RUNNERS = {"engine": run_engine, "bare": run_bare, "minimal": run_minimal}


def run_method(args) -> dict:
    load_before = os.getloadavg()
    env, env_params = jaxrl.make(TASK)
    config = ppo.Config(total_steps=args.steps)
    result = RUNNERS[args.method](config, env, env_params, args)
    steps_per_seed = config.num_updates * config.batch_size
    return {
        "method": args.method,
        "seeds": args.seeds,
        "steps_per_seed": steps_per_seed,
        "steps_per_s": args.seeds * steps_per_seed / result["run_s"],
        "peak_rss_mib": peak_rss_mib(),
        "load_average": {"before": load_before, "after": os.getloadavg()},
        **result,
    }


# --- the parent: rounds of subprocesses, then the tables -------------------


def run_child(method: str, args) -> dict:
    """Run ``method`` in a fresh subprocess; its stderr (progress bar, logs)
    goes to this terminal, its ``RESULT`` line comes back."""
    command = [
        sys.executable, __file__, "--method", method, "--steps", str(args.steps),
        "--seeds", str(args.seeds), "--checkpoint-every", str(args.checkpoint_every),
    ]  # fmt: skip
    if args.chunk_steps is not None:
        command += ["--chunk-steps", str(args.chunk_steps)]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    result = None
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER) :])
        else:
            print(line)
    if done.returncode or result is None:
        return {"method": method, "error": f"exit code {done.returncode}"}
    return result


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"{len(values)}: {min(values):.2f} / {np.median(values):.2f} / "
        f"{max(values):.2f} s"
    )


def mean_std(values: list[float]) -> str:
    values = np.asarray(values, np.float64)
    finite = values[np.isfinite(values)]
    if not finite.size:
        return "-"
    none = values.size - finite.size
    missing = f" ({none} without a score)" if none else ""
    return f"{finite.mean():.3f} ± {finite.std():.3f}{missing}"


def summarize(attempts: list[dict]) -> dict:
    """Per method: the attempt with the best run time, the best compile time
    and the highest peak memory over its attempts."""
    summary = {}
    for method in METHODS:
        done = [a for a in attempts if a["method"] == method and "error" not in a]
        if not done:
            continue
        best = dict(min(done, key=lambda a: a["run_s"]))
        for key in ("compile_s", "run_s", "run_cpu_s"):
            measured = [a[key] for a in done if a.get(key) is not None]
            best[f"best_{key}"] = min(measured) if measured else None
        best["max_peak_rss_mib"] = max(a["peak_rss_mib"] for a in done)
        best["run_s_all"] = [a["run_s"] for a in done]
        best["final_return_repeatable"] = all(
            a["final_return"] == done[0]["final_return"] for a in done
        )
        summary[method] = best
    return summary


def overhead(summary: dict, method: str, key: str = "run_s") -> float | None:
    """``method``'s best ``key`` (``run_s`` or ``run_cpu_s``) over the bare
    scan's, less one."""
    if method not in summary or "bare" not in summary:
        return None
    ours, bare = summary[method][f"best_{key}"], summary["bare"][f"best_{key}"]
    return None if ours is None or not bare else ours / bare - 1


def end_to_end_overhead(summary: dict) -> float | None:
    """The whole ``jaxrl.run`` call less its compile time (run directory,
    init, results, table and plot included) over the bare scan's run."""
    if "engine" not in summary or "bare" not in summary:
        return None
    engine = summary["engine"]
    return (engine["wall_s"] - engine["compile_s"]) / summary["bare"]["run_s"] - 1


def breakdown_rows(engine: dict, bare: dict | None) -> list[list]:
    """The engine's chunk loop part by part (nested parts indented), what is
    left of it, and how far its chunks' own time is from the bare scan; wall
    and CPU seconds."""
    parts = engine["parts"]
    bare_run_s = bare["run_s"] if bare else None

    def seconds(name, key="s"):
        return parts.get(name, {}).get(key, 0.0)

    def row(label, total, cpu, calls=None):
        return [
            label,
            f"{total:.3f}",
            "-" if cpu is None else f"{cpu:.3f}",
            calls or "-",
            f"{1e3 * total / calls:.2f}" if calls else "-",
            f"{total / bare_run_s:.2%}" if bare_run_s else "-",
        ]

    labels = {
        "drive": "chunk loop (the engine's run_s)",
        "fetch": "  wait for the chunk + fetch metrics",
        "record": "  record: divergence check + metrics.jsonl",
        "metrics_jsonl": "    metrics.jsonl write (JSON, fsync)",
        "headline": "  headline value for the bar",
        "progress": "  progress bar update",
        "save": "  checkpoint saves (held the run)",
    }
    rows = [
        row(label, parts[name]["s"], parts[name]["cpu_s"], parts[name]["calls"])
        for name, label in labels.items()
        if name in parts
    ]
    host = {
        key: sum(seconds(name, key) for name in HOST_PARTS) for key in ("s", "cpu_s")
    }
    if "drive" in parts:
        rest = {k: seconds("drive", k) - seconds("fetch", k) - host[k] for k in host}
        rows.append(row("  rest: chunk dispatch, loop bookkeeping", *rest.values()))
    rows.append(row("host work + saves, compute idle meanwhile", *host.values()))
    if "drive" in parts and bare:
        beyond = [
            seconds("drive") - host["s"] - bare["run_s"],
            seconds("drive", "cpu_s") - host["cpu_s"] - bare["run_cpu_s"],
        ]
        rows.append(row("chunks' own time beyond the bare scan", *beyond))
    outside_s = engine["wall_s"] - engine["compile_s"] - engine["run_s"]
    rows.append(row("jaxrl.run outside compile and run_s", outside_s, None))
    return rows


def report(summary: dict, args) -> None:
    rows = []
    for method, r in summary.items():
        changes = [overhead(summary, method, k) for k in ("run_s", "run_cpu_s")]
        changes = [
            "reference" if method == "bare" else "-" if c is None else f"{c:+.1%}"
            for c in changes
        ]
        rows.append([
            method, f"{r['best_compile_s']:.1f}", f"{r['run_s']:.2f}",
            rate(r["steps_per_s"]), changes[0],
            "-" if r["best_run_cpu_s"] is None else f"{r['best_run_cpu_s']:.1f}",
            changes[1], mean_std(r["final_return"]),
            spread(r.get("checkpoint_s", [])), f"{r['max_peak_rss_mib']:.0f}",
        ])  # fmt: skip
    steps = next(iter(summary.values()))["steps_per_seed"] if summary else 0
    backend = f"{jax.default_backend()}, jax {jax.__version__}"
    print_table(
        f"PPO on {TASK}, {args.seeds} seeds x {steps:,} env steps ({backend}); "
        f"best of {args.repeats}",
        ["method", "compile s", "run s", "env steps/s", "run s vs bare",
         "run CPU s", "CPU s vs bare", "final return",
         "checkpoint writes n: min / median / max", "peak RSS MiB"],
        rows,
    )  # fmt: skip
    if "engine" in summary:
        engine = summary["engine"]
        print(
            f"engine: {engine['chunks']} chunks of {engine['chunk_steps']} update(s), "
            f"a checkpoint every {engine['checkpoint_every']} chunks and at the end; "
            f"jaxrl.run took {engine['wall_s']:.1f} s in all (compile "
            f"{engine['compile_s']:.1f} s, run {engine['run_s']:.1f} s)"
        )
        print_table(
            "Where the engine's time goes (best engine round)",
            [
                "part",
                "wall s",
                "CPU s",
                "calls",
                "wall ms per call",
                "wall, of bare run s",
            ],
            breakdown_rows(engine, summary.get("bare")),
        )
        if engine["parts_missing"]:
            print(f"not timed (not found): {', '.join(engine['parts_missing'])}")
    change = overhead(summary, "engine")
    if change is not None:
        verdict = "PASS" if change <= TARGET_OVERHEAD else "MISS"
        cpu = overhead(summary, "engine", "run_cpu_s")
        print(
            f"engine overhead (run_s vs bare run s) {change:+.1%}, target <= "
            f"{TARGET_OVERHEAD:.0%}: {verdict}; in CPU seconds "
            f"{'-' if cpu is None else f'{cpu:+.1%}'}; end to end "
            f"(jaxrl.run less compile) {end_to_end_overhead(summary):+.1%}"
        )
    for method, r in summary.items():
        if not r["final_return_repeatable"]:
            print(f"note: {method}'s final returns differed between rounds")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, help=f"env steps per seed; default "
                        f"{FULL['steps']:,}")  # fmt: skip
    parser.add_argument("--seeds", type=int, help="default 8")
    parser.add_argument("--repeats", type=int, help="rounds, best kept; default 2")
    parser.add_argument(
        "--chunk-steps", type=int, help="updates per chunk; default: the engine's"
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=5, help="chunks between checkpoints"
    )
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK}")
    parser.add_argument("--out", default=None, help="JSON path (never overwritten)")
    parser.add_argument("--method", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("steps", "seeds", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.method:
        print(MARKER + json.dumps(run_method(args)), flush=True)
        return
    load_before = os.getloadavg()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}")
    attempts = []
    methods = [m for m in METHODS if m in args.methods]
    for round_ in range(args.repeats):
        shift = round_ % len(methods)
        for method in methods[shift:] + methods[:shift]:
            print(f"== round {round_ + 1}/{args.repeats}: {method}", flush=True)
            attempts.append(run_child(method, args))
            if "error" in attempts[-1]:
                print(f"{method} failed: {attempts[-1]['error']}", flush=True)
    load_after = os.getloadavg()
    summary = summarize(attempts)
    report(summary, args)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}; "
          f"after: {' '.join(f'{x:.2f}' for x in load_after)} "
          f"({os.cpu_count()} CPUs)")  # fmt: skip
    payload = {
        "args": vars(args),
        "task": TASK,
        "load_average": {"before": load_before, "after": load_after},
        "overhead": overhead(summary, "engine"),
        "cpu_overhead": overhead(summary, "engine", "run_cpu_s"),
        "end_to_end_overhead": end_to_end_overhead(summary),
        "target_overhead": TARGET_OVERHEAD,
        "summary": summary,
        "attempts": attempts,
    }
    print(f"saved {save_results('engine_overhead', payload, args.out)}")


if __name__ == "__main__":
    main()
