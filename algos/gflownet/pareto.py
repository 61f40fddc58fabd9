"""Pareto metrics of a learned terminating distribution, for rewards with
several objectives (maximised), as the Order-Preserving GFlowNets paper
reports them (Chen & Mauch, 2024, arXiv 2310.00386).

- ``mass``: the exact probability the forward policy puts on the objects of
  the true Pareto front (the enumerated objects no other object dominates).
- ``hypervolume`` (2 objectives; exact): the area dominated by a sample of
  objects drawn from the exact terminating distribution and bounded below by
  the reward's reference point.
- ``igd``: inverted generational distance, the mean over the true front's
  points of the Euclidean distance to the nearest sampled object.
- ``igd_plus``: IGD+ (the OP-GFN code's default), the same with only the
  objectives where the sampled object falls short of the front point
  counted: ``sqrt(sum_k max(z_k - y_k, 0)^2)`` for front point ``z``.

Everything runs on device, inside the compiled program.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.algos.gflownet.losses import non_dominated
from jaxrl.algos.gflownet.policies import MASKED_LOGIT


class ParetoMetrics(NamedTuple):
    """Pareto metrics of one evaluation."""

    mass: jax.Array  # () exact probability on the true Pareto front
    igd: jax.Array  # () IGD of the sample against the true front
    igd_plus: jax.Array  # () IGD+ of the sample against the true front
    hypervolume: jax.Array | None  # () of the sample; None unless K = 2


def hypervolume_2d(points: jax.Array, is_valid: jax.Array, reference: jax.Array):
    """Exact area dominated by 2-objective ``points`` above ``reference``.

    The union of the boxes ``[r_0, y_0] x [r_1, y_1]``: sorted by the first
    objective (largest first), each strip between consecutive first
    objectives is as tall as the largest second objective so far. Points
    not above the reference in an objective add nothing.

    Args:
        points: ``(N, 2)``.
        is_valid: ``(N,)`` bool; invalid points add nothing.
        reference: ``(2,)``.

    Returns:
        () the hypervolume.
    """
    clipped = jnp.maximum(points, reference)
    clipped = jnp.where(is_valid[:, None], clipped, reference)
    order = jnp.argsort(-clipped[:, 0], stable=True)
    first, second = clipped[order, 0], clipped[order, 1]
    tallest = jax.lax.cummax(second)
    next_first = jnp.concatenate([first[1:], reference[:1]])
    return jnp.sum((first - next_first) * (tallest - reference[1]))


def igd(
    front: jax.Array, is_front: jax.Array, points: jax.Array, plus: bool = False
) -> jax.Array:
    """Inverted generational distance: the mean over the ``is_front`` rows of
    ``front (F, K)`` of the Euclidean distance to the nearest of ``points
    (S, K)``; ``plus``: IGD+ (only shortfalls below the front point count,
    objectives maximised)."""
    gap = front[:, None, :] - points[None, :, :]
    if plus:
        gap = jnp.maximum(gap, 0.0)
    nearest = jnp.min(jnp.sqrt(jnp.sum(jnp.square(gap), axis=-1)), axis=1)
    count = jnp.maximum(jnp.sum(is_front), 1)
    return jnp.sum(jnp.where(is_front, nearest, 0.0)) / count


def pareto_metrics(
    objectives: jax.Array,
    is_object: jax.Array,
    log_p: jax.Array,
    key: jax.Array,
    num_samples: int,
    reference_point: float,
) -> ParetoMetrics:
    """:class:`ParetoMetrics` of a terminating distribution.

    Args:
        objectives: ``(N, K)`` every enumerated state's objectives.
        is_object: ``(N,)`` bool: the state can be an object (may exit; a
            state that is never reached has no exit, hence is no object).
        log_p: ``(N,)`` the exact terminating log-probabilities.
        key: draws the sample for hypervolume and IGD.
        num_samples: objects drawn (static).
        reference_point: the hypervolume's reference, in every objective.
    """
    is_front = non_dominated(objectives, is_object)
    mass = jnp.sum(jnp.where(is_front, jnp.exp(log_p), 0.0))
    logits = jnp.where(is_object, log_p, MASKED_LOGIT)
    drawn = jax.random.categorical(key, logits, shape=(num_samples,))
    sample = objectives[drawn]
    hypervolume = None
    if objectives.shape[-1] == 2:
        reference = jnp.full((2,), reference_point, objectives.dtype)
        hypervolume = hypervolume_2d(sample, jnp.ones((num_samples,), bool), reference)
    return ParetoMetrics(
        mass,
        igd(objectives, is_front, sample),
        igd(objectives, is_front, sample, plus=True),
        hypervolume,
    )
