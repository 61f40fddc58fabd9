"""gfnx's side of benchmarks/compare_gfn.py (run in gfnx's own environment).

Trajectory balance on gfnx's ``HypergridEnvironment`` with its
``GeneralHypergridRewardModule`` and its ``forward_rollout`` (fixed-length
padded rollouts); the loss re-applies the network to the padded batch of
observations, as gfnx's own TB baseline does. Network: a flax MLP trunk of 2
hidden layers with a forward head (D+1 logits) and a backward head (D
logits); Adam on the network and on log Z. The whole run is one jitted
``lax.scan``: compile time is the ahead-of-time compilation, and the run
is timed ``--repeats`` times from the same parameters and key (the fastest
kept).

Prints one JSON line (timings) and saves the forward policy's logits at every
cell, in row-major cell order, to ``--out`` (``.npy``, ``(H**D, D+1)``).
"""

import argparse
import itertools
import json
import time

import flax.linen as nn
import gfnx
import jax
import jax.numpy as jnp
import numpy as np
import optax


class MLP(nn.Module):
    hidden: int
    num_forward: int
    num_backward: int

    @nn.compact
    def __call__(self, obs):
        h = nn.relu(nn.Dense(self.hidden)(obs))
        h = nn.relu(nn.Dense(self.hidden)(h))
        return nn.Dense(self.num_forward)(h), nn.Dense(self.num_backward)(h)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name, kind in (("ndim", int), ("height", int), ("batch", int),
                       ("iterations", int), ("seed", int), ("hidden", int),
                       ("r0", float), ("r1", float), ("r2", float),
                       ("lr", float), ("lr_log_z", float)):  # fmt: skip
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeats", type=int, default=1,
                        help="timed calls of the compiled run (fastest kept)")
    args = parser.parse_args()
    reward = gfnx.GeneralHypergridRewardModule(R0=args.r0, R1=args.r1, R2=args.r2)
    env = gfnx.HypergridEnvironment(reward, dim=args.ndim, side=args.height)
    key = jax.random.PRNGKey(args.seed)
    key, k_env, k_net = jax.random.split(key, 3)
    env_params = env.init(k_env)
    net = MLP(args.hidden, env.action_space.n, env.backward_action_space.n)
    params = {
        "net": net.init(k_net, jnp.zeros((1, args.ndim * args.height))),
        "log_z": jnp.float32(0.0),
    }
    optimizer = optax.multi_transform(
        {"net": optax.adam(args.lr), "log_z": optax.adam(args.lr_log_z)},
        {"net": jax.tree.map(lambda _: "net", params["net"]), "log_z": "log_z"},
    )

    def policy_fn(_key, obs, net_params):
        return net.apply(net_params, obs)[0], {}

    def flat(tree):
        return jax.tree.map(lambda x: x.reshape((-1, *x.shape[2:])), tree)

    def loss_fn(params, traj):
        batch, length = traj.action.shape
        fwd, bwd = net.apply(params["net"], traj.obs)
        states = flat(traj.state)
        valid_f = ~env.get_invalid_mask(states, env_params).reshape(fwd.shape)
        valid_b = ~env.get_invalid_backward_mask(states, env_params).reshape(bwd.shape)
        log_pf_all = jax.nn.log_softmax(fwd, where=valid_f, axis=-1)
        log_pb_all = jax.nn.log_softmax(bwd, where=valid_b, axis=-1)
        action = traj.action
        log_pf = jnp.take_along_axis(log_pf_all, action[..., None], -1)[..., 0]
        prev = jax.tree.map(lambda x: x[:, :-1], traj.state)
        nxt = jax.tree.map(lambda x: x[:, 1:], traj.state)
        b_action = env.get_backward_action(prev, action[:, :-1], nxt, env_params)
        log_pb = jnp.take_along_axis(log_pb_all[:, 1:], b_action[..., None], -1)[..., 0]
        real = ~traj.pad
        sum_pf = jnp.sum(jnp.where(real, log_pf, 0.0), axis=1)
        sum_pb = jnp.sum(jnp.where(real[:, :-1], log_pb, 0.0), axis=1)
        log_r = jnp.sum(jnp.where(real, traj.log_gfn_reward, 0.0), axis=1)
        return jnp.mean((params["log_z"] + sum_pf - sum_pb - log_r) ** 2)

    def iteration(carry, key):
        params, opt_state = carry
        traj, _ = gfnx.utils.forward_rollout(
            key, args.batch, policy_fn, params["net"], env, env_params
        )
        grads = jax.grad(loss_fn)(params, traj)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    def train(params, key):
        keys = jax.random.split(key, args.iterations)
        carry, _ = jax.lax.scan(iteration, (params, optimizer.init(params)), keys)
        return carry[0]

    start = time.perf_counter()
    compiled = jax.jit(train).lower(params, key).compile()
    compile_s = time.perf_counter() - start
    initial, run_s = params, float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        params = jax.block_until_ready(compiled(initial, key))
        run_s = min(run_s, time.perf_counter() - start)
    cells = jnp.array(list(itertools.product(range(args.height), repeat=args.ndim)))
    obs = jax.nn.one_hot(cells, args.height).reshape(len(cells), -1)
    logits = net.apply(params["net"], obs)[0]
    np.save(args.out, np.asarray(logits, np.float32))
    print(json.dumps({
        "compile_s": compile_s,
        "ms_per_iteration": 1e3 * run_s / args.iterations,
        "log_z": float(params["log_z"]),
        "jax": jax.__version__,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
