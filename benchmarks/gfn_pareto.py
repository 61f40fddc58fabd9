"""Pareto metrics on the multi-objective HyperGrid: OP-TB against PC-TB.

The comparison of the Order-Preserving GFlowNets paper (Chen & Mauch, 2024,
arXiv 2310.00386): OP-TB, which learns its own reward from the Pareto order
of each batch, against preference-conditioned trajectory balance (PC-TB,
``Config.preference='dirichlet'``: weights ``w ~ Dirichlet(1.5)`` per
trajectory, reward ``(w . r)^beta``) with beta = 1, 2 and 4 fixed per run.
Every method trains on the same environment with the same seeds, batch size,
networks and number of iterations.

Reported per method (mean over seeds, at the last evaluation), all from the
exact terminating distribution (the DP over the grid's DAG): ``mass``, the
probability on the true Pareto front; ``hypervolume`` (reference point 0)
and IGD / IGD+ to the true front of ``--pareto-samples`` objects drawn from
it; ms per training iteration (whole compiled run, evaluations included,
compile time apart; the seeds run in one vmapped call; the PC-TB betas
share one compilation). Two reference rows: the untrained uniform forward
policy, and the front mass of PC-TB's exact target at each beta (the
mixture over the evaluation preferences of ``(w . r)^beta / Z_w``). PC-TB's
distribution is the mixture over ``--preference-eval`` fixed preference
vectors (a Dirichlet(1.5) sample drawn with key 0), each evaluated at the
run's beta. Printed: the table; saved: a plot at ``--out`` (the objectives
of every cell with the true front, and each method's exact probability
over the grid, mean over seeds, front cells outlined) and the numbers as
JSON (``--json``, default ``benchmarks/results/gfn_pareto-<time>.json``).

Settings follow the OP-GFN code's MO-HyperGrid (multi/grid_cond_gfn.py) where
this library has them: batch 128, Adam lr 1e-2 (log Z, and PC-TB's log Z
MLP, 1e-2 too), 1% uniform random actions; its 1000 iterations are
``--iterations``. Its network is an MLP of 3 x 64 leaky-ReLU units; here
jaxrl's MLPs of 2 hidden layers of ``--hidden-size`` ReLU units, with a
learned P_B. The numbers are this library's, not a reproduction.

    python benchmarks/gfn_pareto.py --iterations 1000 --out pareto.png
    python benchmarks/gfn_pareto.py --env mo-hypergrid:objectives=branin-shubert
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from common import print_table, save_results

from jaxrl.algos import gflownet as gfn
from jaxrl.algos.gflownet import preference as pref
from jaxrl.envs.gfn import make_gfn_env

BETAS = (1.0, 2.0, 4.0)
METRICS = ("hypervolume", "igd", "igd_plus", "mass")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="mo-hypergrid",
                        help="mo-hypergrid:height=..,objectives=a-b")  # fmt: skip
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--epsilon", type=float, default=0.01)
    parser.add_argument("--alpha", type=float, default=1.5, help="Dirichlet")
    parser.add_argument("--preference-eval", type=int, default=64)
    parser.add_argument("--pareto-samples", type=int, default=1280)
    parser.add_argument("--out", required=True, help="path of the plot (.png)")
    parser.add_argument("--json", default=None, help="path of the JSON results")
    return parser.parse_args()


def make_config(args, loss: str, preference: str) -> gfn.Config:
    return gfn.Config(
        loss=loss,
        num_iterations=args.iterations,
        eval_every=args.eval_every,
        batch_size=args.batch_size,
        hidden_size=args.hidden_size,
        pareto_samples=args.pareto_samples,
        preference=preference,
        preference_alpha=args.alpha,
        preference_eval=args.preference_eval,
    )


def exact_probabilities(config: gfn.Config, env, reward, net, beta) -> jax.Array:
    """``(N,)`` one run's exact terminating distribution (PC-TB: the mixture
    over the fixed evaluation preferences at ``beta``)."""
    enum = gfn.enumerate_states(env, reward)
    policy = gfn.GFNPolicy(env.num_actions, config.hidden_size,
                           config.use_learned_backward, False, False)  # fmt: skip

    def log_probs(obs):
        logits = policy.apply(net, obs, method=gfn.GFNPolicy.forward_logits)
        return gfn.terminating_log_probs(env, enum, logits)

    if not config.is_preference:
        return jnp.exp(log_probs(enum.obs))
    weights = pref.evaluation_preferences(
        config.preference_alpha, config.preference_eval, reward.num_objectives
    )
    rows = pref.preference_condition(weights, beta)
    log_p = jax.vmap(lambda row: log_probs(pref.append_condition(enum.obs, row)))(rows)
    return jnp.exp(pref.mixture_log_probs(log_p))


def references(args, env, reward) -> dict:
    """Untrained reference rows: the uniform forward policy's Pareto metrics,
    and the front mass of PC-TB's exact target at each beta, the mixture over
    the evaluation preferences of ``(w . r)^beta / Z_w`` (what a perfectly
    trained PC-TB would put on the front)."""

    @jax.jit
    def compute():
        enum = gfn.enumerate_states(env, reward)
        is_object = enum.forward_mask[:, env.exit_action]
        objectives = jax.vmap(reward.objectives)(enum.states)
        log_p = gfn.terminating_log_probs(
            env, enum, jnp.zeros((env.num_states, env.num_actions))
        )
        uniform = gfn.pareto_metrics(
            objectives, is_object, log_p, jax.random.key(0), args.pareto_samples,
            reward.reference_point,
        )  # fmt: skip
        weights = pref.evaluation_preferences(args.alpha, args.preference_eval, 2)

        def target_mass(beta):
            log_r = pref.scalarised_log_reward(objectives[None], weights[:, None], beta)
            log_r = jnp.where(is_object[None], log_r, gfn.MASKED_LOGIT)
            log_target = log_r - jax.nn.logsumexp(log_r, axis=1, keepdims=True)
            p = jnp.exp(pref.mixture_log_probs(log_target))
            return jnp.sum(jnp.where(enum.is_mode, p, 0.0))

        return uniform, [target_mass(beta) for beta in BETAS]

    uniform, masses = compute()
    return {
        "uniform": {m: float(getattr(uniform, m)) for m in METRICS},
        "target_mass": {beta: float(m) for beta, m in zip(BETAS, masses, strict=True)},
    }


def run(args, env, reward, loss: str, preference: str, betas) -> dict:
    """Train ``args.seeds`` seeds (vmapped) once per beta, one compilation."""
    config = make_config(args, loss, preference)
    train = jax.vmap(gfn.make_train(config, env, reward), in_axes=(0, None))
    keys = jax.random.split(jax.random.key(0), args.seeds)

    def hparams(beta):
        return gfn.HParams(lr=args.lr, lr_log_z=args.lr, epsilon=args.epsilon,
                           beta_low=beta, beta_high=beta)  # fmt: skip

    start = time.perf_counter()
    compiled = jax.jit(train).lower(keys, hparams(betas[0])).compile()
    compile_s = time.perf_counter() - start
    probabilities = jax.jit(jax.vmap(
        lambda net, beta: exact_probabilities(config, env, reward, net, beta),
        in_axes=(0, None),
    ))  # fmt: skip
    results = {}
    for beta in betas:
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(keys, hparams(beta)))
        run_s = time.perf_counter() - start
        pareto = out.metrics.pareto
        results[beta] = {
            **{name: np.asarray(getattr(pareto, name)).tolist() for name in METRICS},
            "probabilities": np.asarray(
                probabilities(out.state.params.net, jnp.float32(beta))
            ).mean(0),
            "ms_per_iteration": 1e3 * run_s / args.iterations,
            "compile_s": compile_s,
        }
    return results


def plot(env, reward, methods: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    states = env.all_states()
    objectives = np.asarray(jax.vmap(reward.objectives)(states))
    is_front = np.asarray(jax.vmap(reward.is_mode)(states))
    coords = np.asarray(states.coords)
    height = env.height
    figure, axes = plt.subplots(1, 1 + len(methods), constrained_layout=True,
                                figsize=(3.6 * (1 + len(methods)), 3.6))  # fmt: skip
    axis = axes[0]
    axis.scatter(*objectives.T, s=4, c="0.7", label="cells")
    front = objectives[is_front]
    front = front[np.argsort(front[:, 0])]
    axis.plot(*front[:, :2].T, "o-", c="tab:red", ms=3, label="true Pareto front")
    axis.set_xlabel(reward.names[0])
    axis.set_ylabel(reward.names[1])
    axis.legend(fontsize=7)
    high = max(result["probabilities"].max() for result in methods.values())
    for axis, (name, result) in zip(axes[1:], methods.items(), strict=True):
        image = np.zeros((height, height))
        image[coords[:, 1], coords[:, 0]] = result["probabilities"]
        norm = LogNorm(vmin=1e-5, vmax=high)  # cells below 1e-5 show as 1e-5
        shown = axis.imshow(np.maximum(image, 1e-5), origin="lower", norm=norm)
        axis.scatter(coords[is_front, 0], coords[is_front, 1], s=12, linewidths=0.7,
                     facecolors="none", edgecolors="tab:red")  # fmt: skip
        mass = np.mean(result["mass"], axis=0)[-1]
        axis.set_title(f"{name}: front mass {mass:.3f}", fontsize=9)
        axis.set_xlabel("coordinate 0")
    axes[1].set_ylabel("coordinate 1")
    figure.colorbar(shown, ax=axes[1:], shrink=0.8, label="exact probability")
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    args = parse_args()
    env, reward = make_gfn_env(args.env)
    if reward.num_objectives != 2:
        raise SystemExit(f"--env {args.env}: this comparison takes 2 objectives "
                         f"(its hypervolume is 2-D), got {reward.names}")  # fmt: skip
    methods = {"OP-TB": run(args, env, reward, "op-tb", "none", (1.0,))[1.0]}
    pc = run(args, env, reward, "tb", "dirichlet", BETAS)
    methods.update({f"PC-TB beta={beta:g}": pc[beta] for beta in BETAS})
    states = env.all_states()
    objectives = jax.vmap(reward.objectives)(states)
    is_front = jax.vmap(reward.is_mode)(states)
    front_hv = float(gfn.hypervolume_2d(objectives[:, :2], is_front, jnp.zeros(2)))
    refs = references(args, env, reward)
    rows = [["uniform P_F (untrained)", *[f"{refs['uniform'][m]:.4f}" for m in METRICS],
             "", ""]]  # fmt: skip
    for beta, mass in refs["target_mass"].items():
        rows.append([f"PC-TB beta={beta:g} exact target", "", "", "", f"{mass:.4f}",
                     "", ""])  # fmt: skip
    for name, result in methods.items():
        final = {m: np.asarray(result[m], np.float64)[:, -1] for m in METRICS}
        rows.append([name, *[f"{final[m].mean():.4f} ({final[m].min():.4f}-"
                             f"{final[m].max():.4f})" for m in METRICS],
                     f"{result['ms_per_iteration']:.1f}",
                     f"{result['compile_s']:.0f}"])  # fmt: skip
    title = (f"{args.env}: {args.iterations} iterations of {args.batch_size}, "
             f"{args.seeds} seeds (mean, min-max; ms/iteration: all seeds in one "
             f"vmapped call); true front: {int(is_front.sum())} cells, "
             f"hypervolume {front_hv:.4f}")  # fmt: skip
    print_table(title, ["method", "hypervolume", "IGD", "IGD+", "front mass",
                        "ms/iteration", "compile s"], rows)  # fmt: skip
    plot(env, reward, methods, args.out)
    for result in methods.values():
        result["probabilities"] = result["probabilities"].tolist()
    payload = {"args": vars(args), "front_hypervolume": front_hv,
               "references": refs, "results": methods}  # fmt: skip
    saved = save_results("gfn_pareto", payload, args.json)
    print(f"plot: {args.out}\nresults: {saved}")


if __name__ == "__main__":
    main()
