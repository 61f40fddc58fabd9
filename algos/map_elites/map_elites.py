"""MAP-Elites (Mouret & Clune 2015) with explicit state, evosax-style.

::

    me = MapElites(empty_archive, emitter, batch_size=1024, qd_offset=-pi**2)
    state = me.init(key, genotypes, fitness, descriptors, hparams)
    genotypes, state = me.ask(key, state, hparams)
    fitness, descriptors, _ = task(genotypes, key)
    state, metrics = me.tell(key, genotypes, fitness, descriptors, state, hparams)

Fitness is maximised. Nothing here is jitted: the caller jits (or scans,
see :func:`jaxrl.algos.map_elites.make_run`).
"""

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.algos.map_elites.archive import Archive, insert


@struct.dataclass
class MapElitesState:
    """What MAP-Elites carries between iterations."""

    archive: Archive
    emitter_state: Any  # the emitter's own pytree; () for the stateless ones


class QDMetrics(NamedTuple):
    """Per-iteration metrics (scalars; a leading time axis once scanned).

    An empty archive reports ``coverage = qd_score = 0`` and ``max_fitness =
    mean_fitness = -inf`` (no NaN).
    """

    coverage: jax.Array  # () float32: filled cells / cells
    qd_score: jax.Array  # () float32: sum over filled cells of fitness - offset
    max_fitness: jax.Array  # () float32
    mean_fitness: jax.Array  # () float32: over filled cells
    archive_size: jax.Array  # () int32: filled cells
    num_rejected: jax.Array  # () int32: this batch's rows with a NaN descriptor


def archive_metrics(
    archive: Archive, qd_offset: float, num_rejected: jax.Array | int = 0
) -> QDMetrics:
    """The QD metrics of an (unbatched) archive.

    ``qd_score`` subtracts ``qd_offset`` from every elite's fitness (pyribs'
    convention; QDax adds an offset instead), so with the offset at the
    task's lowest fitness every elite adds a non-negative amount.
    """
    filled = archive.is_filled
    size = jnp.sum(filled, dtype=jnp.int32)
    fitness = jnp.where(filled, archive.fitness, 0.0)
    total = jnp.sum(fitness)
    mean = jnp.where(size > 0, total / jnp.maximum(size, 1), -jnp.inf)
    return QDMetrics(
        coverage=(size / archive.num_cells).astype(jnp.float32),
        qd_score=(total - qd_offset * size).astype(jnp.float32),
        max_fitness=jnp.max(archive.fitness),
        mean_fitness=mean.astype(jnp.float32),
        archive_size=size,
        num_rejected=jnp.asarray(num_rejected, jnp.int32),
    )


@dataclasses.dataclass(frozen=True, eq=False)
class MapElites:
    """MAP-Elites: keep the best solution per cell, vary elites, repeat.

    Attributes:
        archive: an empty archive (``grid_archive`` or ``cvt_archive``); its
            shapes and cells are used, its contents are not.
        emitter: where offspring come from (see ``emitters``).
        batch_size: offspring per :meth:`ask`.
        qd_offset: subtracted from every elite's fitness in ``qd_score``.
    """

    archive: Archive
    emitter: Any
    batch_size: int
    qd_offset: float = 0.0

    def init(self, key, genotypes, fitness, descriptors, params) -> MapElitesState:
        """An archive holding the best of a first, already scored batch."""
        del params
        empty = self.archive.replace(
            genotypes=jnp.zeros_like(self.archive.genotypes),
            fitness=jnp.full_like(self.archive.fitness, -jnp.inf),
            descriptors=jnp.zeros_like(self.archive.descriptors),
        )
        archive, _ = insert(empty, genotypes, fitness, descriptors)
        return MapElitesState(archive, self.emitter.init(key, archive))

    def ask(self, key, state: MapElitesState, params):
        """``(batch_size, D)`` offspring to score, and the state."""
        genotypes, emitter_state = self.emitter.ask(
            key, state.archive, state.emitter_state, params, self.batch_size
        )
        return genotypes, state.replace(emitter_state=emitter_state)

    def tell(self, key, genotypes, fitness, descriptors, state, params):
        """Insert a scored batch; returns ``(state, QDMetrics)``."""
        archive, num_rejected = insert(state.archive, genotypes, fitness, descriptors)
        emitter_state = self.emitter.tell(
            key, genotypes, fitness, descriptors, archive, state.emitter_state, params
        )
        metrics = archive_metrics(archive, self.qd_offset, num_rejected)
        return MapElitesState(archive, emitter_state), metrics
