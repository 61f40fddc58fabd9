"""Novelty search on a task as an engine program, and ``make_run`` for
notebooks.

``make_program(config, task)`` gives the engine ``init`` (score a first
population drawn uniformly in the task's initial box) and one generation as
``step`` (ask, score, tell); ``make_run`` scans the same program in one
piece, so ``jax.jit(jax.vmap(run, in_axes=(0, None)))`` runs many seeds in
one compilation.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.algos.map_elites.archive import grid_archive
from jaxrl.algos.map_elites.artifacts import write_qd_artifacts
from jaxrl.algos.map_elites.config import (
    TASK_GENOTYPE_DIM,
    as_task,
    descriptor_box,
    number_or_task,
)
from jaxrl.algos.map_elites.emitters import make_emitter
from jaxrl.algos.novelty_search.archive import empty_archive
from jaxrl.algos.novelty_search.config import (
    MAX_COVERAGE_CELLS,
    Config,
    HParams,
    check_hparams,
)
from jaxrl.algos.novelty_search.novelty_search import (
    NoveltySearch,
    NoveltySearchState,
    NSMetrics,
)
from jaxrl.program import Curve, Program, last_values, scan_program

METRICS = NSMetrics._fields


@struct.dataclass
class RunState:
    """Everything a run carries from one generation to the next."""

    ns: NoveltySearchState  # archive, population, threshold, coverage grid
    key: jax.Array  # typed PRNG key
    iteration: jax.Array  # () int32, generations done


def resolve_config(config: Config, task) -> Config:
    """``config`` with ``"task"`` descriptor bounds replaced by the task's
    (only when the task's are the same on every axis) and ``genotype_dim`` 0
    by the task's size."""
    changes: dict[str, Any] = {}
    if config.genotype_dim == TASK_GENOTYPE_DIM:
        changes["genotype_dim"] = task.genotype_dim
    for name, values in (
        ("descriptor_low", task.descriptor_low),
        ("descriptor_high", task.descriptor_high),
    ):
        value = number_or_task(config, name)
        if value is None and len(set(values)) == 1:
            changes[name] = float(values[0])
        elif isinstance(getattr(config, name), str) and value is not None:
            changes[name] = value  # "1.5" from the command line
    return dataclasses.replace(config, **changes) if changes else config


def build_algorithm(config: Config, task) -> NoveltySearch:
    """The :class:`NoveltySearch` that ``config`` describes, on ``task``.

    Raises:
        ValueError: the coverage grid would exceed ``MAX_COVERAGE_CELLS``.
    """
    low, high = descriptor_box(config, task)
    num_cells = config.coverage_cells ** len(low)
    if num_cells > MAX_COVERAGE_CELLS:
        raise ValueError(
            f"Config.coverage_cells: {config.coverage_cells}^{len(low)} = "
            f"{num_cells} cells exceeds {MAX_COVERAGE_CELLS}; lower it"
        )
    grid = grid_archive(1, (config.coverage_cells,) * len(low), low, high)
    return NoveltySearch(
        archive=empty_archive(
            config.archive_capacity, config.genotype_dim, task.descriptor_dim
        ),
        emitter=make_emitter(config.emitter, task.genotype_bounds, task.initial_bounds),
        population_size=config.population_size,
        batch_size=config.batch_size,
        num_neighbours=config.num_neighbours,
        variant=config.variant,
        insertion=config.insertion,
        ring_insertions=config.ring_insertions,
        coverage_grid=grid,
        threshold_patience=config.threshold_patience,
        threshold_burst=config.threshold_burst,
    )


def make_program(
    config: Config,
    task,
    target: str | None = None,
    *,
    genotype_bounds: tuple[float, float] | None = None,
    init_bounds: tuple[float, float] | None = None,
) -> Program:
    """Novelty search as an engine program: one step is one generation.

    Args:
        config: static sizes, variant, archive and emitter.
        task: a :class:`jaxrl.envs.qd.Task`, or a bare ``score(genotypes,
            key) -> (fitness, descriptors, extras)``; then the config's
            descriptor bounds must be numbers, and ``genotype_bounds`` or
            ``init_bounds`` says where genotypes live.
        target: the task's id, recorded in the run directory.

    Returns:
        A :class:`jaxrl.program.Program` over :class:`RunState` whose metrics
        are :class:`NSMetrics`; the primary metric is ``coverage`` (the share
        of a ``coverage_cells``-per-axis grid over the descriptor box that
        any evaluation reached: MAP-Elites' coverage on the same grid).
        ``work_per_step`` is ``batch_size`` evaluations.
    """
    if not isinstance(config, Config):
        raise TypeError(
            f"config must be a novelty_search.Config, got {type(config).__name__}"
        )
    task = as_task(task, config, genotype_bounds, init_bounds)
    config = resolve_config(config, task)
    algorithm = build_algorithm(config, task)
    return Program(
        init=lambda key, hparams: _init(algorithm, task, key, hparams),
        step=lambda state, hparams: _step(algorithm, task, state, hparams),
        num_steps=config.num_iterations,
        work_per_step=config.batch_size,
        work_unit="evaluations",
        final=final_scores,
        primary="coverage",
        curves=(
            Curve("coverage", "coverage"),
            Curve("archive_size", "archive size"),
            Curve("max_fitness", "max fitness"),
            Curve("mean_novelty", "mean novelty"),
        ),
        lower_is_better=("num_rejected", "num_overflow"),
        is_healthy=_is_healthy,
        check_hparams=check_hparams,
        artifacts=lambda state, run_dir: write_qd_artifacts(
            run_dir, task.name, state.ns.archive
        ),
        description={
            "algorithm": "novelty-search",
            "target": target or task.name,
            "config": dataclasses.asdict(config),
        },
    )


def _init(algorithm: NoveltySearch, task, key: jax.Array, hparams) -> RunState:
    key, k_genotypes, k_score, k_init = jax.random.split(key, 4)
    low, high = task.initial_bounds
    shape = (algorithm.population_size, task.genotype_dim)
    genotypes = jax.random.uniform(k_genotypes, shape, jnp.float32, low, high)
    fitness, descriptors, _ = task(genotypes, k_score)
    ns = algorithm.init(k_init, genotypes, fitness, descriptors, hparams)
    return RunState(ns=ns, key=key, iteration=jnp.int32(0))


def _step(algorithm: NoveltySearch, task, state: RunState, hparams):
    key, k_ask, k_score, k_tell = jax.random.split(state.key, 4)
    genotypes, ns = algorithm.ask(k_ask, state.ns, hparams)
    fitness, descriptors, _ = task(genotypes, k_score)
    ns, metrics = algorithm.tell(k_tell, genotypes, fitness, descriptors, ns, hparams)
    return RunState(ns=ns, key=key, iteration=state.iteration + 1), metrics


def _is_healthy(state: RunState) -> jax.Array:
    """False once an archive member or the population holds a non-finite
    genotype, or an archive member a NaN fitness or descriptor."""
    archive, population = state.ns.archive, state.ns.population
    valid = archive.is_valid[..., None]
    finite = jnp.all(jnp.where(valid, jnp.isfinite(archive.genotypes), True))
    finite &= jnp.all(jnp.where(valid, ~jnp.isnan(archive.descriptors), True))
    finite &= jnp.all(jnp.isfinite(population.genotypes))
    return finite & ~jnp.any(jnp.isnan(archive.fitness))


# the last iteration's value of every metric, per run
final_scores = last_values(METRICS)


def make_run(
    config: Config,
    task,
    *,
    genotype_bounds: tuple[float, float] | None = None,
    init_bounds: tuple[float, float] | None = None,
):
    """Novelty search's whole run in one function (the notebook path).

    Returns:
        ``run(key, hparams=HParams()) -> TrainOutput``, pure and
        jit/vmap-able; ``out.metrics`` is :class:`NSMetrics` with a leading
        ``[num_iterations]`` axis and ``out.state.ns.archive`` the archive.
    """
    program = make_program(
        config, task, genotype_bounds=genotype_bounds, init_bounds=init_bounds
    )
    return scan_program(program, HParams())
