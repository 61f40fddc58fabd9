"""Modes found on the bit-sequence task (Malkin et al., 2022): TB against SubTB.

Both objectives train on the same environment with the same seeds, batch
size, networks and number of iterations; every ``--eval-every`` iterations
each run reports ``modes_found`` (modes some sampled sequence has come within
``mode_threshold`` bits of) and the Spearman correlation of the exact log p(x)
with log R(x) on the test set (each mode plus copies with 1 .. n-1 bits
flipped). Printed: a table of modes found (mean over seeds, and the range)
at each evaluation, and the final Spearman; saved: the curves as a plot at
``--out`` and the numbers as JSON (``--json``, default
``benchmarks/results/gfn_bitseq-<time>.json``).

Settings: the environment is ``--env`` (default ``bitseq``: n = 120, k = 8,
60 modes, beta = 2, threshold 30); the policy is jaxrl's MLP (2 hidden layers)
over the bit encoding, P_B = 1 (a tree, so no backward network), Adam lr
1e-3 (gflownet-rl's bitseq default), log Z lr 0.1 (jaxrl's default; gfnx's
TB configuration uses 5e-2), batch 16 (both), 0.1% random actions
(gflownet-rl's ``rand_action_prob``) and SubTB's lambda 1.9 (gflownet-rl's
bitseq default). gflownet-rl and gfnx use a transformer instead of an MLP and
insert words anywhere instead of appending them, so the numbers are this
library's, not a reproduction of theirs.

    python benchmarks/gfn_bitseq.py --iterations 2000 --out bitseq_modes.png
"""

import argparse
import time

import jax
import numpy as np
from common import print_table, save_results

from jaxrl.algos import gflownet as gfn
from jaxrl.envs.gfn import make_gfn_env

LABELS = {"tb": "TB", "subtb": "SubTB"}  # objective: its name in tables
LOSSES = tuple(LABELS)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="bitseq", help="bitseq:name=value,...")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lr-log-z", type=float, default=0.1)
    parser.add_argument("--epsilon", type=float, default=0.001)
    parser.add_argument("--subtb-lambda", type=float, default=1.9)
    parser.add_argument("--out", required=True, help="path of the plot (.png)")
    parser.add_argument("--json", default=None, help="path of the JSON results")
    return parser.parse_args()


def run(loss: str, args, env, reward) -> dict:
    """Train ``args.seeds`` seeds of one objective in one compiled program."""
    config = gfn.Config(
        loss=loss,
        num_iterations=args.iterations,
        eval_every=args.eval_every,
        batch_size=args.batch_size,
        hidden_size=args.hidden_size,
        use_learned_backward=False,  # P_B = 1 on a tree
    )
    hparams = gfn.HParams(
        lr=args.lr, lr_log_z=args.lr_log_z, epsilon=args.epsilon,
        subtb_lambda=args.subtb_lambda,
    )  # fmt: skip
    train = jax.vmap(gfn.make_train(config, env, reward), in_axes=(0, None))
    keys = jax.random.split(jax.random.key(0), args.seeds)
    start = time.perf_counter()
    compiled = jax.jit(train).lower(keys, hparams).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(keys, hparams))
    run_s = time.perf_counter() - start
    return {
        "modes_found": np.asarray(out.metrics.modes_found).tolist(),  # (seeds, E)
        "spearman": np.asarray(out.metrics.spearman).tolist(),
        "log_reward": np.asarray(out.metrics.log_reward).tolist(),
        "compile_s": compile_s,
        "run_s": run_s,
    }


def plot(results: dict, iterations: np.ndarray, num_modes: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for loss, result in results.items():
        for axis, name in zip(axes, ("modes_found", "spearman"), strict=True):
            values = np.asarray(result[name], np.float64)
            line = axis.plot(iterations, values.mean(0), label=LABELS[loss])[0]
            axis.fill_between(iterations, values.min(0), values.max(0),
                              color=line.get_color(), alpha=0.2)  # fmt: skip
    axes[0].set_ylabel(f"modes found (of {num_modes})")
    axes[1].set_ylabel("Spearman(log p, log R), test set")
    for axis in axes:
        axis.set_xlabel("training iterations")
        axis.legend()
    figure.suptitle("bit sequences: mean over seeds, band = min to max")
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    args = parse_args()
    env, reward = make_gfn_env(args.env)
    results = {loss: run(loss, args, env, reward) for loss in LOSSES}
    iterations = np.arange(1, args.iterations // args.eval_every + 1) * args.eval_every
    rows = []
    for i, it in enumerate(iterations):
        row = [str(it)]
        for loss in LOSSES:
            found = np.asarray(results[loss]["modes_found"])[:, i]
            row.append(f"{found.mean():.1f} ({found.min()}-{found.max()})")
        rows.append(row)
    rows.append(["final Spearman"] + [
        f"{np.asarray(results[loss]['spearman'])[:, -1].mean():.3f}" for loss in LOSSES
    ])  # fmt: skip
    rows.append(["run s (compile s)"] + [
        f"{results[loss]['run_s']:.0f} ({results[loss]['compile_s']:.0f})"
        for loss in LOSSES
    ])  # fmt: skip
    title = (f"{args.env}: modes found of {reward.num_modes} (mean over "
             f"{args.seeds} seeds, min-max), batch {args.batch_size}")  # fmt: skip
    print_table(title, ["iteration", *[LABELS[loss] for loss in LOSSES]], rows)
    plot(results, iterations, reward.num_modes, args.out)
    saved = save_results("gfn_bitseq", {"args": vars(args), "results": results},
                         args.json)  # fmt: skip
    print(f"plot: {args.out}\nresults: {saved}")


if __name__ == "__main__":
    main()
