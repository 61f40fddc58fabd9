"""torchgfn's side of benchmarks/compare_gfn.py (run in torchgfn's own environment).

Trajectory balance on HyperGrid with torchgfn's own objects: ``HyperGrid``
(original reward), ``KHotPreprocessor``, ``MLP`` forward and backward
estimators (2 hidden layers), ``TBGFlowNet``, Adam with log Z in its own
parameter group; log-probabilities saved during sampling and reused by the
loss (torchgfn's fastest on-policy setting). One torch thread.

Prints one JSON line (timings) and saves the forward policy's logits at every
cell, in row-major cell order, to ``--out`` (``.npy``, ``(H**D, D+1)``).
"""

import argparse
import itertools
import json
import time

import numpy as np
import torch
from gfn.estimators import DiscretePolicyEstimator
from gfn.gflownet import TBGFlowNet
from gfn.gym import HyperGrid
from gfn.preprocessors import KHotPreprocessor
from gfn.utils.modules import MLP


def main() -> None:
    parser = argparse.ArgumentParser()
    for name, kind in (("ndim", int), ("height", int), ("batch", int),
                       ("iterations", int), ("seed", int), ("hidden", int),
                       ("r0", float), ("r1", float), ("r2", float),
                       ("lr", float), ("lr_log_z", float)):  # fmt: skip
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    env = HyperGrid(
        ndim=args.ndim,
        height=args.height,
        reward_fn_kwargs={"R0": args.r0, "R1": args.r1, "R2": args.r2},
        validate_modes=False,
    )
    pre = KHotPreprocessor(height=args.height, ndim=args.ndim)

    def mlp(out_dim: int) -> MLP:
        return MLP(input_dim=pre.output_dim, output_dim=out_dim,
                   hidden_dim=args.hidden, n_hidden_layers=2)  # fmt: skip

    pf = DiscretePolicyEstimator(mlp(env.n_actions), env.n_actions, preprocessor=pre)
    pb = DiscretePolicyEstimator(
        mlp(env.n_actions - 1), env.n_actions, preprocessor=pre, is_backward=True
    )
    gfn = TBGFlowNet(pf=pf, pb=pb, init_logZ=0.0)
    optimizer = torch.optim.Adam(gfn.pf_pb_parameters(), lr=args.lr)
    optimizer.add_param_group({"params": gfn.logz_parameters(), "lr": args.lr_log_z})

    def iteration() -> None:
        trajectories = gfn.sample_trajectories(env, n=args.batch, save_logprobs=True)
        optimizer.zero_grad()
        loss = gfn.loss(env, trajectories, recalculate_all_logprobs=False)
        loss.backward()
        optimizer.step()

    start = time.perf_counter()
    iteration()
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.iterations - 1):
        iteration()
    run_s = time.perf_counter() - start
    cells = torch.tensor(
        list(itertools.product(range(args.height), repeat=args.ndim)), dtype=torch.long
    )
    with torch.no_grad():
        logits = pf(env.states_from_tensor(cells))
    np.save(args.out, logits.numpy().astype(np.float32))
    print(json.dumps({
        "compile_s": first_s,
        "ms_per_iteration": 1e3 * run_s / max(args.iterations - 1, 1),
        "log_z": float(gfn.logZ.detach()),
        "torch": torch.__version__,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
