"""PPO on gymnax CartPole-v1 with PureJaxRL's published setting.

PureJaxRL's CartPole PPO: 4 environments x 128 steps, 4 epochs of 4
minibatches, Adam 2.5e-4 annealed, gamma 0.99, GAE lambda 0.95, clip 0.2,
entropy 0.01, value coefficient 0.5, gradient norm 0.5, 64-unit tanh MLPs,
500k env steps. Target: every seed's episode return reaches 500 (the time
limit) within the budget. Reported: per seed, the final return (episodes of
the last 10% of updates), the env steps at which the return of an update's
finished episodes first reached 500, and the env steps/s of the whole run.

    python benchmarks/ppo_cartpole.py
    python benchmarks/ppo_cartpole.py --seeds 4 --steps 200000
"""

import argparse

import jax
import numpy as np
from common import print_table, rate, save_results
from rich.console import Console

import jaxrl
from jaxrl.algos import ppo
from jaxrl.stats import summarize

PUREJAXRL = {
    "config": {"num_envs": 4, "num_steps": 128, "num_minibatches": 4,
               "update_epochs": 4, "hidden_size": 64, "anneal_lr": True},
    "hparams": {"lr": 2.5e-4, "gamma": 0.99, "gae_lambda": 0.95, "clip_eps": 0.2,
                "ent_coef": 0.01, "vf_coef": 0.5, "max_grad_norm": 0.5},
}  # fmt: skip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500_000)
    parser.add_argument("--seeds", type=int, default=8)
    args = parser.parse_args(argv)
    env, params = jaxrl.make("CartPole-v1")
    config = ppo.Config(total_steps=args.steps, **PUREJAXRL["config"])
    program = ppo.make_program(config, env, params, target="CartPole-v1")
    hparams = ppo.HParams(**PUREJAXRL["hparams"])
    result = jaxrl.run(program, hparams, seeds=args.seeds, console=Console())
    returns = np.asarray(result.history["episode_return"])
    episodes = np.asarray(result.history["num_episodes"])
    steps = np.asarray(result.history["env_steps"])
    reached = (returns >= 500.0) & (episodes > 0)
    first = np.where(reached.any(1), steps[0][np.argmax(reached, axis=1)], np.inf)
    final = result.final["episode_return"]
    run_s = result.results["run_s"]
    rows = [[seed, f"{final[seed]:.1f}",
             "-" if np.isinf(first[seed]) else f"{first[seed]:,.0f}"]
            for seed in range(args.seeds)]  # fmt: skip
    summary = summarize(final)
    rows.append(["IQM [95% CI]", f"{summary['iqm']:.1f} [{summary['iqm_ci95'][0]:.1f}, "
                 f"{summary['iqm_ci95'][1]:.1f}]", f"{np.isfinite(first).sum()}/"
                 f"{args.seeds} reached 500"])  # fmt: skip
    total = config.num_updates * config.batch_size * args.seeds
    compile_s = result.results["compile_s"]
    print_table(
        f"PPO on CartPole-v1, PureJaxRL setting ({jax.default_backend()}): "
        f"{rate(total / run_s)} env steps/s, compile {compile_s:.1f} s",
        ["seed", "final return", "env steps to reach 500"],
        rows,
    )  # fmt: skip
    saved = save_results("ppo_cartpole", {
        "steps": args.steps, "seeds": args.seeds, "final_return": final.tolist(),
        "steps_to_500": [None if np.isinf(f) else float(f) for f in first],
        "run_s": run_s, "compile_s": result.results["compile_s"],
    })  # fmt: skip
    print(f"results: {saved}")


if __name__ == "__main__":
    main()
