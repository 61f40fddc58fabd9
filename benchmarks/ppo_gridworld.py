"""PPO on DoorKey: wall time and env steps to success, against a minimal loop.

For each task, 8 seeds train in one ``jax.jit(jax.vmap(train))`` program, and
so does a minimal hand-written PPO loop in the PureJaxRL layout (nested scans,
inline GAE and loss, no truncation bootstrapping, no metrics beyond returns)
on the same environment, network, optimiser and config, in the same
invocation. Reported per implementation: compile seconds, run seconds, env
steps/s, env steps until the mean return of an update's finished episodes
first reaches ``--success-return`` (per seed; median and how many seeds got
there), and the final return: ``ppo.final_scores`` for both, the mean over
the episodes that ended in the last ``config.num_final_updates`` updates,
each episode weighted equally (as ``jaxrl.run`` reports it).

    python benchmarks/ppo_gridworld.py
    python benchmarks/ppo_gridworld.py --tasks DoorKey-5x5 --steps 200000
    python benchmarks/ppo_gridworld.py --quick    # smoke run, under a minute
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import print_table, rate, save_results

import jaxrl
from jaxrl.algos import ppo
from jaxrl.algos.ppo.networks import make_network
from jaxrl.wrappers import EpisodeStatistics

DEFAULT_STEPS = {"DoorKey-5x5": 200_000, "DoorKey-8x8": 500_000}
QUICK = {"tasks": ["DoorKey-5x5"], "steps": 8 * 2048, "seeds": 2}


def make_minimal_train(config: ppo.Config, env, env_params):
    """PPO as a single hand-written function in the PureJaxRL layout.

    Returns ``train(key, hparams) -> history``: ``{"episode_return",
    "num_episodes"}``, each ``(num_updates,)``: the mean return of the
    episodes finished in each update (0 where none finished) and how many
    finished, the names and meanings of PPO's metrics, so that
    ``ppo.final_scores`` reads either.
    """
    env = EpisodeStatistics(env)
    n_envs, n_steps = config.num_envs, config.num_steps
    network = make_network(
        env.observation_space(env_params), env.action_space(env_params).n,
        config.hidden_size, config.embed_dim,
    )  # fmt: skip
    vstep = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def train(key, hp):
        key, k_init, k_reset = jax.random.split(key, 3)
        obs, env_state = jax.vmap(env.reset, in_axes=(0, None))(
            jax.random.split(k_reset, n_envs), env_params
        )
        params = network.init(k_init, obs)
        grad_steps = config.num_minibatches * config.update_epochs

        def lr(count):
            return hp.lr * (1.0 - (count // grad_steps) / config.num_updates)

        tx = optax.chain(
            optax.clip_by_global_norm(hp.max_grad_norm),
            optax.adam(lr if config.anneal_lr else hp.lr, eps=1e-5),
        )
        opt_state = tx.init(params)

        def update(carry, _):
            params, opt_state, env_state, obs, key = carry

            def act(carry, _):
                env_state, obs, key = carry
                key, k_act, k_env = jax.random.split(key, 3)
                logits, value = network.apply(params, obs)
                action = jax.random.categorical(k_act, logits)
                log_prob = jax.nn.log_softmax(logits)[jnp.arange(n_envs), action]
                next_obs, env_state, reward, term, trunc, info = vstep(
                    jax.random.split(k_env, n_envs), env_state, action, env_params
                )
                done = (term | trunc).astype(jnp.float32)
                ep = info["episode"]
                step = (obs, action, log_prob, value, reward, done)
                return (env_state, next_obs, key), (
                    step,
                    ep.returned,
                    ep.episode_return,
                )

            (env_state, obs, key), (traj, ended, returns) = jax.lax.scan(
                act, (env_state, obs, key), None, n_steps
            )
            t_obs, t_action, t_logp, t_value, t_reward, t_done = traj
            _, last_value = network.apply(params, obs)

            def backward(carry, x):
                advantage, next_value = carry
                done, value, reward = x
                delta = reward + hp.gamma * next_value * (1 - done) - value
                advantage = delta + hp.gamma * hp.gae_lambda * (1 - done) * advantage
                return (advantage, value), advantage

            _, advantages = jax.lax.scan(
                backward, (jnp.zeros_like(last_value), last_value),
                (t_done, t_value, t_reward), reverse=True,
            )  # fmt: skip
            targets = advantages + t_value
            flat = jax.tree.map(
                lambda x: x.reshape(config.batch_size, *x.shape[2:]),
                (t_obs, t_action, t_logp, t_value, advantages, targets),
            )

            def loss_fn(p, mb):
                obs, action, old_logp, old_value, adv, target = mb
                logits, value = network.apply(p, obs)
                log_p = jax.nn.log_softmax(logits)
                logp = jnp.take_along_axis(log_p, action[:, None], 1)[:, 0]
                ratio = jnp.exp(logp - old_logp)
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                policy = -jnp.minimum(
                    ratio * adv, jnp.clip(ratio, 1 - hp.clip_eps, 1 + hp.clip_eps) * adv
                ).mean()
                v_clip = old_value + jnp.clip(
                    value - old_value, -hp.clip_eps, hp.clip_eps
                )
                v_loss = (
                    0.5
                    * jnp.maximum((value - target) ** 2, (v_clip - target) ** 2).mean()
                )
                entropy = -(jnp.exp(log_p) * log_p).sum(-1).mean()
                return policy + hp.vf_coef * v_loss - hp.ent_coef * entropy

            def epoch(carry, _):
                params, opt_state, key = carry
                key, k_perm = jax.random.split(key)
                order = jax.random.permutation(k_perm, config.batch_size)
                minibatches = jax.tree.map(
                    lambda x: x[order].reshape(
                        config.num_minibatches, -1, *x.shape[1:]
                    ),
                    flat,
                )

                def sgd(carry, mb):
                    params, opt_state = carry
                    grads = jax.grad(loss_fn)(params, mb)
                    updates, opt_state = tx.update(grads, opt_state, params)
                    return (optax.apply_updates(params, updates), opt_state), None

                (params, opt_state), _ = jax.lax.scan(
                    sgd, (params, opt_state), minibatches
                )
                return (params, opt_state, key), None

            (params, opt_state, key), _ = jax.lax.scan(
                epoch, (params, opt_state, key), None, config.update_epochs
            )
            count = ended.sum(dtype=jnp.int32)
            mean_return = jnp.where(ended, returns, 0.0).sum() / jnp.maximum(count, 1)
            history = {"episode_return": mean_return, "num_episodes": count}
            return (params, opt_state, env_state, obs, key), history

        carry = (params, opt_state, env_state, obs, key)
        _, history = jax.lax.scan(update, carry, None, config.num_updates)
        return history

    return train


def steps_to_success(returns: np.ndarray, batch_size: int, threshold: float):
    """``(seeds, updates)`` returns -> per seed, env steps at the end of the
    first update whose mean return reached ``threshold`` (NaN if none)."""
    reached = returns >= threshold
    first = np.where(reached.any(1), reached.argmax(1), -1)
    return np.where(first >= 0, (first + 1) * batch_size, np.nan)


def timed(train, keys, hparams, repeats: int):
    """Compile (timed) and run ``vmap(train)`` over ``keys``; the best of
    ``repeats`` run times."""
    start = time.perf_counter()
    vmapped = jax.jit(jax.vmap(train, in_axes=(0, None)))
    compiled = vmapped.lower(keys, hparams).compile()
    compile_s = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = jax.block_until_ready(compiled(keys, hparams))
        best = min(best, time.perf_counter() - start)
    return out, compile_s, best


def run_task(task: str, steps: int, seeds: int, threshold: float, repeats: int):
    env, env_params = jaxrl.make(task)
    config = ppo.Config(total_steps=steps)
    hparams = ppo.HParams()
    keys = jax.random.split(jax.random.key(0), seeds)
    results = []
    for name in ("jaxrl", "minimal"):
        if name == "jaxrl":
            out, compile_s, run_s = timed(
                ppo.make_train(config, env, env_params), keys, hparams, repeats
            )
            history = {
                "episode_return": np.asarray(out.metrics.episode_return),
                "num_episodes": np.asarray(out.metrics.num_episodes),
            }
        else:
            train = make_minimal_train(config, env, env_params)
            out, compile_s, run_s = timed(train, keys, hparams, repeats)
            history = {name: np.asarray(values) for name, values in out.items()}
        returns = history["episode_return"]
        reach = steps_to_success(returns, config.batch_size, threshold)
        final = ppo.final_scores(history, config.num_final_updates)["episode_return"]
        results.append({
            "task": task, "impl": name, "seeds": seeds,
            "steps_per_seed": config.num_updates * config.batch_size,
            "compile_s": compile_s, "run_s": run_s,
            "steps_per_s": seeds * config.num_updates * config.batch_size / run_s,
            "steps_to_success": reach.tolist(),
            "final_return": final.tolist(),
            "final_return_mean": float(np.nanmean(final)),
            "final_return_std": float(np.nanstd(final)),
        })  # fmt: skip
        print(f"  {task} {name}: run {run_s:.1f} s, compile {compile_s:.1f} s",
              flush=True)  # fmt: skip
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks", nargs="+", default=None, help=f"default {list(DEFAULT_STEPS)}"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help=f"env steps per seed ({DEFAULT_STEPS})"
    )
    parser.add_argument("--seeds", type=int, default=None, help="default 8")
    parser.add_argument("--repeats", type=int, default=1, help="runs timed, best kept")
    parser.add_argument("--success-return", type=float, default=0.9)
    parser.add_argument(
        "--quick", action="store_true", help=f"smoke run: {QUICK} unless given"
    )
    parser.add_argument("--out", default=None, help="JSON path (never overwritten)")
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else {"tasks": list(DEFAULT_STEPS), "seeds": 8}
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for task in args.tasks:
        if task not in jaxrl.registry.ids():
            parser.error(f"unknown task {task!r}; choose from {jaxrl.registry.ids()}")
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")

    results = []
    for task in args.tasks:
        steps = args.steps or DEFAULT_STEPS.get(task, 500_000)
        results += run_task(task, steps, args.seeds, args.success_return, args.repeats)

    rows = []
    for r in results:
        reach = np.asarray(r["steps_to_success"], float)
        solved = int(np.isfinite(reach).sum())
        median = f"{np.nanmedian(reach) / 1e3:.0f}k" if solved else "-"
        minimal = next(
            m for m in results if m["task"] == r["task"] and m["impl"] == "minimal"
        )
        rows.append([
            r["task"], r["impl"], f"{r['compile_s']:.1f}", f"{r['run_s']:.1f}",
            rate(r["steps_per_s"]), f"{minimal['run_s'] / r['run_s']:.2f}x",
            f"{median} ({solved}/{r['seeds']})",
            f"{r['final_return_mean']:.3f} ± {r['final_return_std']:.3f}",
        ])  # fmt: skip
    backend = f"{jax.default_backend()}, jax {jax.__version__}"
    print_table(
        f"PPO, {args.seeds} seeds vmapped ({backend})",
        ["task", "impl", "compile s", "run s", "env steps/s", "speed vs minimal",
         f"steps to return {args.success_return}", "final return"],
        rows,
    )  # fmt: skip
    path = save_results("ppo_gridworld", {"args": vars(args), "results": results},
                        args.out)  # fmt: skip
    print(f"saved {path}")


if __name__ == "__main__":
    main()
