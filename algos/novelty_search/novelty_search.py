"""Novelty search (Lehman & Stanley 2011) and novelty search with local
competition (NSLC, Lehman & Stanley 2011b), with explicit state.

::

    ns = NoveltySearch(archive, emitter, population_size=64, batch_size=64,
                       num_neighbours=15, variant="ns", insertion="threshold")
    state = ns.init(key, genotypes, fitness, descriptors, hparams)
    genotypes, state = ns.ask(key, state, hparams)
    fitness, descriptors, _ = task(genotypes, key)
    state, metrics = ns.tell(key, genotypes, fitness, descriptors, state, hparams)

One generation: ``ask`` draws parents uniformly from the population and
varies them with a MAP-Elites emitter (the population is shown to the
emitter as an archive whose every slot is filled). ``tell`` pools the
population and the offspring, scores every pooled individual's novelty
against the archive and the rest of the pool (k nearest, Lehman & Stanley's
reference set: archive, population and offspring), inserts offspring into
the archive, and keeps the ``population_size`` best of the pool:

- ``"ns"``: the highest novelty (ties: the lower pool index; the population
  comes first in the pool, then the offspring).
- ``"nslc"``: two objectives, novelty and local competition (how many of its
  k nearest neighbours an individual beats on fitness), ranked by
  non-dominated fronts as NSGA-II does (PAPERS section 6: NSLC is NSGA-II on
  these two objectives). Within a front the higher novelty goes first, then
  the lower pool index: a deterministic stand-in for NSGA-II's crowding
  distance.

A pooled individual whose descriptor holds a NaN comes last in either order.
Fitness is maximised; NaN fitness counts as ``-inf``. Nothing here is
jitted: the caller jits (or scans, see
:func:`jaxrl.algos.novelty_search.make_run`).
"""

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.algos.map_elites.archive import Archive, cell_index
from jaxrl.algos.novelty_search.archive import (
    Inserted,
    NoveltyArchive,
    insert_ring,
    insert_threshold,
    local_competition,
    novelty,
)

VARIANTS = ("ns", "nslc")
INSERTIONS = ("threshold", "ring")


@struct.dataclass
class Population:
    """The current population (``P`` individuals)."""

    genotypes: jax.Array  # (P, D) float32
    fitness: jax.Array  # (P,) float32; NaN stored as -inf
    descriptors: jax.Array  # (P, K) float32
    novelty: jax.Array  # (P,) float32, as scored when they were selected


@struct.dataclass
class NoveltySearchState:
    """What novelty search carries between generations."""

    archive: NoveltyArchive
    population: Population
    threshold: jax.Array  # () float32: the current novelty threshold
    num_stalled: jax.Array  # () int32: generations in a row with no insertion
    best_fitness: jax.Array  # () float32: best fitness evaluated so far
    best_genotype: jax.Array  # (D,) float32: its genotype
    is_reached: jax.Array  # (G,) bool: coverage-grid cells any evaluation reached
    emitter_state: Any  # the emitter's own pytree; () for the stateless ones


class NSMetrics(NamedTuple):
    """Per-generation metrics (scalars; a leading time axis once scanned)."""

    coverage: jax.Array  # () float32: coverage-grid cells reached by any evaluation
    archive_coverage: jax.Array  # () float32: coverage-grid cells holding a member
    archive_size: jax.Array  # () int32: members in the novelty archive
    max_fitness: jax.Array  # () float32: best fitness evaluated so far
    mean_novelty: jax.Array  # () float32: offspring's mean novelty (finite rows)
    threshold: jax.Array  # () float32: novelty threshold after this generation
    num_inserted: jax.Array  # () int32: offspring added to the archive
    num_overflow: jax.Array  # () int32: passed the threshold, archive full
    num_rejected: jax.Array  # () int32: offspring with a NaN descriptor


def non_dominated_rank(objectives: jax.Array) -> jax.Array:
    """``(N,) int32`` Pareto front of each row, 0 for the non-dominated
    (every objective maximised).

    Row ``a`` dominates ``b`` when it is at least as good on every objective
    and better on one. Fronts are peeled one at a time (NSGA-II's ranking
    without its bookkeeping): ``O(N^2)`` work per front.

    Args:
        objectives: ``(N, M)``, no NaN (``-inf`` is fine).
    """
    n = objectives.shape[0]
    a, b = objectives[:, None, :], objectives[None, :, :]
    dominates = jnp.all(a >= b, axis=-1) & jnp.any(a > b, axis=-1)  # [i, j]: i > j

    def peel(carry):
        rank, remaining, front = carry
        dominated = jnp.any(dominates & remaining[:, None], axis=0)
        now = remaining & ~dominated
        return jnp.where(now, front, rank), remaining & ~now, front + 1

    rank, _, _ = jax.lax.while_loop(
        lambda carry: jnp.any(carry[1]),
        peel,
        (jnp.zeros((n,), jnp.int32), jnp.ones((n,), bool), jnp.int32(0)),
    )
    return rank


def selection_order(
    novelty_scores: jax.Array,
    competition: jax.Array | None,
    is_finite: jax.Array,
) -> jax.Array:
    """``(N,)`` pool indices, best first (see the module doc for the rules).

    Args:
        novelty_scores: ``(N,)``.
        competition: ``(N,)`` local-competition counts for NSLC, None for NS.
        is_finite: ``(N,)`` bool, False for rows with a NaN descriptor.
    """
    nov = jnp.where(is_finite, novelty_scores, -jnp.inf)
    if competition is None:
        return jnp.argsort(-nov, stable=True)
    lc = jnp.where(is_finite, competition.astype(jnp.float32), -jnp.inf)
    rank = non_dominated_rank(jnp.stack([nov, lc], axis=-1))
    # lexsort: the last key is the primary one; stable, so index breaks ties
    return jnp.lexsort((-nov, rank))


@dataclasses.dataclass(frozen=True, eq=False)
class NoveltySearch:
    """Novelty search with an unstructured archive (see the module doc).

    Attributes:
        archive: an empty :class:`NoveltyArchive` (its shapes are used).
        emitter: a MAP-Elites emitter (``map_elites.make_emitter``).
        population_size: ``P``, individuals kept each generation.
        batch_size: ``B``, offspring per :meth:`ask`.
        num_neighbours: ``k`` of novelty and local competition.
        variant: ``"ns"`` or ``"nslc"``.
        insertion: ``"threshold"`` or ``"ring"``.
        ring_insertions: ring mode: offspring added per generation.
        coverage_grid: an empty MAP-Elites grid archive over the descriptor
            box; only its cells are used (the ``coverage`` metrics).
        threshold_patience: threshold mode: generations with no insertion
            before the threshold shrinks (goNEAT_NS: 10).
        threshold_burst: threshold mode: insertions in one generation that
            raise the threshold (goNEAT_NS: 4).
    """

    archive: NoveltyArchive
    emitter: Any
    population_size: int
    batch_size: int
    num_neighbours: int = 15
    variant: str = "ns"
    insertion: str = "threshold"
    ring_insertions: int = 8
    coverage_grid: Archive | None = None
    threshold_patience: int = 10
    threshold_burst: int = 4

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.insertion not in INSERTIONS:
            raise ValueError(
                f"insertion must be one of {INSERTIONS}, got {self.insertion!r}"
            )

    def _insert(self, archive, genotypes, fitness, descriptors, scores, threshold):
        if self.insertion == "ring":
            return insert_ring(
                archive, genotypes, fitness, descriptors, scores, self.ring_insertions
            )
        return insert_threshold(
            archive, genotypes, fitness, descriptors, scores, threshold
        )

    def _reach(self, is_reached, fitness, descriptors):
        """Mark the coverage-grid cells of rows with a finite descriptor and
        fitness above ``-inf`` (what would fill a MAP-Elites cell)."""
        if self.coverage_grid is None:
            return is_reached
        ok = ~jnp.any(jnp.isnan(descriptors), axis=-1) & (fitness > -jnp.inf)
        cells = cell_index(self.coverage_grid, jnp.where(ok[:, None], descriptors, 0))
        cells = jnp.where(ok, cells, is_reached.shape[0])
        return is_reached.at[cells].set(True, mode="drop")

    def _best(self, best_fitness, best_genotype, genotypes, fitness):
        i = jnp.argmax(fitness)  # first of equals
        better = fitness[i] > best_fitness
        return (
            jnp.where(better, fitness[i], best_fitness),
            jnp.where(better, genotypes[i], best_genotype),
        )

    def init(self, key, genotypes, fitness, descriptors, params) -> NoveltySearchState:
        """State from a first, already scored batch of ``population_size``:
        it becomes the population, and its novel rows enter the archive."""
        if genotypes.shape[0] != self.population_size:
            raise ValueError(
                f"init needs population_size ({self.population_size}) genotypes, "
                f"got {genotypes.shape[0]}"
            )
        genotypes = jnp.asarray(genotypes, jnp.float32)
        fitness = _clean(fitness)
        descriptors = jnp.asarray(descriptors, jnp.float32)
        empty = jax.tree.map(jnp.zeros_like, self.archive).replace(
            fitness=jnp.full_like(self.archive.fitness, -jnp.inf)
        )
        threshold = jnp.asarray(params.novelty_threshold, jnp.float32)
        scores = novelty(descriptors, empty, self.num_neighbours)
        archive, _ = self._insert(
            empty, genotypes, fitness, descriptors, scores, threshold
        )
        num_cells = 0 if self.coverage_grid is None else self.coverage_grid.num_cells
        is_reached = self._reach(jnp.zeros((num_cells,), bool), fitness, descriptors)
        best = self._best(
            jnp.float32(-jnp.inf), jnp.zeros_like(genotypes[0]), genotypes, fitness
        )
        population = Population(genotypes, fitness, descriptors, scores)
        return NoveltySearchState(
            archive=archive,
            population=population,
            threshold=threshold,
            num_stalled=jnp.int32(0),
            best_fitness=best[0],
            best_genotype=best[1],
            is_reached=is_reached,
            emitter_state=self.emitter.init(key, self._parents(population)),
        )

    def _parents(self, population: Population) -> Archive:
        """The population as a MAP-Elites archive with every slot filled, so
        that MAP-Elites' emitters draw parents uniformly from it."""
        return Archive(
            genotypes=population.genotypes,
            fitness=jnp.zeros(population.fitness.shape, jnp.float32),
            descriptors=population.descriptors,
            centroids=jnp.zeros_like(population.descriptors),
        )

    def ask(self, key, state: NoveltySearchState, params):
        """``(batch_size, D)`` offspring of the population, and the state."""
        parents = self._parents(state.population)
        genotypes, emitter_state = self.emitter.ask(
            key, parents, state.emitter_state, params, self.batch_size
        )
        return genotypes, state.replace(emitter_state=emitter_state)

    def tell(self, key, genotypes, fitness, descriptors, state, params):
        """Score novelty, insert offspring, select the next population.

        Returns:
            ``(state, NSMetrics)``.
        """
        pop, b = state.population, genotypes.shape[0]
        genotypes = jnp.asarray(genotypes, jnp.float32)
        fitness = _clean(fitness)
        descriptors = jnp.asarray(descriptors, jnp.float32)
        pool_g = jnp.concatenate([pop.genotypes, genotypes])
        pool_f = jnp.concatenate([pop.fitness, fitness])
        pool_d = jnp.concatenate([pop.descriptors, descriptors])
        k = self.num_neighbours
        scores = novelty(pool_d, state.archive, k)
        is_finite = ~jnp.any(jnp.isnan(pool_d), axis=-1)
        lc = None
        if self.variant == "nslc":
            lc = local_competition(pool_d, pool_f, state.archive, k)
        keep = selection_order(scores, lc, is_finite)[: self.population_size]
        population = Population(pool_g[keep], pool_f[keep], pool_d[keep], scores[keep])

        offspring = scores[-b:]
        archive, done = self._insert(
            state.archive, genotypes, fitness, descriptors, offspring, state.threshold
        )
        threshold, stalled = self._adapt(state, done, params)
        best_fitness, best_genotype = self._best(
            state.best_fitness, state.best_genotype, genotypes, fitness
        )
        is_reached = self._reach(state.is_reached, fitness, descriptors)
        emitter_state = self.emitter.tell(
            key, genotypes, fitness, descriptors, self._parents(population),
            state.emitter_state, params,
        )  # fmt: skip
        state = NoveltySearchState(
            archive, population, threshold, stalled, best_fitness, best_genotype,
            is_reached, emitter_state,
        )  # fmt: skip
        return state, self._metrics(state, offspring, is_finite[-b:], done)

    def _adapt(self, state, done: Inserted, params):
        """goNEAT_NS's schedule (threshold mode): after ``threshold_patience``
        generations in a row without an insertion, threshold *=
        ``threshold_decay``; after ``threshold_burst`` or more insertions in
        one generation, *= ``threshold_growth``; never below
        ``threshold_floor``. Set decay and growth to 1 for a fixed threshold."""
        if self.insertion != "threshold":
            return state.threshold, state.num_stalled
        stalled = jnp.where(done.num_inserted > 0, 0, state.num_stalled + 1)
        shrink = stalled >= self.threshold_patience
        threshold = jnp.where(
            shrink, state.threshold * params.threshold_decay, state.threshold
        )
        stalled = jnp.where(shrink, 0, stalled).astype(jnp.int32)
        grow = done.num_inserted >= self.threshold_burst
        threshold = jnp.where(grow, threshold * params.threshold_growth, threshold)
        threshold = jnp.maximum(threshold, params.threshold_floor)
        return threshold.astype(jnp.float32), stalled

    def _metrics(self, state, offspring_novelty, is_finite, done: Inserted):
        archive = state.archive
        count = jnp.sum(is_finite)
        mean_novelty = jnp.sum(jnp.where(is_finite, offspring_novelty, 0.0)) / (
            jnp.maximum(count, 1)
        )
        return NSMetrics(
            coverage=jnp.mean(state.is_reached, dtype=jnp.float32)
            if state.is_reached.size
            else jnp.float32(0),
            archive_coverage=archive_coverage(archive, self.coverage_grid),
            archive_size=archive.size,
            max_fitness=state.best_fitness,
            mean_novelty=mean_novelty.astype(jnp.float32),
            threshold=state.threshold,
            num_inserted=done.num_inserted,
            num_overflow=done.num_overflow,
            num_rejected=done.num_rejected,
        )


def archive_coverage(archive: NoveltyArchive, grid: Archive | None) -> jax.Array:
    """``() float32``: share of ``grid``'s cells holding at least one archive
    member (members outside the box count in the edge cell they clip to, as
    in MAP-Elites); 0 without a grid."""
    if grid is None:
        return jnp.float32(0)
    cells = cell_index(grid, archive.descriptors)
    cells = jnp.where(archive.is_valid, cells, grid.num_cells)
    hit = jnp.zeros((grid.num_cells,), bool).at[cells].set(True, mode="drop")
    return jnp.mean(hit, dtype=jnp.float32)


def _clean(fitness) -> jax.Array:
    fitness = jnp.asarray(fitness, jnp.float32)
    return jnp.where(jnp.isnan(fitness), -jnp.inf, fitness)
