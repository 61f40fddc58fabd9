"""jaxrl against gfnx and torchgfn: trajectory balance on HyperGrid.

The same work for every library: HyperGrid D=4, H=8 with the standard reward
(R0=0.1, R1=0.5, R2=2), trajectory balance with a learned backward policy,
MLPs of 2 hidden layers of 256 units, Adam (lr 1e-3, log Z lr 1e-1), batch
16 for 2,000 iterations and batch 256 for 300.

Reported per library and batch size: milliseconds per training iteration
(compile time apart: jaxrl and gfnx compile the whole run ahead of time,
torchgfn's column holds its first, eager iteration), and the exact L1
distance ``sum_x |p(x) - R(x)/Z|`` between the trained forward policy's
terminating distribution and the target (a sum over all H**D cells, so it
lies in [0, 2]). Every library hands back its forward policy's logits at
every cell and the L1 is computed from them by the same code, jaxrl's
dynamic programme (``terminating_log_probs`` + ``exact_metrics``, with
HyperGrid's masks, which all three libraries share). The ratio column is
the faster peer's ms per iteration over jaxrl's (target: 2x or more).
jaxrl's and gfnx's compiled runs are each timed ``--repeats`` times (3 by
default; the same key, so the same numbers) and the fastest is reported, so
a moment of load on a shared machine does not decide the ratio; torchgfn,
far slower, trains once.
jaxrl runs with its default ``Config.rollout='auto'``; its rows name the
mode that resolved to (``jaxrl (compacted)``).

jaxrl runs in this process. gfnx pins an old jax and numpy, so each peer
runs in its own virtual environment, as a subprocess of the same invocation
(drivers in ``benchmarks/gfn_peers/``). Create the environments once
(from the package index pip is configured with):

    python benchmarks/compare_gfn.py --setup
    python benchmarks/compare_gfn.py
    python benchmarks/compare_gfn.py --quick
    python benchmarks/compare_gfn.py --loss-table   # L1 of every objective
    python benchmarks/compare_gfn.py --rollouts [--quick]

``--loss-table`` trains jaxrl with every objective for a fixed budget and
prints the exact L1 of each (no peers). ``--rollouts`` times jaxrl alone
with ``Config.rollout='padded'`` (the network on every padded state slot)
against ``'compacted'`` (on a prefix holding the visited states), TB with separate
networks, at batch 16 and 256 (the race's budgets, or ``--quick``'s): ms
per training iteration, the best of ``--repeats`` timed calls of the whole
compiled run after a warm-up call, one seed, no vmap.
"""

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from common import (
    compile_timed,
    peer_python,
    print_table,
    save_results,
    setup_peers,
    time_call,
)

HERE = Path(__file__).resolve().parent
PEERS = ("gfnx", "torchgfn")
# jaxrl: separate P_F and P_B MLPs (as torchgfn); jaxrl-shared: one trunk
# with two heads (as the gfnx driver).
LIBS = ("jaxrl", "jaxrl-shared", *PEERS)
# What --setup installs in each peer's environment (pip requirement strings).
PEER_REQUIREMENTS = {
    "gfnx": ["gfnx==0.0.1"],
    "torchgfn": ["torchgfn==2.4.1", "torch>=2.4"],
}
SETTING = {
    "ndim": 4, "height": 8, "r0": 0.1, "r1": 0.5, "r2": 2.0,
    "hidden": 256, "lr": 1e-3, "lr_log_z": 0.1,
}  # fmt: skip
FULL_RUNS = ((16, 2000), (256, 300))
QUICK_RUNS = ((16, 100), (256, 20))
TARGET_SPEEDUP = 2.0


def make_env():
    from jaxrl.envs.gfn import make_gfn_env

    s = SETTING
    return make_gfn_env("hypergrid", ndim=s["ndim"], height=s["height"],
                        r0=s["r0"], r1=s["r1"], r2=s["r2"])  # fmt: skip


def exact_l1(env, reward, logits: np.ndarray) -> dict:
    """The exact L1 (sum and mean over cells) and KL of the terminating
    distribution of forward ``logits`` (``(H**D, D+1)``, row-major cells)."""
    from jaxrl.algos import gflownet

    enum = gflownet.enumerate_states(env, reward)
    log_p = gflownet.terminating_log_probs(env, enum, jax.numpy.asarray(logits))
    is_object = enum.forward_mask[:, env.exit_action]
    exact = gflownet.exact_metrics(log_p, enum.log_reward, is_object)
    return {"l1": float(exact.l1), "l1_mean": float(exact.l1_mean),
            "kl": float(exact.kl)}  # fmt: skip


def run_jaxrl(
    batch: int, iterations: int, seed: int, loss: str = "tb", shared: bool = False,
    repeats: int = 1,
) -> dict:
    """Train jaxrl for ``iterations`` and return timings and final logits
    (``shared``: one trunk for P_F and P_B, as in gfnx's driver; else two
    MLPs, as in torchgfn's). The run is timed ``repeats`` times from the same
    key (the same numbers each time) and the fastest is kept."""
    from jaxrl.algos import gflownet

    env, reward = make_env()
    config = gflownet.Config(
        loss=loss, num_iterations=iterations, batch_size=batch,
        eval_every=iterations, hidden_size=SETTING["hidden"],
        use_learned_backward=True, use_shared_trunk=shared,
    )  # fmt: skip
    hparams = gflownet.HParams(lr=SETTING["lr"], lr_log_z=SETTING["lr_log_z"])
    train = gflownet.make_train(config, env, reward)
    args = (jax.random.key(seed), hparams)
    compiled, compile_s = compile_timed(train, args)
    run_s = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        run_s = min(run_s, time.perf_counter() - start)
    network = gflownet.GFNPolicy(
        num_actions=env.num_actions, hidden_size=config.hidden_size,
        use_learned_backward=True, use_flow=config.uses_flow,
        use_shared_trunk=config.use_shared_trunk,
    )  # fmt: skip
    enum = gflownet.enumerate_states(env, reward)
    logits = network.apply(
        out.state.params.net, enum.obs, method=gflownet.GFNPolicy.forward_logits
    )
    return {
        "rollout": config.resolved_rollout,
        "compile_s": compile_s,
        "ms_per_iteration": 1e3 * run_s / iterations,
        "logits": np.asarray(logits),
        "l1_own": float(out.metrics.l1[-1]),
    }


def run_peer(peer: str, venv_dir: Path, batch: int, iterations: int, seed: int,
             repeats: int = 1):  # fmt: skip
    """Run ``peer``'s driver in its environment: ``(result, None)`` or
    ``(None, reason)``. gfnx times its compiled run ``repeats`` times (the
    fastest kept); torchgfn trains once (its run is not a function to call
    again, and at 6x gfnx's time it never sets the faster peer's figure)."""
    python = peer_python(venv_dir, peer)
    if not python.exists():
        return None, f"no environment at {python.parent.parent} (run --setup)"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "logits.npy"
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in SETTING.items()]
        command = [
            str(python), str(HERE / "gfn_peers" / f"{peer}_tb.py"), *flags,
            f"--batch={batch}", f"--iterations={iterations}", f"--seed={seed}",
            f"--out={out}",
            *([f"--repeats={repeats}"] if peer == "gfnx" else []),
        ]  # fmt: skip
        proc = subprocess.run(command, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            return None, f"exit {proc.returncode}: {proc.stderr.strip()[-400:]}"
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["logits"] = np.load(out)
    return result, None


def race(args) -> None:
    env, reward = make_env()
    runs = QUICK_RUNS if args.quick else FULL_RUNS
    rows, records, notes = [], [], []
    for batch, iterations in runs:
        results = {}
        for lib in args.libs:
            if lib.startswith("jaxrl"):
                shared = lib == "jaxrl-shared"
                result = run_jaxrl(batch, iterations, args.seed, shared=shared,
                                   repeats=args.repeats)  # fmt: skip
                note = None
            else:
                result, note = run_peer(lib, args.venv_dir, batch, iterations,
                                        args.seed, args.repeats)  # fmt: skip
            if note:
                notes.append(f"{lib} (batch {batch}): skipped, {note}")
                continue
            result.update(exact_l1(env, reward, result.pop("logits")))
            results[lib] = result
            records.append({"lib": lib, "batch": batch, "iterations": iterations,
                            **result})  # fmt: skip
        peer_ms = [results[p]["ms_per_iteration"] for p in PEERS if p in results]
        for lib, r in results.items():
            ratio = min(peer_ms) / r["ms_per_iteration"] if peer_ms else None
            label = f"{lib} ({r['rollout']})" if "rollout" in r else lib
            rows.append([
                label, batch, iterations, f"{r['ms_per_iteration']:.2f}",
                f"{r['compile_s']:.2f}", f"{r['l1']:.3f}", f"{r['l1_mean']:.2e}",
                f"{r['kl']:.3f}",
                (f"{ratio:.2f}x ({'PASS' if ratio >= TARGET_SPEEDUP else 'MISS'})"
                 if lib.startswith("jaxrl") and ratio is not None else ""),
            ])  # fmt: skip
    print_table(
        "TB on HyperGrid D=4 H=8 (exact L1 by jaxrl's DP for all)",
        ["library", "batch", "iters", "ms/iter", "compile s (torch: 1st iter)",
         "L1 (sum)", "L1 (mean)", "KL", "faster peer / jaxrl"],
        rows,
    )  # fmt: skip
    for note in notes:
        print(note)
    path = save_results("compare_gfn", {"setting": SETTING, "results": records,
                                        "notes": notes}, args.out)  # fmt: skip
    print(f"saved {path}")


def loss_table(args) -> None:
    from jaxrl.algos import gflownet

    env, reward = make_env()
    batch, iterations = args.loss_budget
    rows, records = [], []
    for loss in gflownet.LOSS_NAMES:
        result = run_jaxrl(batch, iterations, args.seed, loss=loss)
        result.update(exact_l1(env, reward, result.pop("logits")))
        records.append({"loss": loss, "batch": batch, "iterations": iterations,
                        **result})  # fmt: skip
        rows.append([
            loss, f"{result['l1']:.3f}", f"{result['l1_mean']:.2e}",
            f"{result['kl']:.3f}", f"{result['ms_per_iteration']:.2f}",
        ])  # fmt: skip
    print_table(
        f"Exact L1 after {iterations} iterations of batch {batch}, HyperGrid D=4 H=8",
        ["loss", "L1 (sum)", "L1 (mean)", "KL", "ms/iter"],
        rows,
    )
    path = save_results("gfn_losses", {"setting": SETTING, "results": records},
                        args.out)  # fmt: skip
    print(f"saved {path}")


def rollouts(args) -> None:
    """ms per iteration of ``rollout='padded'`` against ``'compacted'``."""
    from jaxrl.algos import gflownet

    env, reward = make_env()
    hparams = gflownet.HParams(lr=SETTING["lr"], lr_log_z=SETTING["lr_log_z"])
    rows, records = [], []
    for batch, iterations in QUICK_RUNS if args.quick else FULL_RUNS:
        ms = {}
        for rollout in ("padded", "compacted"):
            config = gflownet.Config(
                loss="tb", num_iterations=iterations, batch_size=batch,
                eval_every=iterations, hidden_size=SETTING["hidden"],
                use_learned_backward=True, rollout=rollout,
            )  # fmt: skip
            train = gflownet.make_train(config, env, reward)
            call = (jax.random.key(args.seed), hparams)
            compiled, compile_s = compile_timed(train, call)
            seconds = time_call(compiled, call, args.repeats, min_seconds=0.0)
            l1 = float(compiled(*call).metrics.l1[-1])
            ms[rollout] = 1e3 * seconds / iterations
            records.append({"rollout": rollout, "batch": batch,
                            "iterations": iterations, "compile_s": compile_s,
                            "ms_per_iteration": ms[rollout], "l1": l1})  # fmt: skip
            rows.append([rollout, batch, iterations, f"{ms[rollout]:.2f}",
                         f"{compile_s:.2f}", f"{l1:.3f}", ""])  # fmt: skip
        rows[-1][-1] = f"{ms['padded'] / ms['compacted']:.2f}x"
    print_table(
        "TB on HyperGrid D=4 H=8: padded against compacted rollouts (jaxrl)",
        ["rollout", "batch", "iters", "ms/iter", "compile s", "L1 (sum)",
         "padded / compacted"],
        rows,
    )  # fmt: skip
    path = save_results("gfn_rollouts", {"setting": SETTING, "results": records},
                        args.out)  # fmt: skip
    print(f"saved {path}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libs", nargs="+", choices=LIBS, default=list(LIBS))
    parser.add_argument("--quick", action="store_true",
                        help="100 iterations at batch 16, 20 at batch 256")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--venv-dir", type=Path, default=HERE / ".venvs",
                        help="where each peer's virtual environment lives")  # fmt: skip
    parser.add_argument("--setup", action="store_true",
                        help="create the peers' environments, then exit")  # fmt: skip
    parser.add_argument("--loss-table", action="store_true",
                        help="exact L1 of every jaxrl objective, no peers")  # fmt: skip
    parser.add_argument("--loss-budget", type=int, nargs=2, default=(16, 2000),
                        metavar=("BATCH", "ITERATIONS"))  # fmt: skip
    parser.add_argument("--rollouts", action="store_true",
                        help="jaxrl's padded against compacted rollouts, no "
                        "peers")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed calls per setting (best kept): jaxrl and "
                        "gfnx in the race (torchgfn trains once), both modes "
                        "with --rollouts")  # fmt: skip
    parser.add_argument("--out", default=None, help="result JSON path")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if min(args.loss_budget) < 1:
        parser.error(f"--loss-budget needs a batch and iterations >= 1, got "
                     f"{list(args.loss_budget)}")  # fmt: skip
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.setup:
        wanted = {p: PEER_REQUIREMENTS[p] for p in PEERS if p in args.libs}
        setup_peers(args.venv_dir, wanted)
    elif args.loss_table:
        loss_table(args)
    elif args.rollouts:
        rollouts(args)
    else:
        race(args)


if __name__ == "__main__":
    main()
