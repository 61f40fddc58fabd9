"""Preference-conditioned GFlowNets on a reward with several objectives.

The PC-GFN baseline of the Order-Preserving GFlowNets paper (Chen & Mauch,
2024, arXiv 2310.00386, after Jain et al., 2023, multi-objective GFlowNets):
each trajectory draws preference weights ``w ~ Dirichlet(alpha)`` over the
``K`` objectives, and trains on the scalar reward ``R_w(x) = (w . r(x))^beta``
with a policy and a log Z that see ``w`` (and ``beta``). The condition
appended to each observation is ``[w_1 .. w_K, beta]``.

The objectives of this library's multi-objective rewards are non-negative,
so ``w . r(x) >= 0``; where it is 0 (or negative, for a user's reward) it is
raised to ``SCALAR_FLOOR`` so that log R stays finite.

The exact terminating distribution of such a policy depends on ``w``: the
evaluation uses the mixture ``p(x) = (1/M) sum_m p(x | w_m)`` over a fixed
set of ``M`` preference vectors, a sample of ``Dirichlet(alpha)`` drawn with
the fixed key :data:`EVALUATION_SEED` (the same set at every evaluation, for
every run with the same ``alpha``, ``M`` and ``K``), each ``p(x | w_m)``
computed exactly by the DP over the DAG.
"""

import jax
import jax.numpy as jnp

from jaxrl.algos.gflownet.trajectories import Terms, map_states

PREFERENCES = ("none", "dirichlet")
# Objectives a preference-conditioned GFlowNet trains with: their reward
# enters through the trajectory's log R(x) only, and their log Z (or F(s0))
# is one per trajectory (not vargrad, whose batch log Z mixes preferences;
# not fm, which evaluates parents; not mdb or fldb, which need every state
# to exit; not the order-preserving ones, which need no scalar reward).
PREFERENCE_LOSSES = ("tb", "db", "subtb")
SCALAR_FLOOR = 1e-6  # w . r(x) is raised to this before its logarithm
EVALUATION_SEED = 0  # the key of the fixed evaluation preference vectors


def draw_preferences(key: jax.Array, alpha, num: int, num_objectives: int):
    """``(num, K)`` float32 preference weights, each row ``Dirichlet(alpha)``
    (the same ``alpha`` in every objective): non-negative, summing to 1."""
    concentration = jnp.full((num_objectives,), alpha, jnp.float32)
    return jax.random.dirichlet(key, concentration, (num,)).astype(jnp.float32)


def evaluation_preferences(alpha: float, num: int, num_objectives: int):
    """``(num, K)`` the fixed preference vectors of every evaluation."""
    key = jax.random.key(EVALUATION_SEED)
    return draw_preferences(key, alpha, num, num_objectives)


def scalarised_log_reward(objectives, weights, beta) -> jax.Array:
    """``beta * log max(w . r, SCALAR_FLOOR)``: log of ``(w . r)^beta``.

    Args:
        objectives: ``(..., K)`` the objectives ``r(x)``.
        weights: ``(..., K)`` preference weights, broadcast against them.
        beta: the reward exponent, broadcast against ``(...)``.

    Returns:
        ``(...)`` float32 log-rewards.
    """
    scalar = jnp.sum(objectives * weights, axis=-1)
    return beta * jnp.log(jnp.maximum(scalar, SCALAR_FLOOR))


def append_condition(obs: jax.Array, condition: jax.Array) -> jax.Array:
    """``obs (..., D)`` with ``condition (..., C)`` appended, ``(..., D + C)``;
    ``condition`` broadcasts over the leading axes of ``obs`` (one row per
    trajectory ``(B, C)`` against states ``(T+1, B, D)``; one ``(C,)`` row
    against every state)."""
    condition = jnp.asarray(condition, obs.dtype)
    column = jnp.broadcast_to(condition, (*obs.shape[:-1], condition.shape[-1]))
    return jnp.concatenate([obs, column], axis=-1)


def preference_condition(weights: jax.Array, beta: jax.Array) -> jax.Array:
    """``(..., K + 1)``: ``[w, beta]``, the condition the networks see."""
    beta = jnp.broadcast_to(jnp.asarray(beta, weights.dtype), weights.shape[:-1])
    return jnp.concatenate([weights, beta[..., None]], axis=-1)


def scalarise_terms(terms: Terms, reward, states, weights, beta) -> Terms:
    """``terms`` with each trajectory's log R(x) (and every state's) replaced
    by :func:`scalarised_log_reward` under that trajectory's preference.

    Args:
        terms: built from ``reward`` with no ``reward_scale``.
        reward: has ``objectives(state) -> (K,)``.
        states: the batch's states, leaves ``(T+1, B, ...)``.
        weights: ``(B, K)`` each trajectory's preference.
        beta: ``(B,)`` each trajectory's reward exponent.
    """
    objectives = map_states(reward.objectives, states, 2)  # (T+1, B, K)
    state_log_reward = scalarised_log_reward(objectives, weights, beta)
    return terms._replace(
        state_log_reward=state_log_reward, log_reward=state_log_reward[-1]
    )


def mixture_log_probs(log_p: jax.Array) -> jax.Array:
    """``(N,)`` log of the mean over ``M`` distributions ``log_p (M, N)``."""
    return jax.nn.logsumexp(log_p, axis=0) - jnp.log(jnp.float32(log_p.shape[0]))
