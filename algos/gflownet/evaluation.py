"""Exact evaluation of a forward policy on an enumerable environment.

The terminating distribution of P_F is ``p(x) = P(reach x) * P_F(exit | x)``
where ``P(reach s') = sum_{parents s} P(reach s) P_F(s' | s)``. It is computed
in log space, level by level (``lax.scan`` over levels, every state of a
level at once, ``logsumexp`` over incoming edges), so nothing underflows
however small a probability gets.

Environments too large to enumerate are evaluated on their modes instead,
when the DAG is a tree (``env.is_tree``: one parent a state) and the reward
lists its modes (``mode_distances``, ``mode_threshold``, ``test_objects``):
each object then has one path from s0, so ``log p(x)`` is exactly the sum of
log P_F along it (:func:`tree_log_probs`); :func:`mark_found_modes` keeps
the set of modes a sample has come within ``mode_threshold`` of.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.algos.gflownet.policies import (
    MASKED_LOGIT,
    masked_log_softmax,
    masked_logsumexp,
)
from jaxrl.algos.gflownet.trajectories import map_states


class Enumeration(NamedTuple):
    """Every non-terminal state of an enumerable environment, with the DAG."""

    states: object  # leaves (N, ...), in index order
    obs: jax.Array  # (N, obs) float32
    forward_mask: jax.Array  # (N, A) bool
    parents: jax.Array  # (N, A) int32: parent a's index (a = the edge's action)
    is_parent: jax.Array  # (N, A) bool
    level: jax.Array  # (N,) int32
    log_reward: jax.Array  # (N,) float32: log R of each state's object
    is_mode: jax.Array  # (N,) bool


class ExactMetrics(NamedTuple):
    """Distances between the learned and the target terminating distribution
    (natural logarithms)."""

    l1: jax.Array  # () sum_x |p(x) - p*(x)|
    l1_mean: jax.Array  # () mean over objects of |p(x) - p*(x)|
    kl: jax.Array  # () KL(p* || p)
    jsd: jax.Array  # () Jensen-Shannon divergence
    true_log_z: jax.Array  # () log sum_x R(x)
    spearman: jax.Array  # () rank correlation of log p(x) and log R(x)


def enumerate_states(env, reward) -> Enumeration:
    """List every state of ``env`` (traced; no host work, no constants)."""
    states = env.all_states()
    num_actions = env.num_actions
    actions = jnp.arange(num_actions, dtype=jnp.int32)

    def parents_of(state):
        parent = jax.vmap(env.backward_step, in_axes=(None, 0))(state, actions)
        return jax.vmap(env.state_index)(parent)

    is_mode = getattr(reward, "is_mode", None)
    is_mode = (
        map_states(is_mode, states, 1)
        if is_mode is not None
        else jnp.zeros((env.num_states,), bool)
    )
    is_parent = map_states(env.backward_mask, states, 1) & (actions != env.exit_action)
    return Enumeration(
        states=states,
        obs=map_states(env.observe, states, 1),
        forward_mask=map_states(env.forward_mask, states, 1),
        parents=jnp.where(is_parent, map_states(parents_of, states, 1), 0),
        is_parent=is_parent,
        level=map_states(env.level, states, 1),
        log_reward=map_states(reward.log_reward, states, 1),
        is_mode=is_mode,
    )


def terminating_log_probs(
    env, enum: Enumeration, forward_logits: jax.Array
) -> jax.Array:
    """``(N,)`` log p(x): the forward policy's exact terminating distribution.

    Args:
        env: the enumerable environment (``num_levels``, ``exit_action``).
        enum: its :func:`enumerate_states`.
        forward_logits: ``(N, A)`` P_F's logits at every state.

    Returns:
        ``(N,)`` log-probabilities of stopping at each state (about
        ``MASKED_LOGIT`` where exiting is not allowed).
    """
    log_pf = masked_log_softmax(forward_logits, enum.forward_mask)
    # incoming[s, a]: log P_F of the edge from parent a of s, by action a
    edge = log_pf[enum.parents, jnp.arange(env.num_actions)[None, :]]
    is_start = enum.level == 0
    log_reach = jnp.where(is_start, 0.0, MASKED_LOGIT)

    def one_level(log_reach, level):
        incoming = log_reach[enum.parents] + edge
        new = masked_logsumexp(incoming, enum.is_parent)
        return jnp.where(enum.level == level, new, log_reach), None

    levels = jnp.arange(1, env.num_levels, dtype=jnp.int32)
    log_reach, _ = jax.lax.scan(one_level, log_reach, levels)
    can_exit = enum.forward_mask[:, env.exit_action]
    return jnp.where(can_exit, log_reach + log_pf[:, env.exit_action], MASKED_LOGIT)


def exact_metrics(log_p: jax.Array, log_reward: jax.Array, is_object: jax.Array):
    """Compare a terminating distribution with ``R / Z``.

    Args:
        log_p: ``(N,)`` learned log p(x).
        log_reward: ``(N,)`` log R(x).
        is_object: ``(N,)`` bool: states that can be objects (may exit).

    Returns:
        :class:`ExactMetrics`.
    """
    true_log_z = masked_logsumexp(log_reward, is_object)
    log_target = jnp.where(is_object, log_reward - true_log_z, MASKED_LOGIT)
    log_p = jnp.where(is_object, log_p, MASKED_LOGIT)
    p, target = jnp.exp(log_p), jnp.exp(log_target)
    gap = jnp.where(is_object, jnp.abs(p - target), 0.0)
    log_mid = jnp.logaddexp(log_p, log_target) - jnp.log(2.0)

    def kl(weight, log_a, log_b):
        return jnp.sum(jnp.where(is_object, weight * (log_a - log_b), 0.0))

    return ExactMetrics(
        l1=jnp.sum(gap),
        l1_mean=jnp.sum(gap) / jnp.maximum(jnp.sum(is_object), 1),
        kl=kl(target, log_target, log_p),
        jsd=0.5 * kl(target, log_target, log_mid) + 0.5 * kl(p, log_p, log_mid),
        true_log_z=true_log_z,
        spearman=spearman(log_p, log_reward, is_object),
    )


def _average_ranks(values: jax.Array, keep: jax.Array) -> jax.Array:
    """``(N,)`` float32 1-based ranks of ``values`` among the kept entries,
    tied values sharing their mean rank (entries not kept rank above all)."""
    values = jnp.where(keep, values, jnp.inf)
    ordered = jnp.sort(values)
    below = jnp.searchsorted(ordered, values, side="left")
    through = jnp.searchsorted(ordered, values, side="right")
    return (below + through + 1).astype(jnp.float32) / 2.0


def spearman(a: jax.Array, b: jax.Array, keep: jax.Array) -> jax.Array:
    """() Spearman's rank correlation of ``a`` and ``b`` over the ``keep``
    entries (ties get mean ranks); 0 where either has no spread."""
    ranks_a, ranks_b = _average_ranks(a, keep), _average_ranks(b, keep)
    count = jnp.maximum(jnp.sum(keep), 1).astype(jnp.float32)

    def centred(ranks):
        return jnp.where(
            keep, ranks - jnp.sum(jnp.where(keep, ranks, 0.0)) / count, 0.0
        )

    da, db = centred(ranks_a), centred(ranks_b)
    spread = jnp.sqrt(jnp.sum(da * da) * jnp.sum(db * db))
    return jnp.where(
        spread > 0, jnp.sum(da * db) / jnp.where(spread > 0, spread, 1.0), 0.0
    )


def tree_log_probs(env, objects, forward_logits) -> jax.Array:
    """``(M,)`` exact log p(x) of objects of a tree-shaped DAG.

    Each object's unique path is walked back to s0 (the one valid backward
    action at each state), then log P_F of its ``max_length`` edges (at most)
    is summed: with one path per object, that sum is log p(x).

    Args:
        env: a :class:`~jaxrl.envs.gfn.base.GFNEnvironment` with ``is_tree``.
        objects: terminal states, leaves ``(M, ...)``.
        forward_logits: ``(..., obs) -> (..., A)`` P_F's logits.

    Returns:
        ``(M,)`` float32 log-probabilities of sampling each object.
    """

    def back(state, _):
        mask = env.backward_mask(state)
        action = jnp.argmax(mask).astype(jnp.int32)  # the only valid one
        is_edge = jnp.any(mask)  # false once at s0
        parent = env.backward_step(state, action)
        parent = jax.tree.map(lambda p, s: jnp.where(is_edge, p, s), parent, state)
        return parent, (parent, action, is_edge)

    def one(obj):
        _, path = jax.lax.scan(back, obj, length=env.max_length)
        return path

    parents, actions, is_edge = jax.vmap(one)(objects)  # leaves (M, T, ...)
    obs = map_states(env.observe, parents, 2)
    log_pf = masked_log_softmax(
        forward_logits(obs), map_states(env.forward_mask, parents, 2)
    )
    taken = jnp.take_along_axis(log_pf, actions[..., None], axis=-1)[..., 0]
    return jnp.sum(jnp.where(is_edge, taken, 0.0), axis=-1)


def mark_found_modes(is_found: jax.Array, distances: jax.Array, threshold) -> jax.Array:
    """``(K,)`` bool: ``is_found``, plus the modes some object of the batch
    is within ``threshold`` of (Hamming distance ``<=``).

    Args:
        is_found: ``(K,)`` bool, modes found so far.
        distances: ``(B, K)`` each sampled object's distance to each mode.
        threshold: the largest distance that finds a mode.
    """
    return is_found | jnp.any(distances <= threshold, axis=0)
