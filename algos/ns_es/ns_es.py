"""NS-ES and NSR-ES (Conti et al. 2018, arXiv 1712.06560) with explicit state.

Evolution strategies that climb novelty instead of (or as well as) reward.
A meta-population of ``M`` parameter vectors is kept; one generation:

1. pick member ``m`` with probability ``N(theta_m) / sum_j N(theta_j)``, its
   novelty against the archive (k nearest, k = 10);
2. evaluate ``2n`` antithetic perturbations ``theta_m +- sigma eps_i``,
   ``eps_i ~ N(0, I)``;
3. score each by its novelty against the archive (``"ns-es"``), or by the
   mean of the centered ranks of reward and novelty (``"nsr-es"``), then
   centered-rank transform the scores to ``u`` in [-0.5, 0.5];
4. ``g = sum_i (u_i+ - u_i-) eps_i / (2n)``; one Adam step (each member has
   its own Adam state) on ``-g + weight_decay * theta_m``;
5. evaluate the updated ``theta_m`` and add its descriptor to the archive.

The adaptive reward/novelty weight of NSRA-ES is not implemented: its
schedule was not found in the reference code (``uber-research/
deep-neuroevolution``), and is not guessed here.

Step 5 needs the updated member's own evaluation, so a generation calls the
task twice::

    es = NoveltyES(archive, meta_population_size=5, num_pairs=500)
    state = es.init(key, genotypes, fitness, descriptors, hparams)  # M scored
    genotypes, state = es.ask(key, state, hparams)                # (2n, D)
    fitness, descriptors, _ = task(genotypes, key)
    state, stats = es.tell(key, genotypes, fitness, descriptors, state, hparams)
    theta = es.updated(state)                                      # (1, D)
    fitness, descriptors, _ = task(theta, key)
    state, metrics = es.add(theta, fitness, descriptors, state)

Choices of this implementation, where the reference differs or says nothing:

- Novelty is the mean distance to the k nearest archive members only (not
  to the other perturbations), as in the reference; a member's own archived
  descriptor counts among its neighbours, as there. The archive is a ring
  buffer (the oldest entry is overwritten once it is full).
- Centered ranks give tied scores their mean rank, so a pair whose two sides
  tie (a robot that ends in the same place either way) adds nothing to
  ``g``; the reference breaks ties by position.
- A perturbation whose descriptor holds a NaN gets the lowest novelty
  (``-inf``), NaN fitness counts as ``-inf``; both rank last.
- Where the task bounds its genotypes, perturbed genotypes and the updated
  ``theta_m`` are clipped to the bounds (``g`` still uses the unclipped
  ``eps``); an unbounded task is never clipped.
- The parent is drawn every generation, the first one included (the
  reference starts with member 0). If no member has positive novelty the
  draw is uniform.

Fitness is maximised. Nothing here is jitted: the caller jits (or scans, see
:func:`jaxrl.algos.ns_es.make_run`).
"""

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl.algos.map_elites.archive import Archive, cell_index
from jaxrl.algos.novelty_search.archive import NoveltyArchive, insert_ring, novelty
from jaxrl.algos.novelty_search.novelty_search import archive_coverage
from jaxrl.algos.ns_es.config import VARIANTS


def centered_ranks(scores: jax.Array) -> jax.Array:
    """Centered ranks of a flat batch: ``rank / (N - 1) - 0.5``, in [-0.5, 0.5].

    The lowest score gets -0.5 and the highest 0.5; tied scores share their
    mean rank. NaN counts as ``-inf``. A batch of one gets 0.

    Args:
        scores: ``(N,)``.

    Returns:
        ``(N,) float32``.
    """
    scores = jnp.asarray(scores, jnp.float32)
    scores = jnp.where(jnp.isnan(scores), -jnp.inf, scores)
    n = scores.shape[0]
    if n == 1:
        return jnp.zeros((1,), jnp.float32)
    ordered = jnp.sort(scores)
    below = jnp.searchsorted(ordered, scores, side="left")  # strictly lower
    up_to = jnp.searchsorted(ordered, scores, side="right")  # lower or equal
    rank = (below + up_to - 1).astype(jnp.float32) / 2  # mean of the tied ranks
    return rank / (n - 1) - 0.5


def antithetic_gradient(
    noise: jax.Array, u_plus: jax.Array, u_minus: jax.Array
) -> jax.Array:
    """ES gradient from antithetic pairs: ``sum_i (u_i+ - u_i-) eps_i / (2n)``.

    Args:
        noise: ``(n, D)``, the ``eps_i``.
        u_plus: ``(n,)`` scores of ``theta + sigma eps_i``.
        u_minus: ``(n,)`` scores of ``theta - sigma eps_i``.

    Returns:
        ``(D,)``: a search direction that increases the score.
    """
    n = noise.shape[0]
    return (u_plus - u_minus) @ noise / (2 * n)


def parent_probabilities(novelty_scores: jax.Array) -> jax.Array:
    """``(M,)`` chance of each member to be perturbed: its novelty over the
    sum of novelties. Non-finite or non-positive novelty counts as 0; when
    every member counts 0 the chances are uniform."""
    scores = jnp.asarray(novelty_scores, jnp.float32)
    weight = jnp.where(jnp.isfinite(scores) & (scores > 0), scores, 0.0)
    total = jnp.sum(weight)
    uniform = jnp.full_like(weight, 1.0 / weight.shape[0])
    return jnp.where(total > 0, weight / jnp.where(total > 0, total, 1.0), uniform)


def perturbation_scores(
    novelty_scores: jax.Array, fitness: jax.Array, variant: str
) -> jax.Array:
    """What the ES step climbs, for each evaluated perturbation.

    ``"ns-es"``: the centered ranks of novelty. ``"nsr-es"``: ``(rank(fitness)
    + rank(novelty)) / 2`` with both centered ranks.

    Args:
        novelty_scores, fitness: ``(2n,)``.
        variant: ``"ns-es"`` or ``"nsr-es"`` (static).
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    u = centered_ranks(novelty_scores)
    if variant == "nsr-es":
        u = (centered_ranks(fitness) + u) / 2
    return u


def archive_novelty(descriptors: jax.Array, archive: NoveltyArchive, k: int):
    """``(B,)`` novelty of each row against the archive's members alone: the
    mean distance to its ``k`` nearest members (fewer when fewer are held; 0
    with an empty archive). A row whose descriptor holds a NaN gets ``-inf``.
    """
    descriptors = jnp.asarray(descriptors, jnp.float32)
    # a batch of one has no other rows, so only archive members are neighbours
    scores = jax.vmap(lambda row: novelty(row[None], archive, k)[0])(descriptors)
    is_finite = ~jnp.any(jnp.isnan(descriptors), axis=-1)
    return jnp.where(is_finite, scores, -jnp.inf)


@struct.dataclass
class MetaPopulation:
    """The ``M`` parameter vectors NS-ES moves, and what is known of them."""

    genotypes: jax.Array  # (M, D) float32
    fitness: jax.Array  # (M,) float32, at their last evaluation; NaN as -inf
    descriptors: jax.Array  # (M, K) float32, at their last evaluation
    opt_state: Any  # each member's Adam state; every leaf has a leading (M,) axis


class StepStats(NamedTuple):
    """What one ES step saw (scalars)."""

    parent_novelty: jax.Array  # () float32: the chosen member's novelty
    mean_novelty: jax.Array  # () float32: perturbations' mean (finite descriptors)
    grad_norm: jax.Array  # () float32: |g|
    num_rejected: jax.Array  # () int32: perturbations with a NaN descriptor


@struct.dataclass
class NSESState:
    """What NS-ES carries between generations."""

    archive: NoveltyArchive
    meta: MetaPopulation
    parent: jax.Array  # () int32: the member perturbed this generation
    noise: jax.Array  # (n, D) float32: this generation's eps
    stats: StepStats
    best_fitness: jax.Array  # () float32: best fitness evaluated so far
    best_genotype: jax.Array  # (D,) float32: its genotype
    cell_fitness: jax.Array  # (G,) float32: best fitness per coverage cell, -inf


class NSESMetrics(NamedTuple):
    """Per-generation metrics (scalars; a leading time axis once scanned).

    The QD metrics read a MAP-Elites grid over the descriptor box that keeps
    the best fitness any evaluation reached in each cell.
    """

    coverage: jax.Array  # () float32: coverage-grid cells reached by any evaluation
    archive_coverage: jax.Array  # () float32: coverage-grid cells holding a member
    archive_size: jax.Array  # () int32: members in the novelty archive
    qd_score: jax.Array  # () float32: sum over reached cells of best fitness - offset
    max_fitness: jax.Array  # () float32: best fitness evaluated so far
    mean_fitness: jax.Array  # () float32: mean best fitness of reached cells
    theta_fitness: jax.Array  # () float32: fitness of the updated member
    parent_novelty: jax.Array  # () float32: the chosen member's novelty
    mean_novelty: jax.Array  # () float32: perturbations' mean novelty
    grad_norm: jax.Array  # () float32: |g|
    num_rejected: jax.Array  # () int32: evaluations with a NaN descriptor


@dataclasses.dataclass(frozen=True, eq=False)
class NoveltyES:
    """NS-ES / NSR-ES (see the module doc).

    Attributes:
        archive: an empty :class:`NoveltyArchive` (its shapes are used).
        meta_population_size: ``M``.
        num_pairs: ``n``, antithetic pairs per :meth:`ask` (``2n`` rows).
        num_neighbours: ``k`` of novelty (Conti et al.: 10).
        variant: ``"ns-es"`` or ``"nsr-es"``.
        genotype_bounds: ``(low, high)`` to clip genotypes to, or None.
        coverage_grid: an empty MAP-Elites grid archive over the descriptor
            box; only its cells are used (the QD metrics).
        qd_offset: subtracted from every reached cell's fitness in
            ``qd_score``.
    """

    archive: NoveltyArchive
    meta_population_size: int
    num_pairs: int
    num_neighbours: int = 10
    variant: str = "ns-es"
    genotype_bounds: tuple[float, float] | None = None
    coverage_grid: Archive | None = None
    qd_offset: float = 0.0

    def __post_init__(self):
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if not 1 <= self.meta_population_size <= self.archive.capacity:
            raise ValueError(
                f"meta_population_size must be in [1, archive capacity "
                f"{self.archive.capacity}], got {self.meta_population_size}"
            )

    def _clip(self, genotypes):
        if self.genotype_bounds is None:
            return genotypes
        return jnp.clip(genotypes, *self.genotype_bounds)

    def _reach(self, cell_fitness, fitness, descriptors):
        """Keep each coverage cell's best fitness (rows with a NaN descriptor
        or fitness ``-inf`` reach nothing)."""
        if self.coverage_grid is None:
            return cell_fitness
        ok = ~jnp.any(jnp.isnan(descriptors), axis=-1) & (fitness > -jnp.inf)
        cells = cell_index(self.coverage_grid, jnp.where(ok[:, None], descriptors, 0))
        cells = jnp.where(ok, cells, cell_fitness.shape[0])
        return cell_fitness.at[cells].max(fitness, mode="drop")

    def init(self, key, genotypes, fitness, descriptors, params) -> NSESState:
        """State from the first meta-population, already scored: ``(M, D)``
        genotypes, ``(M,)`` fitness, ``(M, K)`` descriptors. Every member's
        descriptor enters the archive."""
        del key
        m = self.meta_population_size
        if genotypes.shape[0] != m:
            raise ValueError(
                f"init needs meta_population_size ({m}) genotypes, got "
                f"{genotypes.shape[0]}"
            )
        genotypes = jnp.asarray(genotypes, jnp.float32)
        fitness = _clean(fitness)
        descriptors = jnp.asarray(descriptors, jnp.float32)
        archive, _ = insert_ring(
            self.archive, genotypes, fitness, descriptors, jnp.zeros((m,)), m
        )
        opt_state = jax.vmap(_adam(params).init)(genotypes)
        num_cells = 0 if self.coverage_grid is None else self.coverage_grid.num_cells
        empty = jnp.full((num_cells,), -jnp.inf, jnp.float32)
        zero = jnp.float32(0)
        state = NSESState(
            archive=archive,
            meta=MetaPopulation(genotypes, fitness, descriptors, opt_state),
            parent=jnp.int32(0),
            noise=jnp.zeros((self.num_pairs, genotypes.shape[1]), jnp.float32),
            stats=StepStats(zero, zero, zero, jnp.int32(0)),
            best_fitness=jnp.float32(-jnp.inf),
            best_genotype=jnp.zeros_like(genotypes[0]),
            cell_fitness=empty,
        )
        return self._record(state, genotypes, fitness, descriptors)

    def _record(self, state, genotypes, fitness, descriptors) -> NSESState:
        """Fold evaluated rows into the best-so-far and the coverage grid."""
        i = jnp.argmax(fitness)  # first of equals
        better = fitness[i] > state.best_fitness
        return state.replace(
            best_fitness=jnp.where(better, fitness[i], state.best_fitness),
            best_genotype=jnp.where(better, genotypes[i], state.best_genotype),
            cell_fitness=self._reach(state.cell_fitness, fitness, descriptors),
        )

    def ask(self, key, state: NSESState, params):
        """Choose a member and perturb it.

        Returns:
            ``(2n, D)`` genotypes, ``theta_m + sigma eps_i`` for ``i < n``
            then ``theta_m - sigma eps_i`` (clipped to the task's bounds,
            if any), and the state holding ``m`` and the ``eps_i``.
        """
        k_parent, k_noise = jax.random.split(key)
        meta = state.meta
        member_novelty = archive_novelty(
            meta.descriptors, state.archive, self.num_neighbours
        )
        probs = parent_probabilities(member_novelty)
        parent = jax.random.choice(k_parent, self.meta_population_size, p=probs)
        noise = jax.random.normal(k_noise, state.noise.shape, jnp.float32)
        theta = meta.genotypes[parent]
        step = params.sigma * noise
        genotypes = self._clip(jnp.concatenate([theta + step, theta - step]))
        stats = state.stats._replace(
            parent_novelty=jnp.maximum(member_novelty[parent], 0.0)
        )
        state = state.replace(parent=parent.astype(jnp.int32), noise=noise, stats=stats)
        return genotypes, state

    def tell(self, key, genotypes, fitness, descriptors, state: NSESState, params):
        """Score the perturbations and take one Adam step on ``theta_m``.

        The archive is not touched here: score :meth:`updated` and hand it
        to :meth:`add`.

        Returns:
            ``(state, StepStats)``.
        """
        del key
        n = self.num_pairs
        if genotypes.shape[0] != 2 * n:
            raise ValueError(
                f"tell needs 2 * num_pairs ({2 * n}) rows, got {genotypes.shape[0]}"
            )
        genotypes = jnp.asarray(genotypes, jnp.float32)
        fitness = _clean(fitness)
        descriptors = jnp.asarray(descriptors, jnp.float32)
        scores = archive_novelty(descriptors, state.archive, self.num_neighbours)
        u = perturbation_scores(scores, fitness, self.variant)
        g = antithetic_gradient(state.noise, u[:n], u[n:])

        meta, m = state.meta, state.parent
        theta = meta.genotypes[m]
        member = jax.tree.map(lambda x: x[m], meta.opt_state)
        updates, member = _adam(params).update(
            -g + params.weight_decay * theta, member, theta
        )
        theta = self._clip(optax.apply_updates(theta, updates))
        meta = meta.replace(
            genotypes=meta.genotypes.at[m].set(theta),
            opt_state=jax.tree.map(
                lambda all_, one: all_.at[m].set(one), meta.opt_state, member
            ),
        )
        is_finite = jnp.isfinite(scores)
        count = jnp.sum(is_finite)
        mean = jnp.sum(jnp.where(is_finite, scores, 0.0)) / jnp.maximum(count, 1)
        stats = state.stats._replace(
            mean_novelty=mean.astype(jnp.float32),
            grad_norm=jnp.linalg.norm(g).astype(jnp.float32),
            num_rejected=(2 * n - count).astype(jnp.int32),
        )
        state = state.replace(meta=meta, stats=stats)
        return self._record(state, genotypes, fitness, descriptors), stats

    def updated(self, state: NSESState) -> jax.Array:
        """``(1, D)``: the member :meth:`tell` just moved, to be scored."""
        return state.meta.genotypes[state.parent][None]

    def add(self, genotypes, fitness, descriptors, state: NSESState):
        """Record the updated member's evaluation and archive its descriptor
        (ring insertion; a NaN descriptor is not archived).

        Args:
            genotypes: ``(1, D)``, from :meth:`updated`.
            fitness, descriptors: its ``(1,)`` and ``(1, K)`` scores.

        Returns:
            ``(state, NSESMetrics)``.
        """
        genotypes = jnp.asarray(genotypes, jnp.float32)
        fitness = _clean(fitness)
        descriptors = jnp.asarray(descriptors, jnp.float32)
        archive, done = insert_ring(
            state.archive, genotypes, fitness, descriptors, jnp.zeros((1,)), 1
        )
        meta, m = state.meta, state.parent
        meta = meta.replace(
            fitness=meta.fitness.at[m].set(fitness[0]),
            descriptors=meta.descriptors.at[m].set(descriptors[0]),
        )
        state = state.replace(archive=archive, meta=meta)
        state = self._record(state, genotypes, fitness, descriptors)
        return state, self._metrics(state, fitness[0], done.num_rejected)

    def _metrics(self, state: NSESState, theta_fitness, num_rejected) -> NSESMetrics:
        cell_fitness = state.cell_fitness
        reached = cell_fitness > -jnp.inf
        size = jnp.sum(reached, dtype=jnp.int32)
        total = jnp.sum(jnp.where(reached, cell_fitness, 0.0))
        coverage = (
            jnp.mean(reached, dtype=jnp.float32) if reached.size else jnp.float32(0)
        )
        mean = jnp.where(size > 0, total / jnp.maximum(size, 1), -jnp.inf)
        stats = state.stats
        return NSESMetrics(
            coverage=coverage,
            archive_coverage=archive_coverage(state.archive, self.coverage_grid),
            archive_size=state.archive.size,
            qd_score=(total - self.qd_offset * size).astype(jnp.float32),
            max_fitness=state.best_fitness,
            mean_fitness=mean.astype(jnp.float32),
            theta_fitness=theta_fitness,
            parent_novelty=stats.parent_novelty,
            mean_novelty=stats.mean_novelty,
            grad_norm=stats.grad_norm,
            num_rejected=stats.num_rejected + num_rejected,
        )


def _adam(params) -> optax.GradientTransformation:
    """Adam with the (possibly traced) step size of ``params``."""
    return optax.adam(params.learning_rate)


def _clean(fitness) -> jax.Array:
    fitness = jnp.asarray(fitness, jnp.float32)
    return jnp.where(jnp.isnan(fitness), -jnp.inf, fitness)
