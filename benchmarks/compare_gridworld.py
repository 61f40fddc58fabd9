"""jaxrl against XLand-MiniGrid, NAVIX and Farama MiniGrid on the same gridworld work.

Random actions, auto-reset on, egocentric symbolic observations: env steps/s
for each task and batch size, compile time separate, and the bytes each
environment takes at the largest batch. Each library runs in its own
subprocess, one after another, with identical timing code (``common.measure``:
a compiled ``lax.scan`` of the batched step). Farama MiniGrid runs one
environment in a plain Python loop, also in its own subprocess.

Tasks (jaxrl ids; a library without the task shows "—"): Empty-8x8,
DoorKey-8x8, FourRooms (all peers), KeyCorridorS3R3, Dynamic-Obstacles-8x8,
LavaGapS7, SimpleCrossingS9N1, DistShift1 and GoToDoor-8x8 (NAVIX and Farama;
not XLand-MiniGrid: with the first five, every NAVIX task family), MultiRoom-N6
(Farama only).

Settings (semantics differ; the table labels them):

- ``jaxrl``: Farama semantics (Farama's actions, 7x7 view blocked by walls
  and closed doors, Farama step limits, same-step auto-reset), stepped as
  training steps it: the optimistic batched reset from batch 64 up
  (``jaxrl.batched_reset``), the exact one below.
- ``jaxrl-navix``: jaxrl with NAVIX's defaults, for the like-for-like ratio
  with ``navix-default``: the full grid observed (``observation="full"``),
  a flat goal reward (``time_penalty=0``), a 100-step limit everywhere.
- ``xminigrid``: XLand-MiniGrid's MiniGrid ids with its defaults, which are
  its closest to Farama (Farama step limits, 7x7 view, but 6 actions and no
  occlusion), same-step ``GymAutoResetWrapper``.
- ``navix-farama``: NAVIX with Farama's step limits and action count, the
  first-person 7x7 symbolic view (no occlusion) and Farama's time penalty;
  its own next-step auto-reset.
- ``navix-default``: NAVIX at ``nx.make`` defaults (full-grid view, 7
  actions and a 100-step limit everywhere, flat reward).
- ``farama``: ``gymnasium.make("MiniGrid-<task>-v0")``, one environment,
  reset on termination or truncation.
- ``farama-fullobs`` and ``jaxrl-adapter-fullobs``: one environment in the
  same Python loop through Farama's ``FullyObsWrapper``: Farama's own, and
  jaxrl's ``to_gymnasium`` (the speed a Farama script keeps when moved to
  jaxrl; the wrapper reads jaxrl's read-only Farama surface).

Each library samples actions uniformly from its own action set. The targets
(PASS/MISS column) compare jaxrl with the faster of the Farama-like peers
(``xminigrid``, ``navix-farama``): at least 2.0x everywhere (the bar jaxrl
keeps under Farama semantics). ``navix-default`` gets its own ratio column,
``jaxrl-navix / navix-default``, with a target of 1.5x on every task NAVIX
has.

The script installs nothing. Peers come from the ``compare`` extra
(``pip install -e ".[compare]"``); a library that is not importable is
reported as skipped and the others still run.

    python benchmarks/compare_gridworld.py
    python benchmarks/compare_gridworld.py --quick
    python benchmarks/compare_gridworld.py --batch-sizes 4096 --libs jaxrl navix-farama
"""

import argparse
import importlib
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
from common import measure, print_table, rate, save_results

TASKS = (
    "Empty-8x8",
    "DoorKey-8x8",
    "FourRooms",
    "KeyCorridorS3R3",
    "MultiRoom-N6",
    "Dynamic-Obstacles-8x8",
    "LavaGapS7",
    "SimpleCrossingS9N1",
    "DistShift1",
    "GoToDoor-8x8",
)
# Farama MiniGrid 3.2.0 (max_steps, number of actions), as read from
# gymnasium.make(f"MiniGrid-{task}-v0").unwrapped; jaxrl's params agree.
FARAMA = {
    "Empty-8x8": (256, 7),
    "DoorKey-8x8": (640, 7),
    "FourRooms": (100, 7),
    "KeyCorridorS3R3": (270, 7),
    "MultiRoom-N6": (120, 7),
    "Dynamic-Obstacles-8x8": (256, 3),
    "LavaGapS7": (196, 7),
    "SimpleCrossingS9N1": (324, 7),
    "DistShift1": (252, 7),
    "GoToDoor-8x8": (256, 7),
}
# jaxrl id -> peer id, only where the peer has the task.
PEER_IDS = {
    "xminigrid": {
        task: f"MiniGrid-{task}" for task in ("Empty-8x8", "DoorKey-8x8", "FourRooms")
    },
    "navix": {
        task: f"Navix-{task}-v0"
        for task in (
            "Empty-8x8",
            "DoorKey-8x8",
            "FourRooms",
            "KeyCorridorS3R3",
            "Dynamic-Obstacles-8x8",
            "LavaGapS7",
            "SimpleCrossingS9N1",
            "DistShift1",
            "GoToDoor-8x8",
        )
    },
}
JAX_LIBS = ("jaxrl", "jaxrl-navix", "xminigrid", "navix-farama", "navix-default")
FARAMA_LIB = "farama"
# One environment in a Python loop through Farama's FullyObsWrapper: Farama's
# own, and jaxrl's gymnasium adapter (what a Farama script moved to jaxrl runs).
WRAPPED_LIBS = ("farama-fullobs", "jaxrl-adapter-fullobs")
LOOP_LIBS = (FARAMA_LIB, *WRAPPED_LIBS)
LIBS = (*JAX_LIBS, *LOOP_LIBS)
LABELS = {FARAMA_LIB: "Farama (1 env, Python)"}
PACKAGES = {
    "jaxrl": "jaxrl",
    "jaxrl-navix": "jaxrl",
    "xminigrid": "xminigrid",
    "navix-farama": "navix",
    "navix-default": "navix",
    FARAMA_LIB: "minigrid",
    "farama-fullobs": "minigrid",
    "jaxrl-adapter-fullobs": "minigrid",
}
FARAMA_LIKE = ("xminigrid", "navix-farama")
FARAMA_TARGET = 2.0  # jaxrl / faster Farama-like peer
NAVIX_DEFAULT_TARGET = 1.5  # jaxrl-navix / navix-default
# jaxrl's options that reproduce NAVIX's nx.make defaults
NAVIX_DEFAULTS = {
    "observation": "full",
    "time_penalty": 0.0,
    "max_steps_in_episode": 100,
}
INSTALL_HINT = 'pip install -e ".[compare]"'
DASH = "—"
FULL = {
    "batch_sizes": [1, 256, 4096, 16384],
    "env_steps": 1_000_000,
    "repeats": 3,
    "min_seconds": 1.0,
    "farama_seconds": 2.0,
}
QUICK = {
    "batch_sizes": [1, 256],
    "env_steps": 5_000,
    "repeats": 1,
    "min_seconds": 0.2,
    "farama_seconds": 0.3,
}


def has_task(lib: str, task: str) -> bool:
    if lib in ("jaxrl", *LOOP_LIBS):
        return True
    if lib == "jaxrl-navix":
        return task in PEER_IDS["navix"]
    return task in PEER_IDS[PACKAGES[lib]]


def jaxrl_stepper(task: str, batch: int, navix_defaults: bool = False):
    """jaxrl as training steps it: the optimistic reset from batch 64 up."""
    from env_throughput import random_stepper

    import jaxrl
    from jaxrl.batched_reset import OptimisticReset, batched

    env, params = jaxrl.make(task, **(NAVIX_DEFAULTS if navix_defaults else {}))
    chosen = batched(env, batch)  # the training default ("auto")
    mode = "optimistic" if isinstance(chosen, OptimisticReset) else "auto-reset"
    return random_stepper(env, params, batch, mode)


def xminigrid_stepper(task: str, batch: int):
    import xminigrid
    from xminigrid.wrappers import GymAutoResetWrapper

    env, params = xminigrid.make(PEER_IDS["xminigrid"][task])
    env = GymAutoResetWrapper(env)
    num_actions = env.num_actions(params)
    reset = jax.vmap(env.reset, in_axes=(None, 0))
    step_batch = jax.vmap(env.step, in_axes=(None, 0, 0))

    def init(key):
        return reset(params, jax.random.split(key, batch))

    def step(timestep, key):
        actions = jax.random.randint(key, (batch,), 0, num_actions)
        return step_batch(params, timestep, actions)

    return init, step


def navix_stepper(task: str, batch: int, farama_like: bool):
    import navix as nx

    env_id = PEER_IDS["navix"][task]
    if farama_like:
        max_steps, num_actions = FARAMA[task]
        env = nx.make(
            env_id,
            max_steps=max_steps,
            observation_fn=nx.observations.symbolic_first_person,
            penality_coeff=0.9,
            # Farama's action order; Dynamic-Obstacles keeps the first three.
            action_set=nx.actions.MINIGRID_ACTION_SET[:num_actions],
        )
    else:
        env = nx.make(env_id)
    num_actions = len(env.action_set)
    reset = jax.vmap(env.reset)
    step_batch = jax.vmap(env.step)

    def init(key):
        return reset(jax.random.split(key, batch))

    def step(timestep, key):
        actions = jax.random.randint(key, (batch,), 0, num_actions)
        return step_batch(timestep, actions)

    return init, step


def make_stepper(lib: str, task: str, batch: int):
    if lib in ("jaxrl", "jaxrl-navix"):
        return jaxrl_stepper(task, batch, navix_defaults=lib == "jaxrl-navix")
    if lib == "xminigrid":
        return xminigrid_stepper(task, batch)
    return navix_stepper(task, batch, farama_like=lib == "navix-farama")


def tree_nbytes(tree) -> int:
    """Bytes of every leaf of ``tree`` (arrays or ``ShapeDtypeStruct``s)."""
    return sum(math.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(tree))


def carry_parts(carry):
    """``(observation, env state)`` of a stepper's carry: jaxrl's is
    ``(obs, state)``; XLand-MiniGrid's and NAVIX's timesteps hold both."""
    if hasattr(carry, "observation"):
        return carry.observation, carry.state
    return carry


def measure_jax(lib: str, task: str, batch: int, args) -> dict:
    init, step = make_stepper(lib, task, batch)
    result = measure(init, step, batch, args.env_steps, args.repeats, args.min_seconds)
    carry = jax.eval_shape(init, jax.random.key(0))
    obs, state = carry_parts(carry)
    result["carry_bytes"] = tree_nbytes(carry)
    result["state_bytes"] = tree_nbytes(state)
    result["obs_bytes"] = tree_nbytes(obs)
    print(f"  {lib} {task} B={batch}: {rate(result['steps_per_s'])} steps/s, "
          f"compile {result['compile_s']:.1f} s", flush=True)  # fmt: skip
    return result


def loop_env(lib: str, task: str):
    """The one environment a Python-loop library steps."""
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the MiniGrid ids)
    from minigrid.wrappers import FullyObsWrapper

    if lib == "jaxrl-adapter-fullobs":
        import jaxrl

        return FullyObsWrapper(jaxrl.to_gymnasium(task))
    env = gym.make(f"MiniGrid-{task}-v0")
    return FullyObsWrapper(env) if lib == "farama-fullobs" else env


def measure_farama(task: str, args, lib: str = FARAMA_LIB) -> dict:
    """One env of ``lib`` (Farama MiniGrid, or a wrapped one), random
    actions, reset when an episode ends; each of ``args.repeats`` timings
    runs ``args.farama_seconds`` at most (``args.env_steps`` steps at most)."""
    import numpy as np

    env = loop_env(lib, task)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.integers(env.action_space.n, size=args.env_steps).tolist()
    chunk = 100
    best = 0.0
    for _ in range(args.repeats):
        steps, start = 0, time.perf_counter()
        while steps < len(actions):
            for action in actions[steps : steps + chunk]:
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    env.reset()
            steps += len(actions[steps : steps + chunk])
            if time.perf_counter() - start >= args.farama_seconds:
                break
        best = max(best, steps / (time.perf_counter() - start))
    env.close()
    print(f"  {lib} {task} B=1: {rate(best)} steps/s", flush=True)
    return {"batch": 1, "steps_per_s": best, "env_id": f"MiniGrid-{task}-v0"}


def run_worker(lib: str, args) -> None:
    """Time one library on every task it has, writing the results so far to
    ``args.worker_out`` after each measurement (a crash keeps them)."""
    out = Path(args.worker_out)
    package = PACKAGES[lib]
    try:
        importlib.import_module(package)
    except ImportError as err:
        reason = f"{package} is not importable ({err}); {INSTALL_HINT}"
        out.write_text(json.dumps({"skipped": reason}))
        return
    jax.numpy.zeros(())  # start the backend before the first timed compile
    results = []
    for task in args.tasks:
        if lib in LOOP_LIBS:
            result = measure_farama(task, args, lib)
            results.append({"lib": lib, "task": task, **result})
            out.write_text(json.dumps({"results": results}))
            continue
        for batch in args.batch_sizes:
            result = measure_jax(lib, task, batch, args)
            results.append({"lib": lib, "task": task, **result})
            out.write_text(json.dumps({"results": results}))


def run_library(lib: str, tasks: list, args) -> tuple[list, str | None]:
    """Run ``lib``'s worker in a subprocess: ``(results, note or None)``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        command = [sys.executable, __file__, "--worker", lib, "--worker-out",
                   str(out), "--tasks", *tasks, "--batch-sizes",
                   *map(str, args.batch_sizes), "--env-steps", str(args.env_steps),
                   "--repeats", str(args.repeats), "--min-seconds",
                   str(args.min_seconds), "--farama-seconds",
                   str(args.farama_seconds)]  # fmt: skip
        code = subprocess.run(command, check=False).returncode
        payload = json.loads(out.read_text()) if out.exists() else {}
    if "skipped" in payload:
        return [], f"skipped {lib}: {payload['skipped']}"
    results = payload.get("results", [])
    if code:
        return results, f"{lib} failed (exit code {code}); kept {len(results)} results"
    return results, None


def fmt_rate(value) -> str:
    return rate(value) if value else DASH


def fmt_ratio(ours, theirs) -> str:
    return f"{ours / theirs:.2f}x" if ours and theirs else DASH


def speed_table(by_key: dict, libs, tasks, batch_sizes) -> tuple[list, list]:
    """Columns and rows: steps/s, jaxrl / faster Farama-like peer with the
    target and PASS/MISS, then navix-default and jaxrl / navix-default."""
    like = [lib for lib in FARAMA_LIKE if lib in libs]
    columns = ["task", "batch", "jaxrl", *like]
    columns += [f"jaxrl / faster of {', '.join(like) or 'none'}", "target", "status"]
    if "navix-default" in libs:
        columns += ["jaxrl-navix", "navix-default", "jaxrl-navix / navix-default",
                    "status (>= 1.5x)"]  # fmt: skip
    rows = []
    for task in tasks:
        for batch in batch_sizes:
            ours = by_key.get(("jaxrl", task, batch))
            theirs = {lib: by_key.get((lib, task, batch)) for lib in like}
            measured = [(value, lib) for lib, value in theirs.items() if value]
            faster = max(measured) if measured else None
            target = FARAMA_TARGET
            row = [task, batch, fmt_rate(ours), *map(fmt_rate, theirs.values())]
            if ours and faster:
                ratio = ours / faster[0]
                status = "PASS" if ratio >= target else "MISS"
                row += [f"{ratio:.2f}x ({faster[1]})", f">= {target:.1f}x", status]
            else:
                row += [DASH, f">= {target:.1f}x", DASH]
            if "navix-default" in libs:
                like_navix = by_key.get(("jaxrl-navix", task, batch))
                default = by_key.get(("navix-default", task, batch))
                status = DASH
                if like_navix and default:
                    passed = like_navix / default >= NAVIX_DEFAULT_TARGET
                    status = "PASS" if passed else "MISS"
                row += [fmt_rate(like_navix), fmt_rate(default),
                        fmt_ratio(like_navix, default), status]  # fmt: skip
            rows.append(row)
    return columns, rows


def farama_rows(by_key: dict, tasks) -> list:
    rows = []
    for task in tasks:
        theirs = by_key.get((FARAMA_LIB, task, 1))
        ours = by_key.get(("jaxrl", task, 1))
        rows.append([task, fmt_rate(theirs), fmt_rate(ours), fmt_ratio(ours, theirs)])
    return rows


def memory_rows(results: list, batch: int) -> list:
    """Bytes per environment at ``batch``: the carry's state and observation,
    and XLA's figures for the compiled benchmark scan (its temporaries
    include the scan's per-iteration keys, 8 bytes each: noticeable per env
    only at small batches)."""

    def per_env(value) -> str:
        return DASH if value is None else f"{value / batch:,.0f}"

    rows = []
    for r in results:
        if r["lib"] in LOOP_LIBS or r["batch"] != batch:
            continue
        memory = r.get("memory", {})
        rows.append([r["lib"], r["task"], per_env(r["state_bytes"]),
                     per_env(r["obs_bytes"]), per_env(r["carry_bytes"]),
                     per_env(memory.get("argument_size_in_bytes")),
                     per_env(memory.get("temp_size_in_bytes")),
                     per_env(memory.get("peak_memory_in_bytes"))])  # fmt: skip
    return rows


def report(results: list, notes: list, args) -> None:
    by_key = {(r["lib"], r["task"], r["batch"]): r["steps_per_s"] for r in results}
    backend = f"{jax.default_backend()}, jax {jax.__version__}"
    columns, rows = speed_table(by_key, args.libs, args.tasks, args.batch_sizes)
    print_table(f"Random-action env steps/s, auto-reset on ({backend})", columns, rows)
    statuses = [row[columns.index("status")] for row in rows]
    print(f"targets: {statuses.count('PASS')} PASS, {statuses.count('MISS')} MISS, "
          f"{statuses.count(DASH)} without a Farama-like peer")  # fmt: skip
    if FARAMA_LIB in args.libs:
        label = LABELS[FARAMA_LIB]
        print_table(
            f"{label} vs jaxrl at batch 1 ({backend})",
            ["task", label, "jaxrl B=1", "jaxrl B=1 / Farama"],
            farama_rows(by_key, args.tasks),
        )
    if set(WRAPPED_LIBS) & set(args.libs):
        rows = []
        for task in args.tasks:
            farama, ours = (by_key.get((lib, task, 1)) for lib in WRAPPED_LIBS)
            rows.append(
                [task, fmt_rate(farama), fmt_rate(ours), fmt_ratio(ours, farama)]
            )
        print_table(
            f"One env in a Python loop through Farama's FullyObsWrapper ({backend})",
            ["task", "Farama + wrapper", "jaxrl to_gymnasium + wrapper",
             "jaxrl / Farama"],
            rows,
        )  # fmt: skip
    batch = max(args.batch_sizes)
    print_table(
        f"Bytes per env at batch {batch} (XLA: the compiled scan, {backend})",
        ["library", "task", "state", "obs", "carry", "XLA args", "XLA temp",
         "XLA peak"],
        memory_rows(results, batch),
    )  # fmt: skip
    compile_rows = [
        [r["lib"], r["task"], r["batch"], f"{r['compile_s']:.1f}"]
        for r in results
        if "compile_s" in r
    ]
    print_table(
        "Compile seconds", ["library", "task", "batch", "compile s"], compile_rows
    )
    for note in notes:
        print(note)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--libs", nargs="+", default=list(LIBS), choices=LIBS)
    parser.add_argument(
        "--batch-sizes", nargs="+", type=int, help="default 1 256 4096 16384"
    )
    parser.add_argument(
        "--env-steps", type=int, help="per compiled call; default 1000000"
    )
    parser.add_argument("--repeats", type=int, help="best of; default 3")
    parser.add_argument("--min-seconds", type=float, help="per timing; default 1.0")
    parser.add_argument(
        "--farama-seconds", type=float, help="Farama, per timing; default 2.0"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: batches 1 256, few steps"
    )
    parser.add_argument("--out", default=None, help="JSON path (never overwritten)")
    parser.add_argument("--worker", choices=LIBS, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if any(b < 1 for b in args.batch_sizes):
        parser.error(f"--batch-sizes must be >= 1, got {args.batch_sizes}")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        run_worker(args.worker, args)
        return
    results, notes = [], []
    for lib in args.libs:
        tasks = [task for task in args.tasks if has_task(lib, task)]
        print(f"== {LABELS.get(lib, lib)}: {', '.join(tasks) or 'no task'}", flush=True)
        if tasks:
            lib_results, note = run_library(lib, tasks, args)
            results += lib_results
            if note:
                print(note, flush=True)
                notes.append(note)
    report(results, notes, args)
    payload = {
        "args": vars(args),
        "peer_ids": PEER_IDS,
        "farama_limits_actions": FARAMA,
        "targets": {
            "jaxrl / faster Farama-like peer": FARAMA_TARGET,
            "jaxrl-navix / navix-default": NAVIX_DEFAULT_TARGET,
        },
        "notes": notes,
        "results": results,
    }
    print(f"saved {save_results('compare_gridworld', payload, args.out)}")


if __name__ == "__main__":
    main()
