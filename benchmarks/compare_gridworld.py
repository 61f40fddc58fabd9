"""jaxrl against XLand-MiniGrid and NAVIX on the same gridworld work.

Random actions, auto-reset on, env steps/s for Empty-8x8, DoorKey-8x8 and
FourRooms at each batch size, compile time separate. Each library runs in its
own subprocess, one after another, with identical timing code
(``common.time_compiled`` over a ``lax.scan`` of the batched step).

Settings (semantics differ; the table labels them):

- ``jaxrl``: Farama semantics (7 actions, 7x7 view blocked by walls and
  closed doors, Farama step limits, same-step auto-reset).
- ``xminigrid``: XLand-MiniGrid's MiniGrid ids with its defaults, which are
  its closest to Farama (Farama step limits, 7x7 view, but 6 actions and no
  occlusion), same-step ``GymAutoResetWrapper``.
- ``navix-farama``: NAVIX with Farama's step limits, the first-person 7x7
  symbolic view (no occlusion) and Farama's time penalty; its own next-step
  auto-reset.
- ``navix-default``: NAVIX at ``nx.make`` defaults (full-grid view, 100-step
  limit everywhere, flat reward).

Peers come from the ``compare`` extra (``pip install -e ".[compare]"``). A peer
that is not importable here is installed into its own virtual environment
under ``benchmarks/.venvs/`` on first use, and the output says so.

    python benchmarks/compare_gridworld.py
    python benchmarks/compare_gridworld.py --batch-sizes 4096 --libs jaxrl navix-farama
"""

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import jax
from common import measure, print_table, rate, save_results

TASKS = ("Empty-8x8", "DoorKey-8x8", "FourRooms")
FARAMA_LIMITS = {"Empty-8x8": 256, "DoorKey-8x8": 640, "FourRooms": 100}
LIBS = ("jaxrl", "xminigrid", "navix-farama", "navix-default")
PEER_PINS = {"xminigrid": "xminigrid==0.9.3", "navix": "navix==0.7.4"}
VENVS_DIR = Path(__file__).resolve().parent / ".venvs"


def jaxrl_stepper(task: str, batch: int):
    from env_throughput import random_stepper

    import jaxrl

    env, params = jaxrl.make(task)
    return random_stepper(env, params, batch, "auto-reset")


def xminigrid_stepper(task: str, batch: int):
    import xminigrid
    from xminigrid.wrappers import GymAutoResetWrapper

    env, params = xminigrid.make(f"MiniGrid-{task}")
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

    env_id = f"Navix-{task}-v0"
    if farama_like:
        env = nx.make(
            env_id,
            max_steps=FARAMA_LIMITS[task],
            observation_fn=nx.observations.symbolic_first_person,
            penality_coeff=0.9,
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
    if lib == "jaxrl":
        return jaxrl_stepper(task, batch)
    if lib == "xminigrid":
        return xminigrid_stepper(task, batch)
    return navix_stepper(task, batch, farama_like=lib == "navix-farama")


def run_worker(lib: str, tasks, batch_sizes, env_steps: int, repeats: int) -> list:
    """Time one library on every task and batch size, in this process."""
    results = []
    for task in tasks:
        for batch in batch_sizes:
            init, step = make_stepper(lib, task, batch)
            result = measure(init, step, batch, env_steps, repeats)
            print(f"  {lib} {task} B={batch}: {rate(result['steps_per_s'])} steps/s, "
                  f"compile {result['compile_s']:.1f} s", flush=True)  # fmt: skip
            results.append({"lib": lib, "task": task, **result})
    return results


def package_of(lib: str) -> str:
    return "jaxrl" if lib == "jaxrl" else lib.split("-")[0]


def python_for(lib: str) -> str:
    """This interpreter if ``lib`` imports here; else a venv made for it."""
    package = package_of(lib)
    if importlib.util.find_spec(package) is not None:
        return sys.executable
    env_dir = VENVS_DIR / package
    python = env_dir / "bin" / "python"
    if not python.exists():
        print(
            f"{package} is not importable here: creating {env_dir} "
            f"with {PEER_PINS[package]} and jax=={jax.__version__}",
            flush=True,
        )
        venv.create(env_dir, with_pip=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                PEER_PINS[package],
                f"jax=={jax.__version__}",
                "rich",
            ],
            check=True,
        )
    print(f"{lib} runs from its own virtual environment {env_dir}", flush=True)
    return str(python)


def run_library(lib: str, args) -> list:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        command = [
            python_for(lib),
            __file__,
            "--worker",
            lib,
            "--worker-out",
            str(out),
            "--tasks",
            *args.tasks,
            "--batch-sizes",
            *map(str, args.batch_sizes),
            "--env-steps",
            str(args.env_steps),
            "--repeats",
            str(args.repeats),
        ]
        subprocess.run(command, check=True)
        return json.loads(out.read_text())


def ratio_rows(results: list, libs, tasks, batch_sizes) -> list:
    by_key = {(r["lib"], r["task"], r["batch"]): r["steps_per_s"] for r in results}
    peers = [lib for lib in libs if lib != "jaxrl"]
    rows = []
    for task in tasks:
        for batch in batch_sizes:
            ours = by_key.get(("jaxrl", task, batch))
            row = [task, batch, rate(ours) if ours else "-"]
            for peer in peers:
                theirs = by_key.get((peer, task, batch))
                row.append(rate(theirs) if theirs else "-")
                row.append(f"{ours / theirs:.2f}x" if ours and theirs else "-")
            rows.append(row)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 256, 4096])
    parser.add_argument("--libs", nargs="+", default=list(LIBS), choices=LIBS)
    parser.add_argument("--env-steps", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="JSON path (never overwritten)")
    parser.add_argument("--worker", choices=LIBS, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if any(b < 1 for b in args.batch_sizes):
        parser.error(f"--batch-sizes must be >= 1, got {args.batch_sizes}")

    if args.worker:
        results = run_worker(
            args.worker, args.tasks, args.batch_sizes, args.env_steps, args.repeats
        )
        Path(args.worker_out).write_text(json.dumps(results))
        return

    results = []
    for lib in args.libs:
        print(f"== {lib}", flush=True)
        results += run_library(lib, args)
    peers = [lib for lib in args.libs if lib != "jaxrl"]
    columns = ["task", "batch", "jaxrl"]
    for peer in peers:
        columns += [peer, f"jaxrl/{peer}"]
    print_table(
        "Random-action env steps/s, auto-reset on "
        f"({jax.default_backend()}, jax {jax.__version__})",
        columns,
        ratio_rows(results, args.libs, args.tasks, args.batch_sizes),
    )
    compile_rows = [
        [r["lib"], r["task"], r["batch"], f"{r['compile_s']:.1f}"] for r in results
    ]
    print_table(
        "Compile seconds", ["library", "task", "batch", "compile s"], compile_rows
    )
    path = save_results(
        "compare_gridworld", {"args": vars(args), "results": results}, args.out
    )
    print(f"saved {path}")


if __name__ == "__main__":
    main()
