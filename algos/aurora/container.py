"""AURORA's unstructured container: members kept apart by a distance ``l``.

A :class:`Container` is a novelty archive (the same fixed arrays and validity
mask, so novelty search's nearest-neighbour search runs on it) that also
keeps each member's observation (re-encoded after every training of the
autoencoder) and the task's own hand-coded descriptor (for the coverage
metrics only). Its ``descriptors`` are latent codes.

Insertion (:func:`insert`), after QDax's ``UnstructuredRepertoire`` (PAPERS
section 8). "Within ``l``" means at a distance ``<= l`` (QDax's test):

1. A row whose descriptor or observation is not finite, whose task
   descriptor holds a NaN, or whose fitness is NaN (stored as ``-inf``) or
   ``-inf``, is never inserted and is counted (``num_rejected``), as in
   MAP-Elites and novelty search. A task descriptor outside the coverage box
   is kept (the coverage metrics clip it onto the box's edge cell).
2. A row whose *second*-nearest member is within ``l`` is dropped: it would
   sit in a cluster.
3. In-batch competition: of two rows left within ``l`` of each other, the
   fitter (ties: the lower batch index) knocks the other out. The rows that
   survive are more than ``l`` apart from each other.
4. A survivor whose nearest member is within ``l`` competes with it: it
   replaces it when strictly fitter. When several survivors share that
   nearest member, the fittest (ties: the lowest batch index) competes.
5. A survivor with no member within ``l`` fills an empty slot: the ``j``-th
   such row, in batch order, the ``j``-th empty slot. WARN: when no slot is
   left the row is dropped and counted (``num_overflow``). The size control
   of ``l`` steers the container toward its target size, but slowly (with
   QDax's gain ``l`` moves by about 1e-5 per member of error at each
   control), so a short run can fill every slot.

At most one write lands in a slot, so the result does not depend on the
order XLA applies a scatter. :func:`rebuild` re-inserts every member, with
new descriptors, into an empty container (AURORA's re-indexing after a
training); :func:`size_control` moves ``l`` and rebuilds with the new ``l``.
"""

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.algos.novelty_search.archive import (
    Inserted,
    NoveltyArchive,
    empty_archive,
    nearest_neighbours,
)


@struct.dataclass
class Container(NoveltyArchive):
    """A novelty archive with each member's observation and task descriptor
    (``descriptors`` are latent codes). Under ``vmap`` every array gains a
    leading run axis."""

    observations: jax.Array  # (C, O) float32; zeros in empty slots
    task_descriptors: jax.Array  # (C, K) float32; the task's own descriptor


def empty_container(
    capacity: int,
    genotype_dim: int,
    latent_size: int,
    observation_size: int,
    task_descriptor_dim: int,
) -> Container:
    """An empty container of ``capacity`` slots.

    Raises:
        ValueError: a size below 1.
    """
    base = empty_archive(capacity, genotype_dim, latent_size)
    for name, value in (
        ("observation_size", observation_size),
        ("task_descriptor_dim", task_descriptor_dim),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return Container(
        **{name: getattr(base, name) for name in base.__dataclass_fields__},
        observations=jnp.zeros((capacity, observation_size), jnp.float32),
        task_descriptors=jnp.zeros((capacity, task_descriptor_dim), jnp.float32),
    )


def _finite_rows(x: jax.Array) -> jax.Array:
    return jnp.all(jnp.isfinite(x), axis=-1)


def _pairwise(x: jax.Array) -> jax.Array:
    """``(B, B)`` Euclidean distances, summed coordinate by coordinate."""
    diff = x[:, None, :] - x[None, :, :]
    return jnp.sqrt(jnp.sum(diff * diff, axis=-1))


def _survivors(descriptors, fitness, contender, threshold) -> jax.Array:
    """Rule 3: contenders that no other contender within ``l`` beats."""
    batch = fitness.shape[0]
    index = jnp.arange(batch)
    other, mine = fitness[None, :], fitness[:, None]
    # [i, j]: row j beats row i
    beats = (other > mine) | ((other == mine) & (index[None, :] < index[:, None]))
    rivals = (_pairwise(descriptors) <= threshold) & contender[None, :]
    rivals &= index[None, :] != index[:, None]
    return contender & ~jnp.any(rivals & beats, axis=1)


def insert(
    container: Container,
    genotypes: jax.Array,
    fitness: jax.Array,
    descriptors: jax.Array,
    task_descriptors: jax.Array,
    observations: jax.Array,
    threshold,
    is_candidate: jax.Array | None = None,
) -> tuple[Container, Inserted]:
    """Insert a batch (see the module doc for the rules).

    Args:
        container: an unbatched container.
        genotypes, fitness: ``(B, D)``, ``(B,)``.
        descriptors: ``(B, L)`` latent codes.
        task_descriptors, observations: ``(B, K)``, ``(B, O)``, stored along
            (a NaN in either rejects the row).
        threshold: ``l``, a scalar (traced is fine).
        is_candidate: ``(B,)`` bool, rows to consider (default: all); the
            others are neither inserted nor counted.

    Returns:
        ``(container, Inserted)``; ``num_overflow`` counts rows dropped for
        want of an empty slot.
    """
    capacity, batch = container.capacity, fitness.shape[0]
    fitness = jnp.asarray(fitness, jnp.float32)
    fitness = jnp.where(jnp.isnan(fitness), -jnp.inf, fitness)
    descriptors = jnp.asarray(descriptors, jnp.float32)
    observations = jnp.asarray(observations, jnp.float32)
    considered = jnp.ones((batch,), bool) if is_candidate is None else is_candidate
    task_descriptors = jnp.asarray(task_descriptors, jnp.float32)
    ok = _finite_rows(descriptors) & _finite_rows(observations) & (fitness > -jnp.inf)
    ok &= ~jnp.any(jnp.isnan(task_descriptors), axis=-1) & considered
    safe = jnp.where(ok[:, None], descriptors, 0.0)
    # each row alone against the members (a batch of one: no other row is a
    # reference), the two nearest; distance inf where there is none
    dist, index, _ = jax.vmap(lambda d: nearest_neighbours(d[None], container, 2))(safe)
    dist, index = dist[:, 0], index[:, 0]
    contender = ok & ~(dist[:, 1] <= threshold)
    survives = _survivors(safe, fitness, contender, threshold)

    order = jnp.arange(batch, dtype=jnp.int32)
    near = survives & (dist[:, 0] <= threshold)
    target = jnp.where(near, index[:, 0], capacity)
    segments = capacity + 1  # segment `capacity` collects the rows not near
    best = jax.ops.segment_max(
        jnp.where(near, fitness, -jnp.inf), target, num_segments=segments
    )
    first = jax.ops.segment_min(
        jnp.where(near & (fitness == best[target]), order, batch),
        target,
        num_segments=segments,
    )
    incumbent = container.fitness.at[target].get(mode="fill", fill_value=jnp.inf)
    replaces = near & (order == first[target]) & (fitness > incumbent)

    fresh = survives & ~near
    rank = jnp.cumsum(fresh, dtype=jnp.int32) - 1
    num_free = jnp.sum(~container.is_valid, dtype=jnp.int32)
    free = jnp.nonzero(~container.is_valid, size=batch, fill_value=capacity)[0]
    fills = fresh & (rank < num_free)
    new_slot = free[jnp.clip(rank, 0, batch - 1)]
    slot = jnp.where(replaces, target, jnp.where(fills, new_slot, capacity))

    def put(old, new):
        return old.at[slot].set(jnp.asarray(new).astype(old.dtype), mode="drop")

    inserted = jnp.sum(replaces | fills, dtype=jnp.int32)
    overflow = jnp.sum(fresh & ~fills, dtype=jnp.int32)
    container = container.replace(
        descriptors=put(container.descriptors, descriptors),
        genotypes=put(container.genotypes, genotypes),
        fitness=put(container.fitness, fitness),
        is_valid=put(container.is_valid, jnp.ones((batch,), bool)),
        observations=put(container.observations, observations),
        task_descriptors=put(container.task_descriptors, task_descriptors),
        num_added=container.num_added + inserted,
        num_overflow=container.num_overflow + overflow,
    )
    rejected = jnp.sum(considered & ~ok, dtype=jnp.int32)
    return container, Inserted(inserted, overflow, rejected)


def rebuild(container: Container, descriptors: jax.Array, threshold) -> Container:
    """The container rebuilt from its members with new ``(C, L)``
    descriptors: every member re-inserted, as one batch in slot order, into
    an empty container (rules 2-5 thin out members now within ``l``). The
    running counts ``num_added`` and ``num_overflow`` carry over."""
    empty = jax.tree.map(jnp.zeros_like, container).replace(
        fitness=jnp.full_like(container.fitness, -jnp.inf)
    )
    rebuilt, _ = insert(
        empty,
        container.genotypes,
        container.fitness,
        descriptors,
        container.task_descriptors,
        container.observations,
        threshold,
        is_candidate=container.is_valid,
    )
    return rebuilt.replace(
        num_added=container.num_added, num_overflow=container.num_overflow
    )


def size_control(container: Container, threshold, previous_error, target_size, gain):
    """AURORA's size-control step: :func:`control_threshold`, then the
    container rebuilt with the new ``l`` from its current codes (QDax
    re-inserts every member), so it thins out at once when ``l`` grows.

    Returns:
        ``(container, l, e)``.
    """
    threshold, error = control_threshold(
        threshold, previous_error, container.size, target_size, gain
    )
    return rebuild(container, container.descriptors, threshold), threshold, error


def control_threshold(threshold, previous_error, size, target_size, gain):
    """AURORA's container size control (PAPERS section 8).

    ``e = size - target_size``; ``l <- l + K e + K (e - e_prev)``.

    Returns:
        ``(l, e)``, both ``() float32``.
    """
    error = jnp.asarray(size, jnp.float32) - jnp.asarray(target_size, jnp.float32)
    change = error - previous_error
    new = threshold + gain * error + gain * change
    return jnp.asarray(new, jnp.float32), error
