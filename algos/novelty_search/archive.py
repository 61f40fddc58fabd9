"""Novelty archives: fixed-capacity, unstructured sets of behaviours.

A :class:`NoveltyArchive` holds up to ``C`` members (descriptor, genotype,
fitness) in fixed arrays with a validity mask; nothing is binned. Novelty
(Lehman & Stanley 2011) is the mean Euclidean distance from a descriptor to
its ``k`` nearest neighbours among the archive's members and the rest of the
batch it came with (:func:`novelty`).

Two insertion rules, both deterministic:

- ``"threshold"`` (:func:`insert_threshold`): every candidate whose novelty
  is strictly above the threshold joins, into the first free slots, in batch
  order. WARN: a full archive stops growing: candidates that pass the
  threshold when no slot is left are dropped, and :func:`insert_threshold`
  returns how many (``num_overflow``); the archive's ``num_overflow`` keeps
  the running total.
- ``"ring"`` (:func:`insert_ring`): the ``n`` most novel candidates of each
  batch join (ties: the lowest batch index first), written at
  ``num_added mod C`` onward, so once the archive is full the oldest members
  are overwritten.

In both, a candidate whose descriptor holds a NaN is never inserted and is
counted (``num_rejected``), and NaN fitness is stored as ``-inf``.
"""

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class NoveltyArchive:
    """A fixed-capacity novelty archive (see the module doc).

    Under ``vmap`` every array gains a leading run axis.
    """

    descriptors: jax.Array  # (C, K) float32; zeros in empty slots
    genotypes: jax.Array  # (C, D) float32; zeros in empty slots
    fitness: jax.Array  # (C,) float32; -inf in empty slots (and for NaN fitness)
    is_valid: jax.Array  # (C,) bool: slots holding a member
    num_added: jax.Array  # () int32: insertions so far (ring: next slot mod C)
    num_overflow: jax.Array  # () int32: threshold mode, passed but dropped (full)

    @property
    def capacity(self) -> int:
        return self.is_valid.shape[-1]

    @property
    def size(self) -> jax.Array:
        """() int32: members held."""
        return jnp.sum(self.is_valid, axis=-1, dtype=jnp.int32)


def empty_archive(capacity: int, genotype_dim: int, descriptor_dim: int):
    """An empty archive of ``capacity`` slots.

    Raises:
        ValueError: a size below 1.
    """
    for name, value in (
        ("capacity", capacity),
        ("genotype_dim", genotype_dim),
        ("descriptor_dim", descriptor_dim),
    ):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return NoveltyArchive(
        descriptors=jnp.zeros((capacity, descriptor_dim), jnp.float32),
        genotypes=jnp.zeros((capacity, genotype_dim), jnp.float32),
        fitness=jnp.full((capacity,), -jnp.inf, jnp.float32),
        is_valid=jnp.zeros((capacity,), bool),
        num_added=jnp.int32(0),
        num_overflow=jnp.int32(0),
    )


def _is_finite_row(descriptors: jax.Array) -> jax.Array:
    return ~jnp.any(jnp.isnan(descriptors), axis=-1)


def nearest_neighbours(
    descriptors: jax.Array, archive: NoveltyArchive, k: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Each batch row's ``k`` nearest among archive members and other rows.

    The references are the archive's slots ``0..C-1`` followed by the batch's
    rows ``C..C+B-1``; a row is never its own neighbour; empty slots and rows
    whose descriptor holds a NaN are nobody's neighbour. Squared distances are
    summed coordinate by coordinate (a ``(B, C + B, K)`` difference), not
    expanded as ``|a|^2 - 2 a.b + |b|^2``, which loses precision.

    Args:
        descriptors: ``(B, K)``.
        archive: an unbatched archive.
        k: neighbours wanted (static); capped at ``C + B`` references.

    Returns:
        ``(distances, index, is_neighbour)``, each ``(B, k')`` with
        ``k' = min(k, C + B)``: distances ascending (``inf`` where there are
        fewer than ``k`` neighbours), reference indices (ties: the lower
        index first) and which entries are real neighbours.
    """
    descriptors = jnp.asarray(descriptors, jnp.float32)
    batch = descriptors.shape[0]
    is_finite = _is_finite_row(descriptors)
    # NaN rows are masked out below; zeros keep NaN out of the arithmetic
    descriptors = jnp.where(is_finite[:, None], descriptors, 0.0)
    references = jnp.concatenate([archive.descriptors, descriptors], axis=0)
    is_reference = jnp.concatenate([archive.is_valid, is_finite])
    diff = descriptors[:, None, :] - references[None, :, :]
    dist = jnp.sqrt(jnp.sum(diff * diff, axis=-1))
    is_self = (
        jnp.arange(references.shape[0])[None, :]
        == archive.capacity + jnp.arange(batch)[:, None]
    )
    usable = is_reference[None, :] & ~is_self
    dist = jnp.where(usable, dist, jnp.inf)
    k = min(k, references.shape[0])
    # top_k of the negated distances: the k smallest, lower index first on ties
    negated, index = jax.lax.top_k(-dist, k)
    nearest = -negated
    is_neighbour = jnp.take_along_axis(usable, index, axis=1)
    return jnp.where(is_neighbour, nearest, jnp.inf), index, is_neighbour


def novelty(descriptors: jax.Array, archive: NoveltyArchive, k: int) -> jax.Array:
    """``(B,)`` novelty: mean distance to the ``k`` nearest neighbours among
    the archive's members and the rest of the batch (Lehman & Stanley 2011).

    With fewer than ``k`` neighbours available the mean is over those there
    are; with none at all (an empty archive and a batch of one) the novelty
    is 0. A row whose descriptor holds a NaN gets novelty 0 (and is nobody's
    neighbour); callers screen such rows out.
    """
    dist, _, is_neighbour = nearest_neighbours(descriptors, archive, k)
    count = jnp.sum(is_neighbour, axis=-1)
    total = jnp.sum(jnp.where(is_neighbour, dist, 0.0), axis=-1)
    value = total / jnp.maximum(count, 1)
    return jnp.where(_is_finite_row(descriptors), value, 0.0).astype(jnp.float32)


def local_competition(
    descriptors: jax.Array, fitness: jax.Array, archive: NoveltyArchive, k: int
) -> jax.Array:
    """``(B,) int32``: how many of each row's ``k`` nearest neighbours (as in
    :func:`novelty`) it beats on fitness, strictly (Lehman & Stanley 2011b,
    NSLC). NaN fitness counts as ``-inf`` and beats nobody; a row with a NaN
    descriptor scores 0."""
    fitness = jnp.asarray(fitness, jnp.float32)
    fitness = jnp.where(jnp.isnan(fitness), -jnp.inf, fitness)
    _, index, is_neighbour = nearest_neighbours(descriptors, archive, k)
    reference_fitness = jnp.concatenate([archive.fitness, fitness])
    beaten = is_neighbour & (fitness[:, None] > reference_fitness[index])
    return jnp.sum(beaten, axis=-1, dtype=jnp.int32)


def _write(archive: NoveltyArchive, slot, genotypes, fitness, descriptors):
    """Write batch rows at ``slot`` (``C`` or beyond: dropped)."""

    def put(old, new):
        return old.at[slot].set(new.astype(old.dtype), mode="drop")

    fitness = jnp.asarray(fitness, jnp.float32)
    return archive.replace(
        descriptors=put(archive.descriptors, jnp.asarray(descriptors)),
        genotypes=put(archive.genotypes, jnp.asarray(genotypes)),
        fitness=put(archive.fitness, jnp.where(jnp.isnan(fitness), -jnp.inf, fitness)),
        is_valid=put(archive.is_valid, jnp.ones(slot.shape, bool)),
    )


class Inserted(struct.PyTreeNode):
    """What one insertion did (all ``() int32``)."""

    num_inserted: jax.Array  # rows that joined the archive
    num_overflow: jax.Array  # threshold mode: passed but dropped, archive full
    num_rejected: jax.Array  # rows with a NaN descriptor (never inserted)


def insert_threshold(
    archive: NoveltyArchive,
    genotypes: jax.Array,
    fitness: jax.Array,
    descriptors: jax.Array,
    novelty_scores: jax.Array,
    threshold,
) -> tuple[NoveltyArchive, Inserted]:
    """Insert every row with novelty strictly above ``threshold``, in batch
    order, into the first free slots (see the module doc for a full archive).

    Args:
        genotypes, fitness, descriptors: the batch, ``(B, D)``, ``(B,)``,
            ``(B, K)``.
        novelty_scores: ``(B,)``, e.g. from :func:`novelty`.
        threshold: a scalar (traced is fine).
    """
    is_finite = _is_finite_row(jnp.asarray(descriptors))
    passes = is_finite & (novelty_scores > threshold)
    free = jnp.sum(~archive.is_valid, dtype=jnp.int32)
    rank = jnp.cumsum(passes, dtype=jnp.int32) - 1  # position among passing rows
    fits = passes & (rank < free)
    # the j-th passing row goes to the j-th free slot (slots fill front first;
    # a threshold archive never frees a slot, so the free ones are the last)
    slot = jnp.where(fits, archive.capacity - free + rank, archive.capacity)
    archive = _write(archive, slot, genotypes, fitness, descriptors)
    inserted = jnp.sum(fits, dtype=jnp.int32)
    overflow = jnp.sum(passes & ~fits, dtype=jnp.int32)
    archive = archive.replace(
        num_added=archive.num_added + inserted,
        num_overflow=archive.num_overflow + overflow,
    )
    rejected = jnp.sum(~is_finite, dtype=jnp.int32)
    return archive, Inserted(inserted, overflow, rejected)


def insert_ring(
    archive: NoveltyArchive,
    genotypes: jax.Array,
    fitness: jax.Array,
    descriptors: jax.Array,
    novelty_scores: jax.Array,
    num_insert: int,
) -> tuple[NoveltyArchive, Inserted]:
    """Insert the ``num_insert`` most novel rows (ties: lowest batch index;
    fewer when fewer rows have finite descriptors), overwriting the oldest
    members once the archive is full.

    Args:
        num_insert: static, at most the capacity and the batch size.
    """
    batch = novelty_scores.shape[0]
    if not 1 <= num_insert <= min(archive.capacity, batch):
        raise ValueError(
            f"num_insert must be in [1, min(capacity, batch)] = "
            f"[1, {min(archive.capacity, batch)}], got {num_insert}"
        )
    is_finite = _is_finite_row(jnp.asarray(descriptors))
    score = jnp.where(is_finite, novelty_scores, -jnp.inf)
    order = jnp.argsort(-score, stable=True)  # most novel first, index on ties
    chosen = jnp.zeros((batch,), bool).at[order[:num_insert]].set(True) & is_finite
    rank = jnp.cumsum(chosen, dtype=jnp.int32) - 1
    slot = jnp.where(
        chosen, (archive.num_added + rank) % archive.capacity, archive.capacity
    )
    archive = _write(archive, slot, genotypes, fitness, descriptors)
    inserted = jnp.sum(chosen, dtype=jnp.int32)
    archive = archive.replace(num_added=archive.num_added + inserted)
    rejected = jnp.sum(~is_finite, dtype=jnp.int32)
    return archive, Inserted(inserted, jnp.int32(0), rejected)
