"""AURORA (Grillotti & Cully): quality-diversity in a learned behaviour
space, with explicit state.

::

    aurora = Aurora(container, model, emitter, batch_size=100, ...)
    state = aurora.init(key, genotypes, fitness, descriptors, observations, hp)
    genotypes, state = aurora.ask(key, state, hp)
    fitness, descriptors, extras = task(genotypes, key)
    state, metrics = aurora.tell(key, genotypes, fitness, descriptors,
                                 extras["observation"], state, hp)

A solution's descriptor is the latent code of its observation under an
autoencoder (:mod:`.encoder`) that is trained inside the loop on the
observations of the container's members (:mod:`.container`). ``descriptors``
given to ``init`` and ``tell`` are the task's hand-coded ones: they are only
stored for the coverage metrics, on the task's own grid, so that runs compare
with other QD algorithms; selection and insertion never see them.

One iteration (``ask`` + ``tell``), after QDax's AURORA (PAPERS section 8):

- parents drawn uniformly from the members, varied by a MAP-Elites emitter;
- the offspring's observations encoded with the current encoder and inserted
  with the current distance threshold ``l``;
- on the iterations of the training schedule, the autoencoder is trained on
  the members' observations (statistics refitted), every stored observation
  is re-encoded and the container rebuilt from the new codes. Every
  training starts again from the parameters drawn at init, with a fresh
  Adam state (QDax's example passes its initial ``model_params`` to each
  ``aurora.train``; ``warm_start`` continues from the last training
  instead), on ``C`` rows drawn with replacement from the members
  (:mod:`.encoder`). The gaps
  between trainings grow linearly: with base ``b`` the trainings come after
  ``b, 3b, 6b, 10b, ...`` iterations (QDax: ``b`` = 2 scans, 2, 6, 12, 20);
- on the size-control iterations, ``control_start + k * control_every``, the
  size control of ``l``: ``e = size - target``,
  ``l <- l + K e + K (e - e_prev)``, and the container is rebuilt with the
  new ``l`` (every member re-inserted, as QDax does), so it thins out at
  once when ``l`` grows. A size-control iteration that is also a training
  iteration only trains (QDax's ``if train ... elif control``); with the
  defaults they never meet: QDax controls after scans 1, 3, 5, ... of 5
  iterations (iterations 5, 15, 25, ...) and trains after scans 2, 6, 12,
  ... (iterations 10, 30, 60, ...).

``init`` inserts the first batch with the fresh encoder, then trains the
autoencoder on it and rebuilds the container (QDax trains at iteration 0,
before the loop; this training is not one of the schedule's), and sets
``e_prev = size - target`` (QDax's notebook initialises it so).

Departures from QDax's example that remain: the autoencoder is an MLP on
the flat observation, not an LSTM seq2seq, with its own normalisation
(:mod:`.encoder`); the example trains twice before its loop (inside
``aurora.init`` and again right after it, both from the initial parameters,
the second on the container the first rebuilt), jaxrl once; the schedule
counts iterations, not scans of 5 (the numbers are QDax's times 5, see
:mod:`.config`).

Fitness is maximised. Nothing here is jitted: the caller jits.
"""

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.algos.aurora.container import (
    Container,
    insert,
    rebuild,
    size_control,
)
from jaxrl.algos.aurora.encoder import (
    AutoEncoder,
    Normaliser,
    encode,
    fit_normaliser,
    normalise,
    train,
)
from jaxrl.algos.map_elites.archive import Archive, cell_index
from jaxrl.algos.novelty_search.archive import Inserted
from jaxrl.algos.novelty_search.novelty_search import archive_coverage


@struct.dataclass
class AuroraState:
    """What AURORA carries between iterations."""

    container: Container
    encoder_params: Any  # the autoencoder's parameters
    initial_params: Any  # its parameters at init (trainings start here)
    normaliser: Normaliser  # observation statistics of the last training
    threshold: jax.Array  # () float32: l
    previous_error: jax.Array  # () float32: e of the last size control (or init's)
    iteration: jax.Array  # () int32: tells done
    next_training: jax.Array  # () int32: the iteration of the next training
    training_gap: jax.Array  # () int32: iterations between the last two trainings
    num_trainings: jax.Array  # () int32: trainings so far (init's included)
    training_loss: jax.Array  # () float32: last training's last-epoch loss
    best_fitness: jax.Array  # () float32: best fitness evaluated so far
    best_genotype: jax.Array  # (D,) float32: its genotype
    is_reached: jax.Array  # (G,) bool: task-grid cells any evaluation reached
    emitter_state: Any  # the emitter's own pytree; () for the stateless ones


class AuroraMetrics(NamedTuple):
    """Per-iteration metrics (scalars; a leading time axis once scanned).

    The names shared with novelty search's ``NSMetrics`` and MAP-Elites'
    ``QDMetrics`` mean the same; the grids are the task's descriptor grid.
    """

    coverage: jax.Array  # () float32: task-grid cells reached by any evaluation
    archive_coverage: jax.Array  # () float32: task-grid cells holding a member
    qd_score: jax.Array  # () float32: per task-grid cell, best member - offset
    max_fitness: jax.Array  # () float32: best fitness evaluated so far
    mean_fitness: jax.Array  # () float32: over members (-inf when empty)
    archive_size: jax.Array  # () int32: members in the container
    threshold: jax.Array  # () float32: l after this iteration
    reconstruction_loss: jax.Array  # () float32: this batch's, before training
    training_loss: jax.Array  # () float32: last training's last epoch (0: none)
    num_trainings: jax.Array  # () int32: autoencoder trainings so far (init's too)
    num_inserted: jax.Array  # () int32: offspring added to the container
    num_overflow: jax.Array  # () int32: no empty slot left for them
    num_rejected: jax.Array  # () int32: non-finite observation/code, NaN task
    # descriptor, NaN or -inf fitness: never inserted


def run_if(pred: jax.Array, fn, operand):
    """``fn(operand)`` when ``pred`` holds, else ``operand`` (same tree).

    WARN: under ``vmap`` the predicate is batched (every run carries its own
    iteration count), and ``lax.cond`` with a batched predicate runs both
    branches at every call: the autoencoder would train at every iteration.
    A ``while_loop`` runs its body while the predicate holds in some run, so
    with a schedule that every run shares the training runs only on the
    iterations that train (and once without ``vmap``, like ``lax.cond``).
    """

    def body(carry):
        return jnp.bool_(False), fn(carry[1])

    return jax.lax.while_loop(lambda carry: carry[0], body, (pred, operand))[1]


def is_training_iteration(iteration, next_training) -> jax.Array:
    return jnp.asarray(iteration) == jnp.asarray(next_training)


def advance_schedule(next_training, training_gap, base: int):
    """The schedule after a training: the gap grows by ``base``."""
    gap = training_gap + base
    return next_training + gap, gap


@dataclasses.dataclass(frozen=True, eq=False)
class Aurora:
    """AURORA with an unstructured container (see the module doc).

    Attributes:
        container: an empty :class:`Container` (its shapes are used).
        model: the :class:`AutoEncoder`.
        emitter: a MAP-Elites emitter (``map_elites.make_emitter``).
        batch_size: offspring per :meth:`ask`.
        target_size: ``N_target`` of the size control.
        train_batch_size: minibatch rows of the training.
        num_epochs: epochs per training up to iteration ``late_after``.
        num_epochs_late: epochs per training after it.
        late_after: see above.
        schedule_base: the first training's iteration; gaps grow by it.
        control_every: iterations between two size controls.
        control_start: the first size control's iteration; the control
            runs on ``control_start + k * control_every`` unless it trains.
        warm_start: every training starts from the last one's parameters
            (False, as QDax's example: from the parameters drawn at init).
        coverage_grid: an empty MAP-Elites grid over the task's descriptor
            box; only its cells are used (coverage and QD score), or None.
        qd_offset: subtracted from every fitness in ``qd_score``.
    """

    container: Container
    model: AutoEncoder
    emitter: Any
    batch_size: int
    target_size: int = 1024
    train_batch_size: int = 128
    num_epochs: int = 100
    num_epochs_late: int = 25
    late_after: int = 500
    schedule_base: int = 10
    control_every: int = 10
    control_start: int = 5
    warm_start: bool = False
    coverage_grid: Archive | None = None
    qd_offset: float = 0.0

    def _reach(self, is_reached, fitness, descriptors):
        if self.coverage_grid is None:
            return is_reached
        # as novelty search and MAP-Elites: a NaN descriptor reaches nothing,
        # one outside the box counts in the edge cell it clips to
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

    def _parents(self, container: Container) -> Archive:
        """The members as a MAP-Elites archive (empty slots at ``-inf``), so
        that MAP-Elites' emitters draw parents uniformly from them."""
        return Archive(
            genotypes=container.genotypes,
            fitness=jnp.where(container.is_valid, 0.0, -jnp.inf),
            descriptors=container.descriptors,
            centroids=jnp.zeros_like(container.descriptors),
        )

    def init(self, key, genotypes, fitness, descriptors, observations, params):
        """State from a first, already scored batch: a fresh autoencoder and
        statistics of this batch's observations, the batch inserted with
        ``l = params.initial_threshold``, then the autoencoder trained on the
        members (``num_epochs``) and the container rebuilt from their new
        codes; ``e_prev = size - target_size``."""
        k_model, k_train, k_emitter = jax.random.split(key, 3)
        genotypes = jnp.asarray(genotypes, jnp.float32)
        fitness = _clean(fitness)
        observations = jnp.asarray(observations, jnp.float32)
        encoder_params = self.model.init(k_model, observations[:1])
        usable = jnp.all(jnp.isfinite(observations), axis=-1)
        normaliser = fit_normaliser(
            jnp.where(usable[:, None], observations, 0.0), usable
        )
        latent = encode(self.model, encoder_params, normaliser, observations)
        threshold = jnp.asarray(params.initial_threshold, jnp.float32)
        empty = jax.tree.map(jnp.zeros_like, self.container).replace(
            fitness=jnp.full_like(self.container.fitness, -jnp.inf)
        )
        container, _ = insert(
            empty, genotypes, fitness, latent, descriptors, observations, threshold
        )
        num_cells = 0 if self.coverage_grid is None else self.coverage_grid.num_cells
        is_reached = self._reach(jnp.zeros((num_cells,), bool), fitness, descriptors)
        best = self._best(
            jnp.float32(-jnp.inf), jnp.zeros_like(genotypes[0]), genotypes, fitness
        )
        base = jnp.int32(self.schedule_base)
        state = AuroraState(
            container=container,
            encoder_params=encoder_params,
            initial_params=encoder_params,
            normaliser=normaliser,
            threshold=threshold,
            previous_error=jnp.float32(0.0),
            iteration=jnp.int32(0),
            next_training=base,
            training_gap=base,
            num_trainings=jnp.int32(0),
            training_loss=jnp.float32(0.0),
            best_fitness=best[0],
            best_genotype=best[1],
            is_reached=is_reached,
            emitter_state=(),
        )
        state = self._fit(k_train, state, params)
        error = state.container.size.astype(jnp.float32) - self.target_size
        return state.replace(
            previous_error=error,
            emitter_state=self.emitter.init(k_emitter, self._parents(state.container)),
        )

    def ask(self, key, state: AuroraState, params):
        """``(batch_size, D)`` offspring of the members, and the state."""
        genotypes, emitter_state = self.emitter.ask(
            key, self._parents(state.container), state.emitter_state, params,
            self.batch_size,
        )  # fmt: skip
        return genotypes, state.replace(emitter_state=emitter_state)

    def encode(self, state: AuroraState, observations) -> jax.Array:
        """``(N, L)`` latent codes of ``(N, O)`` observations under the
        state's encoder and statistics."""
        return encode(self.model, state.encoder_params, state.normaliser, observations)

    def tell(self, key, genotypes, fitness, descriptors, observations, state, params):
        """Encode and insert a scored batch, then train or control ``l`` as
        the schedule says.

        Returns:
            ``(state, AuroraMetrics)``.
        """
        k_train, k_emitter = jax.random.split(key)
        genotypes = jnp.asarray(genotypes, jnp.float32)
        fitness = _clean(fitness)
        observations = jnp.asarray(observations, jnp.float32)
        x = normalise(state.normaliser, observations)
        reconstruction, latent = self.model.apply(state.encoder_params, x)
        errors = jnp.mean((reconstruction - x) ** 2, axis=-1)
        container, done = insert(
            state.container, genotypes, fitness, latent, descriptors, observations,
            state.threshold,
        )  # fmt: skip
        best_fitness, best_genotype = self._best(
            state.best_fitness, state.best_genotype, genotypes, fitness
        )
        iteration = state.iteration + 1
        state = state.replace(
            container=container,
            iteration=iteration,
            best_fitness=best_fitness,
            best_genotype=best_genotype,
            is_reached=self._reach(state.is_reached, fitness, descriptors),
        )
        is_training = is_training_iteration(iteration, state.next_training)
        state = run_if(is_training, lambda s: self._train(k_train, s, params), state)
        is_control = ~is_training & self.is_control_iteration(iteration)
        state = run_if(is_control, lambda s: self._control(s, params), state)
        emitter_state = self.emitter.tell(
            k_emitter, genotypes, fitness, latent, self._parents(state.container),
            state.emitter_state, params,
        )  # fmt: skip
        state = state.replace(emitter_state=emitter_state)
        finite = jnp.isfinite(errors)
        loss = jnp.sum(jnp.where(finite, errors, 0.0)) / jnp.maximum(jnp.sum(finite), 1)
        return state, self._metrics(state, loss, done)

    def _train(self, key, state: AuroraState, params) -> AuroraState:
        """A training of the schedule: :meth:`_fit`, then the schedule
        advanced."""
        state = self._fit(key, state, params)
        next_training, gap = advance_schedule(
            state.next_training, state.training_gap, self.schedule_base
        )
        return state.replace(next_training=next_training, training_gap=gap)

    def _fit(self, key, state: AuroraState, params) -> AuroraState:
        """Train the autoencoder on the members (from the initial parameters,
        or the last training's with ``warm_start``), re-encode every stored
        observation, rebuild the container."""
        container = state.container
        epochs = jnp.where(
            state.iteration <= self.late_after, self.num_epochs, self.num_epochs_late
        )
        start = state.encoder_params if self.warm_start else state.initial_params
        trained = train(
            key, self.model, start, container.observations, container.is_valid,
            epochs, params.learning_rate, self.train_batch_size,
        )  # fmt: skip
        latent = encode(
            self.model, trained.params, trained.normaliser, container.observations
        )
        return state.replace(
            container=rebuild(container, latent, state.threshold),
            encoder_params=trained.params,
            normaliser=trained.normaliser,
            num_trainings=state.num_trainings + 1,
            training_loss=trained.loss,
        )

    def is_control_iteration(self, iteration) -> jax.Array:
        """``control_start + k * control_every`` (``k >= 0``); the training
        iterations among them only train."""
        since = jnp.asarray(iteration) - self.control_start
        return (since >= 0) & (since % self.control_every == 0)

    def _control(self, state: AuroraState, params) -> AuroraState:
        """The size control of ``l``, then the container rebuilt with it."""
        container, threshold, error = size_control(
            state.container, state.threshold, state.previous_error,
            self.target_size, params.control_gain,
        )  # fmt: skip
        return state.replace(
            container=container, threshold=threshold, previous_error=error
        )

    def _metrics(self, state: AuroraState, loss, done: Inserted) -> AuroraMetrics:
        container = state.container
        size = container.size
        fitness = jnp.where(container.is_valid, container.fitness, 0.0)
        mean = jnp.where(size > 0, jnp.sum(fitness) / jnp.maximum(size, 1), -jnp.inf)
        grid = self.coverage_grid
        task_view = container.replace(descriptors=container.task_descriptors)
        return AuroraMetrics(
            coverage=jnp.mean(state.is_reached, dtype=jnp.float32)
            if state.is_reached.size
            else jnp.float32(0),
            archive_coverage=archive_coverage(task_view, grid),
            qd_score=grid_qd_score(container, grid, self.qd_offset),
            max_fitness=state.best_fitness,
            mean_fitness=mean.astype(jnp.float32),
            archive_size=size,
            threshold=state.threshold,
            reconstruction_loss=jnp.asarray(loss, jnp.float32),
            training_loss=state.training_loss,
            num_trainings=state.num_trainings,
            num_inserted=done.num_inserted,
            num_overflow=done.num_overflow,
            num_rejected=done.num_rejected,
        )


def grid_qd_score(container: Container, grid: Archive | None, offset) -> jax.Array:
    """``() float32``: MAP-Elites' QD score of the members placed on the
    task's grid by their task descriptors: per cell holding members, the best
    member's fitness minus ``offset``, summed; 0 without a grid."""
    if grid is None:
        return jnp.float32(0)
    cells = cell_index(grid, container.task_descriptors)
    cells = jnp.where(container.is_valid, cells, grid.num_cells)
    fitness = jnp.where(container.is_valid, container.fitness, -jnp.inf)
    best = jax.ops.segment_max(fitness, cells, num_segments=grid.num_cells + 1)
    best = best[: grid.num_cells]
    filled = best > -jnp.inf
    return jnp.sum(jnp.where(filled, best - offset, 0.0)).astype(jnp.float32)


def _clean(fitness) -> jax.Array:
    fitness = jnp.asarray(fitness, jnp.float32)
    return jnp.where(jnp.isnan(fitness), -jnp.inf, fitness)
