"""SERENE (Paolo, Coninx, Doncieux, Laflaquiere, GECCO 2021): novelty search
that hands whatever found reward to reward-exploiting emitters, with
explicit state.

::

    se = Serene(config, descriptor_dim=2, grid=coverage_grid,
                genotype_bounds=(-5.0, 5.0), reward="solved")
    state = se.init(key, genotypes, fitness, descriptors, hparams, extras)
    genotypes, state = se.ask(key, state, hparams)
    fitness, descriptors, extras = task(genotypes, key)
    state, metrics = se.tell(key, genotypes, fitness, descriptors, state,
                             hparams, extras)

One call of ``ask`` + ``tell`` is one generation of ``batch_size``
evaluations. Generations are grouped in chunks of ``chunk_size``
evaluations; chunks alternate between exploration and exploitation:

- **Novelty search** (every row in an exploration chunk): 2 Gaussian
  offspring per parent (parents tiled over the batch), novelty = mean
  distance to the k nearest among the novelty archive, the reward archive,
  the population and the offspring; the ``population_size`` most novel of
  population and offspring survive; ``archive_insertions`` random offspring
  join the novelty archive (a ring). Every individual with reward > 0 seen
  for the first time enters the reward archive and becomes an emitter
  candidate, whose step size is the distance to its nearest other genome in
  population and offspring divided by ``sigma_divisor`` (``mutation_sigma``
  when that distance is 0).
- **Emitters** (an exploitation chunk): free slots take waiting candidates,
  most novel against the reward archive first, while more than a third of
  the chunk is left. A candidate runs ``bootstrap_generations`` generations
  and is promoted to an emitter only if its improvement (mean of the last
  ``improvement_window`` reward lists minus the mean of the first) is above
  0. After each offspring generation (not a candidate's first), candidates
  and emitters archive rewarding members (their best if reward > 0, then
  only members that beat the best they archived); emitters buffer members
  more novel than their most novel agent so far, and stop on SERENE's
  stagnation test (or ``max_emitter_steps``). A stopped emitter's ancestor
  enters the reward archive and ``archive_insertions`` random buffered
  agents enter the novelty archive.
- An exploitation chunk with nothing to run (no running slot and no
  candidate it may start) is skipped, as SERENE skips it: an exploration
  chunk starts instead.

Fixed-shape choices (where SERENE's Python differs; see the README):

- ``num_emitters`` slots run side by side, each evaluating its ``2M``
  offspring every exploitation generation; SERENE runs one emitter at a
  time and picks it from a Pareto front of (ancestor novelty against the
  reward archive, improvement). Here every promoted emitter keeps its slot
  until it stops, candidates wait in a queue of ``candidate_capacity``
  (dropped, and counted, when it is full), and a bootstrap runs alongside
  the emitters instead of before them. With ``num_running`` > 0 only that
  many promoted emitters run, chosen by SERENE's rule at each exploitation
  chunk's start and when a chosen one stops (the others wait in their
  slots); a chosen emitter still evaluates ``2M`` rows a generation, the
  rest of the batch going to novelty search, where SERENE gives the whole
  chunk to it.
- Rows of an exploitation generation that no slot uses are novelty-search
  offspring, so every evaluation serves one side; ``emitter_share`` reports
  the split.
- A candidate's first generation evaluates ``2M`` samples around its
  ancestor and keeps the best ``M`` (SERENE evaluates ``M``).
- The novelty archive is a ring of ``archive_capacity``; the reward archive
  keeps its first ``reward_archive_capacity`` entries; a slot buffers its
  last ``feedback_capacity`` novel agents. SERENE's lists are unbounded.
- Novelty search measures novelty against the archives as they were
  before the generation; the emitters, after novelty search's insertions
  of that generation but before their own.
- Both phases' offspring are drawn every generation and a mask picks the
  rows (under ``vmap`` a phase flag cannot skip work); the task scores
  each generation's ``batch_size`` rows once.

Fitness is maximised. Nothing here is jitted: the caller jits (or scans,
see :func:`jaxrl.algos.serene.make_run`).
"""

import dataclasses
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.algos.map_elites.archive import Archive, insert
from jaxrl.algos.map_elites.emitters import gaussian_mutation, gene_range
from jaxrl.algos.map_elites.map_elites import archive_metrics
from jaxrl.algos.novelty_search.archive import (
    NoveltyArchive,
    empty_archive,
    insert_ring,
    insert_threshold,
    novelty,
)
from jaxrl.algos.novelty_search.novelty_search import selection_order
from jaxrl.algos.serene import emitters as em
from jaxrl.algos.serene.config import Config

NS_PHASE, EMITTER_PHASE = 0, 1


@struct.dataclass
class Population:
    """Novelty search's population (``P`` individuals)."""

    genotypes: jax.Array  # (P, D) float32
    fitness: jax.Array  # (P,) float32; NaN stored as -inf
    reward: jax.Array  # (P,) float32; NaN stored as -inf
    descriptors: jax.Array  # (P, K) float32
    is_used: jax.Array  # (P,) bool: already handed to the emitters


@struct.dataclass
class SereneState:
    """What SERENE carries between generations."""

    archive: NoveltyArchive  # novelty archive (a ring)
    reward_archive: NoveltyArchive  # rewarding agents; `fitness` holds reward
    population: Population
    queue: em.CandidateQueue
    slots: em.EmitterSlots
    grid: Archive  # coverage grid: the best of every evaluation per cell
    phase: jax.Array  # () int32: NS_PHASE or EMITTER_PHASE
    chunk_left: jax.Array  # () int32: generations left in the current chunk
    owner: jax.Array  # (B,) int32: slot that owns each row of the batch; -1: NS
    is_chosen: jax.Array  # (S,) bool: emitters that may run (num_running 0: all)
    max_reward: jax.Array  # () float32: best reward evaluated so far
    best_genotype: jax.Array  # (D,) float32: its genotype
    num_emitters: jax.Array  # () int32: candidates promoted to emitters so far
    num_stopped: jax.Array  # () int32: emitters stopped so far
    num_dropped: jax.Array  # () int32: candidates dropped, queue full
    num_evaluations: jax.Array  # () int32: evaluations so far (first population too)
    num_emitter_evaluations: jax.Array  # () int32: of those, by emitter slots


class SereneMetrics(NamedTuple):
    """Per-generation metrics (scalars; a leading time axis once scanned).

    The first six are MAP-Elites' :class:`QDMetrics` of the coverage grid,
    which holds the best fitness met in each cell by any evaluation.
    """

    coverage: jax.Array  # () float32: coverage-grid cells reached
    qd_score: jax.Array  # () float32: sum over reached cells of fitness - offset
    max_fitness: jax.Array  # () float32: best fitness evaluated so far
    mean_fitness: jax.Array  # () float32: over reached cells
    archive_size: jax.Array  # () int32: coverage-grid cells reached
    num_rejected: jax.Array  # () int32: this batch's rows with a NaN descriptor
    novelty_archive_size: jax.Array  # () int32: members of the novelty archive
    reward_archive_size: jax.Array  # () int32: members of the reward archive
    max_reward: jax.Array  # () float32: best reward evaluated so far
    has_reward: jax.Array  # () float32: 1 once any evaluation had reward > 0
    num_emitters: jax.Array  # () int32: candidates promoted to emitters so far
    num_stopped: jax.Array  # () int32: emitters stopped so far
    num_busy: jax.Array  # () int32: slots bootstrapping or running now
    num_candidates: jax.Array  # () int32: candidates waiting
    num_dropped: jax.Array  # () int32: candidates dropped so far (queue full)
    is_exploiting: jax.Array  # () float32: 1 when this generation was an emitter one
    emitter_share: jax.Array  # () float32: share of evaluations so far by emitters


def sparse_reward(kind: str, fitness, extras) -> jax.Array:
    """The reward SERENE exploits: ``fitness`` (``"fitness"``) or
    ``fitness`` where ``extras["is_solved"]``, else 0 (``"solved"``); NaN
    becomes ``-inf``.

    Raises:
        ValueError: ``"solved"`` without ``extras["is_solved"]``.
    """
    fitness = _clean(fitness)
    if kind == "solved":
        if not isinstance(extras, Mapping) or "is_solved" not in extras:
            raise ValueError(
                "reward 'solved' needs the task's extras['is_solved'] (a (N,) "
                f"bool); got extras {extras!r:.80}"
            )
        return jnp.where(extras["is_solved"], fitness, 0.0).astype(jnp.float32)
    return fitness


@dataclasses.dataclass(frozen=True, eq=False)
class Serene:
    """SERENE (see the module doc).

    Attributes:
        config: static sizes and schedule (``config.reward`` is ignored; see
            ``reward``).
        descriptor_dim: ``K``.
        grid: an empty MAP-Elites grid archive over the descriptor box, the
            coverage grid behind the QD metrics.
        genotype_bounds: ``(low, high)`` that offspring are clipped to, or None.
        reward: ``"fitness"`` or ``"solved"`` (:func:`sparse_reward`).
        qd_offset: subtracted from every fitness in ``qd_score``.
    """

    config: Config
    descriptor_dim: int
    grid: Archive
    genotype_bounds: tuple[float, float] | None = None
    reward: str = "fitness"
    qd_offset: float = 0.0

    def __post_init__(self):
        if self.reward not in ("fitness", "solved"):
            raise ValueError(
                f"reward must be 'fitness' or 'solved', got {self.reward!r}"
            )

    @property
    def gene_range(self) -> float:
        """The unit of ``mutation_sigma``, as for MAP-Elites' emitters."""
        return gene_range(self.genotype_bounds)

    # ------------------------------------------------------------------ init

    def init(self, key, genotypes, fitness, descriptors, params, extras=None):
        """State from a first, already scored population of ``population_size``."""
        c, K = self.config, self.descriptor_dim
        if genotypes.shape[0] != c.population_size:
            raise ValueError(
                f"init needs population_size ({c.population_size}) genotypes, "
                f"got {genotypes.shape[0]}"
            )
        del key, params
        genotypes = jnp.asarray(genotypes, jnp.float32)
        fitness = _clean(fitness)
        reward = sparse_reward(self.reward, fitness, extras)
        descriptors = jnp.asarray(descriptors, jnp.float32)
        grid = jax.tree.map(jnp.zeros_like, self.grid).replace(
            fitness=jnp.full_like(self.grid.fitness, -jnp.inf)
        )
        grid, _ = insert(grid, genotypes, fitness, descriptors)
        best = jnp.argmax(reward)
        n = jnp.int32(c.population_size)
        return SereneState(
            archive=empty_archive(c.archive_capacity, c.genotype_dim, K),
            reward_archive=empty_archive(c.reward_archive_capacity, c.genotype_dim, K),
            population=Population(
                genotypes,
                fitness,
                reward,
                descriptors,
                jnp.zeros((c.population_size,), bool),
            ),  # fmt: skip
            queue=em.empty_queue(c.candidate_capacity, c.genotype_dim, K),
            slots=em.empty_slots(
                c.num_emitters,
                c.emitter_population,
                c.genotype_dim,
                K,
                c.stagnation_window,
                c.feedback_capacity,
            ),  # fmt: skip
            grid=grid,
            phase=jnp.int32(NS_PHASE),
            chunk_left=jnp.int32(c.chunk_generations),
            owner=jnp.full((c.batch_size,), -1, jnp.int32),
            is_chosen=jnp.zeros((c.num_emitters,), bool),
            max_reward=reward[best],
            best_genotype=genotypes[best],
            num_emitters=jnp.int32(0),
            num_stopped=jnp.int32(0),
            num_dropped=jnp.int32(0),
            num_evaluations=n,
            num_emitter_evaluations=jnp.int32(0),
        )

    # ------------------------------------------------------------------- ask

    def ask(self, key, state: SereneState, params):
        """``(batch_size, D)`` genotypes to score, and the state (the phase
        of this generation and which rows belong to which slot)."""
        c = self.config
        k_ns, k_em = jax.random.split(key)
        # a chunk ends: the other phase's chunk starts
        over = state.chunk_left <= 0
        phase = jnp.where(over, 1 - state.phase, state.phase)
        chunk_left = jnp.where(over, c.chunk_generations, state.chunk_left)
        # exploitation: free slots take candidates while > 1/3 of the chunk is left
        exploit = phase == EMITTER_PHASE
        allowed = exploit & (3 * chunk_left > c.chunk_generations)
        priority = _novelty_against(
            state.queue.descriptors, state.reward_archive, c.num_neighbours
        )
        slots, queue = em.start_slots(state.slots, state.queue, priority, allowed)
        is_chosen = self._choose(key, state, slots, over, exploit)
        busy = (slots.mode == em.BOOTSTRAP) | is_chosen
        # nothing to run: the exploitation chunk is skipped, exploration starts
        skip = exploit & ~jnp.any(busy)
        phase = jnp.where(skip, NS_PHASE, phase)
        chunk_left = jnp.where(skip, c.chunk_generations, chunk_left)
        exploit = phase == EMITTER_PHASE

        row_slot = jnp.arange(c.batch_size) // c.emitter_batch
        in_slot = row_slot < c.num_emitters
        slot_busy = busy[jnp.minimum(row_slot, c.num_emitters - 1)]
        owner = jnp.where(exploit & in_slot & slot_busy, row_slot, -1)

        ns_rows = self._ns_offspring(k_ns, state.population, params, owner < 0)
        em_rows = em.offspring(k_em, slots, self.genotype_bounds).reshape(
            -1, c.genotype_dim
        )
        pad = c.batch_size - em_rows.shape[0]
        em_rows = jnp.pad(em_rows, ((0, pad), (0, 0)))
        genotypes = jnp.where((owner >= 0)[:, None], em_rows, ns_rows)
        state = state.replace(
            slots=slots, queue=queue, phase=phase.astype(jnp.int32),
            chunk_left=(chunk_left - 1).astype(jnp.int32), owner=owner,
            is_chosen=is_chosen,
        )  # fmt: skip
        return genotypes, state

    def _choose(self, key, state: SereneState, slots, new_chunk, exploit):
        """``(S,) bool``: the promoted emitters that run this generation.

        Every one with ``num_running`` 0; else SERENE's choice
        (:func:`em.choose_running`), made afresh at each chunk's start and
        topped up when a chosen emitter has stopped. WARN: the choice is
        made on every call (shapes are fixed); it changes nothing while the
        chosen emitters still run.
        """
        c = self.config
        running = slots.mode == em.RUNNING
        if not c.num_running:
            return running
        kept = state.is_chosen & ~new_chunk
        novelty_scores = _novelty_against(
            slots.ancestor_descriptor, state.reward_archive, c.num_neighbours
        )
        gain = em.improvement(slots, c.improvement_window, slots.initial_mean)
        chosen = em.choose_running(
            jax.random.fold_in(key, 2), kept, running, novelty_scores, gain,
            state.reward_archive.size > 0, c.num_running,
        )  # fmt: skip
        return chosen & exploit

    def _ns_offspring(self, key, population: Population, params, is_ns) -> jax.Array:
        """``(B, D)`` Gaussian offspring: the rows novelty search owns
        (``is_ns`` ``(B,)`` bool) take the population's parents in order,
        most novel first, tiled over those rows (2 offspring a parent when
        they number ``2P``, SERENE's setting); other rows are filler."""
        c = self.config
        rank = jnp.cumsum(is_ns.astype(jnp.int32)) - 1  # among the NS rows
        parents = population.genotypes[jnp.maximum(rank, 0) % c.population_size]
        x = gaussian_mutation(key, parents, params.mutation_sigma * self.gene_range)
        if self.genotype_bounds is not None:
            x = jnp.clip(x, *self.genotype_bounds)
        return x

    # ------------------------------------------------------------------ tell

    def tell(self, key, genotypes, fitness, descriptors, state, params, extras=None):
        """Novelty search on its rows, the emitters on theirs, the archives
        and the coverage grid on all.

        Returns:
            ``(state, SereneMetrics)``.
        """
        c = self.config
        k_archive, k_feedback = jax.random.split(key)
        genotypes = jnp.asarray(genotypes, jnp.float32)
        fitness = _clean(fitness)
        reward = sparse_reward(self.reward, fitness, extras)
        descriptors = jnp.asarray(descriptors, jnp.float32)
        is_ns = state.owner < 0
        grid, num_rejected = insert(state.grid, genotypes, fitness, descriptors)
        best = jnp.argmax(reward)
        better = reward[best] > state.max_reward
        state = state.replace(
            grid=grid,
            max_reward=jnp.where(better, reward[best], state.max_reward),
            best_genotype=jnp.where(better, genotypes[best], state.best_genotype),
            num_evaluations=state.num_evaluations + c.batch_size,
            num_emitter_evaluations=state.num_emitter_evaluations
            + jnp.sum(~is_ns, dtype=jnp.int32),
        )
        # novelty search sees only its own rows (the others: NaN descriptors)
        masked = jnp.where(is_ns[:, None], descriptors, jnp.nan)
        state = self._ns_tell(k_archive, state, genotypes, fitness, reward, masked,
                              params)  # fmt: skip
        state = self._emitter_tell(
            k_feedback, state, genotypes, fitness, reward, descriptors
        )
        return state, self._metrics(state, num_rejected)

    def _ns_tell(self, key, state, genotypes, fitness, reward, descriptors, params):
        c, pop = self.config, state.population
        pool_g = jnp.concatenate([pop.genotypes, genotypes])
        pool_f = jnp.concatenate([pop.fitness, fitness])
        pool_r = jnp.concatenate([pop.reward, reward])
        pool_d = jnp.concatenate([pop.descriptors, descriptors])
        is_finite = ~jnp.any(jnp.isnan(pool_d), axis=-1)
        reference = _union(state.archive, state.reward_archive)
        scores = novelty(pool_d, reference, c.num_neighbours)

        # rewarding individuals seen for the first time: candidates
        used = jnp.concatenate([pop.is_used, jnp.zeros(genotypes.shape[0], bool)])
        is_new = is_finite & (pool_r > 0) & ~used
        sigma = _emitter_sigma(pool_g, is_finite, params, self.gene_range)
        queue, dropped = em.push_candidates(
            state.queue, is_new, pool_g, pool_d, pool_f, pool_r, sigma
        )
        reward_archive, _ = insert_threshold(
            state.reward_archive, pool_g, pool_r, pool_d,
            is_new.astype(jnp.float32), 0.5,
        )  # fmt: skip

        keep = selection_order(scores, None, is_finite)[: c.population_size]
        population = Population(
            pool_g[keep], pool_f[keep], pool_r[keep], pool_d[keep],
            (used | is_new)[keep],
        )  # fmt: skip
        random_scores = jax.random.uniform(key, (genotypes.shape[0],))
        archive, _ = insert_ring(
            state.archive, genotypes, fitness, descriptors, random_scores,
            c.archive_insertions,
        )  # fmt: skip
        return state.replace(
            archive=archive, reward_archive=reward_archive, population=population,
            queue=queue, num_dropped=state.num_dropped + dropped,
        )  # fmt: skip

    def _emitter_tell(self, key, state, genotypes, fitness, reward, descriptors):
        c, slots = self.config, state.slots
        S, n = c.num_emitters, c.num_emitters * c.emitter_batch
        # rows of no slot point past the end, where the write is dropped
        target = jnp.where(state.owner >= 0, state.owner, S)
        active = jnp.zeros((S,), bool).at[target].set(True, mode="drop")

        def per_slot(x):
            return x[:n].reshape((S, c.emitter_batch) + x.shape[1:])

        slots = em.select(
            slots, active, per_slot(genotypes), per_slot(descriptors),
            per_slot(fitness), per_slot(reward),
        )  # fmt: skip
        slots = slots.replace(initial_mean=em.initial_mean(slots, c.improvement_window))
        # reward archive: SERENE's rule after every offspring generation, for
        # bootstraps and emitters alike (never a candidate's first generation)
        mask, best_archived = em.to_archive(slots, active)
        slots = slots.replace(best_archived=best_archived)

        # the novelty-search reference set: both archives and the population
        # (the reward archive before this generation's insertions)
        pop = state.population
        reference = _union(
            state.archive, state.reward_archive,
            _as_archive(pop.genotypes, pop.fitness, pop.descriptors),
        )  # fmt: skip
        running = active & (slots.mode == em.RUNNING)
        # one call for the members (S M rows) and the ancestors (S rows)
        rows = jnp.concatenate([
            slots.descriptors.reshape(-1, self.descriptor_dim),
            slots.ancestor_descriptor,
        ])  # fmt: skip
        scores = _novelty_against(rows, reference, c.num_neighbours)
        members = scores[: S * c.emitter_population].reshape(S, -1)
        slots = em.push_feedback(slots, running, members)

        # bootstraps that are done: promoted if they improved, else freed
        done = (
            active & (slots.mode == em.BOOTSTRAP)
            & (slots.num_values >= c.bootstrap_generations)
        )  # fmt: skip
        gain = em.improvement(slots, c.improvement_window, slots.initial_mean)
        promote = done & (gain > 0)
        ancestor = scores[S * c.emitter_population :]
        slots = slots.replace(
            mode=jnp.where(promote, em.RUNNING, jnp.where(done, em.FREE, slots.mode)),
            most_novel=jnp.where(promote, ancestor, slots.most_novel),
        )

        # emitters that stop: ancestor to the reward archive, feedback to NS
        ending = running & em.is_stagnant(slots, c.stagnation_span)
        if c.max_emitter_steps:
            ending |= running & (slots.steps >= c.max_emitter_steps)
        # one insertion: the members the archive rule picked, then the
        # ancestors of the emitters that stop
        reward_archive, _ = insert_threshold(
            state.reward_archive,
            _rows(slots.genotypes, slots.ancestor_genotype),
            _rows(slots.reward, slots.ancestor_reward),
            _rows(slots.descriptors, slots.ancestor_descriptor),
            _rows(mask, ending).astype(jnp.float32), 0.5,
        )  # fmt: skip
        fb_g, fb_f, fb_d = em.feedback_rows(key, slots, ending, c.archive_insertions)
        archive, _ = insert_ring(
            state.archive, fb_g, fb_f, fb_d, jnp.ones(fb_f.shape), fb_f.shape[0]
        )
        slots = slots.replace(mode=jnp.where(ending, em.FREE, slots.mode))
        return state.replace(
            slots=slots, archive=archive, reward_archive=reward_archive,
            num_emitters=state.num_emitters + jnp.sum(promote, dtype=jnp.int32),
            num_stopped=state.num_stopped + jnp.sum(ending, dtype=jnp.int32),
        )  # fmt: skip

    def _metrics(self, state: SereneState, num_rejected) -> SereneMetrics:
        qd = archive_metrics(state.grid, self.qd_offset, num_rejected)
        share = state.num_emitter_evaluations / state.num_evaluations
        return SereneMetrics(
            *qd,
            novelty_archive_size=state.archive.size,
            reward_archive_size=state.reward_archive.size,
            max_reward=state.max_reward,
            has_reward=(state.max_reward > 0).astype(jnp.float32),
            num_emitters=state.num_emitters,
            num_stopped=state.num_stopped,
            num_busy=jnp.sum(state.slots.mode != em.FREE, dtype=jnp.int32),
            num_candidates=jnp.sum(state.queue.is_valid, dtype=jnp.int32),
            num_dropped=state.num_dropped,
            is_exploiting=(state.phase == EMITTER_PHASE).astype(jnp.float32),
            emitter_share=share.astype(jnp.float32),
        )


def _rows(members: jax.Array, ancestors: jax.Array) -> jax.Array:
    """``(S M + S, ...)``: the slots' members as rows, then their ancestors."""
    flat = members.reshape((-1,) + ancestors.shape[1:])
    return jnp.concatenate([flat, ancestors])


def _emitter_sigma(genotypes, is_reference, params, gene_range) -> jax.Array:
    """``(N,)``: each row's distance to its nearest other reference row,
    divided by ``sigma_divisor``; ``mutation_sigma * gene_range`` where that
    distance is 0 (or there is no other row). Summed coordinate by
    coordinate."""
    diff = genotypes[:, None, :] - genotypes[None, :, :]
    dist = jnp.sqrt(jnp.sum(diff * diff, axis=-1))
    n = genotypes.shape[0]
    usable = is_reference[None, :] & ~jnp.eye(n, dtype=bool)
    nearest = jnp.min(jnp.where(usable, dist, jnp.inf), axis=1)
    ok = (nearest > 0) & jnp.isfinite(nearest)
    fallback = params.mutation_sigma * gene_range
    sigma = jnp.where(ok, nearest / params.sigma_divisor, fallback)
    return sigma.astype(jnp.float32)


def _novelty_against(descriptors, reference: NoveltyArchive, k: int) -> jax.Array:
    """``(N,)``: each row's novelty against ``reference`` alone (the other
    rows are not its neighbours)."""
    return jax.vmap(lambda d: novelty(d[None], reference, k)[0])(descriptors)


def _as_archive(genotypes, fitness, descriptors) -> NoveltyArchive:
    """Rows as a full novelty archive (rows with a NaN descriptor left out)."""
    return NoveltyArchive(
        descriptors=jnp.where(jnp.isnan(descriptors), 0.0, descriptors),
        genotypes=genotypes,
        fitness=fitness,
        is_valid=~jnp.any(jnp.isnan(descriptors), axis=-1),
        num_added=jnp.int32(0),
        num_overflow=jnp.int32(0),
    )


def _union(*archives: NoveltyArchive) -> NoveltyArchive:
    """One archive holding the members of several (for novelty only)."""
    joined: Any = jax.tree.map(lambda *xs: jnp.concatenate(xs), *[
        a.replace(num_added=a.num_added[None], num_overflow=a.num_overflow[None])
        for a in archives
    ])  # fmt: skip
    return joined.replace(num_added=jnp.int32(0), num_overflow=jnp.int32(0))


def _clean(fitness) -> jax.Array:
    fitness = jnp.asarray(fitness, jnp.float32)
    return jnp.where(jnp.isnan(fitness), -jnp.inf, fitness)
