"""Sampling padded trajectories, and the per-step terms the objectives use.

A batch holds ``B`` trajectories of ``T = env.max_length`` steps each (the
exit step included), time-major: states ``(T+1, B, ...)``, actions
``(T, B)``. A trajectory that exits early keeps stepping its terminal state
(a no-op); ``is_valid`` marks the steps it really took. The objectives may
evaluate the network on the visited states only (:func:`compacted_apply`).
"""

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.custom_batching import custom_vmap

from jaxrl import threefry
from jaxrl.algos.gflownet.policies import (
    PolicyOutputs,
    behaviour_probs,
    draw_actions,
    masked_log_softmax,
)


class Trajectories(NamedTuple):
    """A batch of padded trajectories, time-major."""

    states: Any  # leaves (T+1, B, ...): s_0 .. s_T
    actions: jax.Array  # (T, B) int32, forward action taken at s_t
    is_valid: jax.Array  # (T, B) bool: step t was taken (s_t not terminal)


def map_states(fn: Callable, states: Any, num_axes: int) -> Any:
    """Apply a one-state ``fn`` over the ``num_axes`` leading axes."""
    for _ in range(num_axes):
        fn = jax.vmap(fn)
    return fn(states)


def sample_trajectories(
    env,
    forward_logits: Callable[[jax.Array], jax.Array],
    key: jax.Array,
    batch_size: int,
    epsilon: jax.Array,
    temperature: jax.Array,
) -> Trajectories:
    """Sample ``batch_size`` trajectories from s0 with the behaviour policy.

    Args:
        env: a :class:`~jaxrl.envs.gfn.base.GFNEnvironment`.
        forward_logits: ``(B, obs) -> (B, A)`` logits of P_F.
        key: PRNG key.
        batch_size: trajectories (static).
        epsilon: share of uniformly random valid actions.
        temperature: divides P_F's logits.

    Returns:
        :class:`Trajectories`; every trajectory has exited by step ``T``.
    """
    traj, _ = _sample(env, lambda obs: (forward_logits(obs), ()), key, batch_size,
                      epsilon, temperature, keep_last=False)  # fmt: skip
    return traj


def sample_keeping(
    env,
    policy: Callable[[jax.Array], tuple[jax.Array, Any]],
    key: jax.Array,
    batch_size: int,
    epsilon: jax.Array,
    temperature: jax.Array,
) -> tuple[Trajectories, Any]:
    """:func:`sample_trajectories`, keeping what the policy computed at
    every state (the last ones included) for the loss to reuse.

    Args:
        policy: ``(B, obs) -> (forward logits (B, A), kept)``, ``kept`` a
            pytree of ``(B, ...)`` arrays.
        (the rest as :func:`sample_trajectories`)

    Returns:
        ``(trajectories, kept)``, ``kept``'s leaves ``(T+1, B, ...)``: at
        ``s_0 .. s_T``. The trajectories are those
        :func:`sample_trajectories` draws from the same key and logits.
    """
    return _sample(env, policy, key, batch_size, epsilon, temperature, keep_last=True)


def _sample(env, policy, key, batch_size, epsilon, temperature, keep_last):
    """The sampling loop: ``T`` steps, or ``T + 1`` with ``keep_last`` (the
    policy also runs at ``s_T``, so that what it keeps comes out of the loop
    with every row, not concatenated after it; that step's action is
    dropped)."""
    s0 = env.initial_state()
    states = jax.tree.map(lambda x: jnp.broadcast_to(x, (batch_size, *x.shape)), s0)
    num_steps = env.max_length
    # The whole batch's randomness in one draw, a uniform per step and
    # trajectory (inverse-CDF sampling): on CPU each random draw is a loop of
    # its own, and one per step cost more than the step's network
    # (threefry's draw is jax.random.uniform's, without the loop).
    uniform = threefry.uniform(key, num_steps * batch_size).reshape(
        num_steps, batch_size
    )
    if keep_last:  # the same draws as without (the last step's are unused)
        uniform = jnp.concatenate([uniform, jnp.zeros_like(uniform[:1])])

    def one_step(states, uniform):
        logits, kept = policy(map_states(env.observe, states, 1))
        mask = map_states(env.forward_mask, states, 1)
        probs = behaviour_probs(logits, mask, epsilon, temperature)
        actions = draw_actions(probs, uniform)
        return jax.vmap(env.step)(states, actions), (states, actions, kept)

    last, (visited, actions, kept) = jax.lax.scan(one_step, states, uniform)
    if keep_last:  # s_0 .. s_T came out of the loop
        states, actions = visited, actions[:num_steps]
    else:
        states = jax.tree.map(lambda v, x: jnp.concatenate([v, x[None]]), visited, last)
    before = jax.tree.map(lambda x: x[:num_steps], states)
    is_valid = ~map_states(env.is_terminal, before, 2)
    return Trajectories(states, actions, is_valid), kept


class Terms(NamedTuple):
    """What the objectives need, per step or state of a batch, time-major.

    Log-probabilities come from the policy being trained (never from the
    behaviour policy); entries of steps not taken are 0.
    """

    log_z: jax.Array  # () learned log Z, or (B,) one per trajectory
    log_pf: jax.Array  # (T, B) log P_F(s_{t+1} | s_t)
    log_pb: jax.Array  # (T, B) log P_B(s_t | s_{t+1}); 0 on the exit step
    log_pf_exit: jax.Array  # (T+1, B) log P_F(exit | s_t)
    log_flow: jax.Array  # (T+1, B) the flow head's output (0 without one)
    state_log_reward: jax.Array  # (T+1, B) log R of each state's object
    log_reward: jax.Array  # (B,) log R(x) of the trajectory's object
    is_valid: jax.Array  # (T, B) bool
    is_exit: jax.Array  # (T, B) bool: the step taken is the exit
    log_edge: jax.Array | None  # (T+1, B, A) log edge flows out (FM only)
    is_edge: jax.Array | None  # (T+1, B, A) bool: that edge exists
    log_edge_in: jax.Array | None  # (T+1, B, A) from each parent (FM only)
    is_parent: jax.Array | None  # (T+1, B, A) bool: that parent exists
    # (B, K) the objects' objective values, for a reward with several
    # objectives (``reward.objectives``); None for a scalar reward
    objectives: jax.Array | None = None
    # (T+1, B) KL(uniform over the valid backward actions || P_B(. | s_t))
    backward_kl: jax.Array | None = None


def trajectory_terms(
    env,
    reward,
    traj: Trajectories,
    apply: Callable[[Any], PolicyOutputs],
    log_z: jax.Array,
    use_parent_flows: bool = False,
    reward_scale: jax.Array | None = None,
) -> Terms:
    """Evaluate the policy along a batch of trajectories.

    Args:
        env: the environment the trajectories come from.
        reward: its reward (``log_reward(state)``).
        traj: the batch.
        apply: ``states (leaves (..., ...)) -> PolicyOutputs`` with the
            states' leading shape (a network, or a table in tests).
        log_z: () learned log Z, or ``(B,)`` one per trajectory (a
            conditional GFlowNet's log Z of each trajectory's condition).
        use_parent_flows: also evaluate the forward logits of every parent of
            every state (flow matching's incoming edge flows).
        reward_scale: ``(B,)`` exponent of each trajectory's reward (log R is
            multiplied by it), or None.

    Returns:
        :class:`Terms`.
    """
    states, actions, is_valid = traj
    out = apply(states)
    fmask = map_states(env.forward_mask, states, 2)
    bmask = map_states(env.backward_mask, states, 2)
    log_pf_all = masked_log_softmax(out.forward_logits, fmask)
    backward = out.backward_logits
    backward = jnp.zeros_like(out.forward_logits) if backward is None else backward
    log_pb_all = masked_log_softmax(backward, bmask)
    num_parents = jnp.maximum(jnp.sum(bmask, axis=-1, keepdims=True), 1)
    log_uniform = -jnp.log(num_parents.astype(log_pb_all.dtype))
    backward_kl = jnp.sum(
        jnp.where(bmask, jnp.exp(log_uniform) * (log_uniform - log_pb_all), 0.0), -1
    )

    def taken(log_probs, actions):
        return jnp.take_along_axis(log_probs, actions[..., None], axis=-1)[..., 0]

    log_pf = jnp.where(is_valid, taken(log_pf_all[:-1], actions), 0.0)
    # P_B(s_t | s_{t+1}) picks backward action a_t at s_{t+1}; on the exit step
    # s_{t+1} is terminal and a_t its only backward action, so it is 0.
    log_pb = jnp.where(is_valid, taken(log_pb_all[1:], actions), 0.0)
    state_log_reward = map_states(reward.log_reward, states, 2)
    if reward_scale is not None:
        state_log_reward = state_log_reward * reward_scale[None, :]
    log_flow = out.log_flow
    log_flow = jnp.zeros_like(state_log_reward) if log_flow is None else log_flow
    log_edge = is_edge = log_edge_in = is_parent = None
    if use_parent_flows:
        log_edge, is_edge = jnp.where(fmask, out.forward_logits, 0.0), fmask
        log_edge_in, is_parent = _incoming_edges(env, states, bmask, apply)
    objectives = None
    if hasattr(reward, "objectives"):
        last = jax.tree.map(lambda x: x[-1], states)
        objectives = map_states(reward.objectives, last, 1)
    return Terms(
        log_z=log_z,
        log_pf=log_pf,
        log_pb=log_pb,
        log_pf_exit=log_pf_all[..., env.exit_action],
        log_flow=log_flow,
        state_log_reward=state_log_reward,
        log_reward=state_log_reward[-1],
        is_valid=is_valid,
        is_exit=is_valid & (actions == env.exit_action),
        log_edge=log_edge,
        is_edge=is_edge,
        log_edge_in=log_edge_in,
        is_parent=is_parent,
        objectives=objectives,
        backward_kl=backward_kl,
    )


def _incoming_edges(env, states, bmask, apply):
    """``(T+1, B, A)`` forward logits of the edge from each parent (parent
    ``a`` is ``backward_step(s, a)``, its edge is forward action ``a``)."""
    num_actions = env.num_actions
    index = jnp.arange(num_actions, dtype=jnp.int32)

    def parents(state):
        return jax.vmap(env.backward_step, in_axes=(None, 0))(state, index)

    parent_states = map_states(parents, states, 2)  # leaves (T+1, B, A, ...)
    logits = apply(parent_states).forward_logits  # (T+1, B, A, A)
    edge = jnp.diagonal(logits, axis1=-2, axis2=-1)  # parent a's logit of action a
    is_parent = bmask & (index != env.exit_action)
    return jnp.where(is_parent, edge, 0.0), is_parent


def visited_states(traj: Trajectories) -> jax.Array:
    """``(T+1, B)`` bool: s_t was reached (s_0, and every state after a step
    taken, the terminal one included); the rest repeat a terminal state."""
    first = jnp.ones_like(traj.is_valid[:1])
    return jnp.concatenate([first, traj.is_valid])


class Compaction(NamedTuple):
    """Where the needed rows of a batch go when it is compacted
    (:func:`compaction`)."""

    order: jax.Array  # (N,) int32: the needed rows first, in their order
    rank: jax.Array  # (N,) int32: each row's position in ``order``
    needed: jax.Array  # (N,) bool
    index: jax.Array  # () int32: the shortest prefix length that holds them


# Compacted prefixes longer than N / PREFIX_STEPS grow by that many rows.
PREFIX_STEPS = 8


def prefix_lengths(n: int, chunk: int) -> tuple[int, ...]:
    """The static prefix lengths a compaction of ``n`` rows picks from:
    ``chunk * 2**k`` below the step ``max(chunk, ceil(n / PREFIX_STEPS))``,
    then multiples of that step, capped at ``n``. A prefix thus runs fewer
    than twice the needed rows, or at most one step more."""
    step = max(chunk, -(-n // PREFIX_STEPS))
    short = [chunk * 2**k for k in range((step // chunk).bit_length())]
    return tuple(sorted({min(x, n) for x in short if x < step}
                        | {min(step * j, n) for j in range(1, -(-n // step) + 1)}))


def compaction(needed: jax.Array, chunk: int) -> tuple[Compaction, tuple[int, ...]]:
    """Plan to run a network on the ``needed`` rows of ``N`` only.

    The needed rows move to the front (stable order); ``index`` picks the
    shortest of the static :func:`prefix_lengths` that holds every needed
    row.

    Returns:
        ``(plan, lengths)``: the :class:`Compaction` and the sorted static
        prefix lengths ``index`` picks from.
    """
    n = needed.shape[0]
    lengths = prefix_lengths(n, chunk)
    # a stable partition by counting (a sort of n rows costs several times more)
    before = jnp.cumsum(needed, dtype=jnp.int32)
    count = before[-1]
    after = count + jnp.cumsum(~needed, dtype=jnp.int32)
    rank = jnp.where(needed, before, after) - 1
    order = jnp.zeros_like(rank).at[rank].set(jnp.arange(n, dtype=jnp.int32),
                                              unique_indices=True)  # fmt: skip
    index = jnp.sum(count > jnp.asarray(lengths[:-1], jnp.int32), dtype=jnp.int32)
    return Compaction(order, rank, needed, index), lengths


def prefix_apply(apply_obs: Callable, obs: jax.Array, plan: Compaction, length: int):
    """``apply_obs`` on the first ``length`` (static) rows of ``obs`` in
    ``plan.order``, put back in place: the network's output on needed rows,
    zeros elsewhere. ``length`` must hold every needed row (the prefix
    ``plan.index`` picks, or longer)."""
    out = apply_obs(obs[plan.order[:length]])
    row = jnp.minimum(plan.rank, length - 1)
    n = obs.shape[0]

    def put_back(x):
        is_kept = plan.needed.reshape(n, *(1,) * (x.ndim - 1))
        return jnp.where(is_kept, x[row], 0)

    return jax.tree.map(put_back, out)


def reused_apply(gradient: Callable, net_params, outputs, kept, plan: Compaction,
                 length: int):  # fmt: skip
    """Network outputs the sampling pass kept, as :func:`prefix_apply` would
    give them (the needed rows of ``plan``, zeros elsewhere), differentiable
    in ``net_params`` without a second forward pass.

    The outputs must be those of ``net_params`` (on-policy: the parameters
    that sampled them). The backward pass runs ``gradient(net_params,
    kept_rows, cotangent_rows) -> grads`` on the first ``length`` (static)
    rows of ``plan.order``, with the cotangents of rows not needed zeroed.

    Args:
        gradient: the network's backward pass from its kept activations.
        net_params: the network's parameters.
        outputs: pytree of ``(N, ...)`` network outputs.
        kept: pytree of ``(N, ...)`` what ``gradient`` needs of each row.
        plan: the :func:`compaction` of the ``N`` rows.
        length: a prefix length that holds every needed row.

    Returns:
        ``outputs`` with the rows not needed zeroed.
    """
    def zero_unneeded(needed, x):
        return jnp.where(needed.reshape(needed.shape[0], *(1,) * (x.ndim - 1)), x, 0)

    # plan travels as an argument: custom_vjp rules may not close over tracers
    @jax.custom_vjp
    def run(net_params, outputs, kept, plan):
        del net_params, kept
        return jax.tree.map(functools.partial(zero_unneeded, plan.needed), outputs)

    def run_fwd(net_params, outputs, kept, plan):
        return run(net_params, outputs, kept, plan), (net_params, kept, plan)

    def run_bwd(residuals, cotangent):
        net_params, kept, plan = residuals
        cotangent = jax.tree.map(functools.partial(zero_unneeded, plan.needed),
                                 cotangent)  # fmt: skip
        if length == plan.order.shape[0]:  # every row: no gather
            return gradient(net_params, kept, cotangent), None, None, None
        rows = plan.order[:length]
        cotangent = jax.tree.map(lambda c: c[rows], cotangent)
        kept_rows = jax.tree.map(lambda x: x[rows], kept)
        return gradient(net_params, kept_rows, cotangent), None, None, None

    run.defvjp(run_fwd, run_bwd)
    return run(net_params, outputs, kept, plan)


def compacted_switch(plan: Compaction, lengths: tuple[int, ...], branch: Callable,
                     *operands):  # fmt: skip
    """``branch(length, *operands)`` for the prefix length ``plan`` picks,
    one ``lax.switch`` branch per length in ``lengths``.

    Under ``vmap`` the length is the one that holds every batch member's
    needed rows (:func:`_max_over_batch`), so the switch stays a branch (a
    batched index would run every branch). A whole gradient computation
    belongs inside ``branch``: differentiating through the switch would
    make every branch return the residuals of all the others (zeros).
    """
    branches = [functools.partial(branch, length) for length in lengths]
    return jax.lax.switch(_max_over_batch(plan.index), branches, *operands)


def compacted_apply(apply_obs: Callable, obs: jax.Array, needed: jax.Array, chunk: int):
    """``apply_obs`` on the ``needed`` rows of ``obs`` only
    (:func:`compaction`, :func:`prefix_apply`, :func:`compacted_switch`).

    Args:
        apply_obs: ``(C, obs) -> pytree of (C, ...)`` arrays.
        obs: ``(N, obs)``.
        needed: ``(N,)`` bool.
        chunk: the shortest prefix, in rows (static).

    Returns:
        ``apply_obs``'s pytree with leading ``(N,)``: the network's output on
        needed rows, zeros elsewhere.
    """
    plan, lengths = compaction(needed, chunk)

    def branch(length, obs):
        return prefix_apply(apply_obs, obs, plan, length)

    return compacted_switch(plan, lengths, branch, obs)


@custom_vmap
def _max_over_batch(x: jax.Array) -> jax.Array:
    """``x`` itself; under ``vmap``, its maximum over the batch, unbatched.

    WARN: this is the one place where members of a ``vmap`` batch see each
    other: a ``lax.switch`` on the result stays a branch (taken by all)."""
    return x


@_max_over_batch.def_vmap
def _max_over_batch_vmap(axis_size, in_batched, x):
    del axis_size
    return (jnp.max(x, axis=0) if in_batched[0] else x), False
