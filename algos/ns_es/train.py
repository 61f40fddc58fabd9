"""NS-ES on a task as an engine program, and ``make_run`` for notebooks.

``make_program(config, task)`` gives the engine ``init`` (score a first
meta-population drawn uniformly in the task's initial box) and one
generation as ``step`` (ask, score the perturbations, tell, score the
updated member, add); ``make_run`` scans the same program in one piece, so
``jax.jit(jax.vmap(run, in_axes=(0, None)))`` runs many seeds in one
compilation.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.algos.map_elites.archive import grid_archive
from jaxrl.algos.map_elites.artifacts import write_qd_artifacts
from jaxrl.algos.map_elites.config import as_task, descriptor_box
from jaxrl.algos.map_elites.train import resolve_config
from jaxrl.algos.novelty_search.archive import empty_archive
from jaxrl.algos.ns_es.config import MAX_COVERAGE_CELLS, Config, HParams, check_hparams
from jaxrl.algos.ns_es.ns_es import NoveltyES, NSESMetrics, NSESState
from jaxrl.program import Curve, Program, last_values, scan_program

METRICS = NSESMetrics._fields


@struct.dataclass
class RunState:
    """Everything a run carries from one generation to the next."""

    es: NSESState  # archive, meta-population, Adam states, coverage grid
    key: jax.Array  # typed PRNG key
    iteration: jax.Array  # () int32, generations done


def build_algorithm(config: Config, task) -> NoveltyES:
    """The :class:`NoveltyES` that ``config`` describes, on ``task`` (whose
    ``"task"`` fields :func:`resolve_config` has filled in).

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
    return NoveltyES(
        archive=empty_archive(
            config.archive_capacity, config.genotype_dim, task.descriptor_dim
        ),
        meta_population_size=config.meta_population_size,
        num_pairs=config.num_pairs,
        num_neighbours=config.num_neighbours,
        variant=config.variant,
        genotype_bounds=task.genotype_bounds,
        coverage_grid=grid,
        qd_offset=float(config.qd_offset),
    )


def make_program(
    config: Config,
    task,
    target: str | None = None,
    *,
    genotype_bounds: tuple[float, float] | None = None,
    init_bounds: tuple[float, float] | None = None,
) -> Program:
    """NS-ES as an engine program: one step is one generation.

    Args:
        config: static sizes, variant and archive.
        task: a :class:`jaxrl.envs.qd.Task` (its genotype is the policy's
            flat parameter vector), or a bare ``score(genotypes, key) ->
            (fitness, descriptors, extras)``; then the config's descriptor
            bounds must be numbers, and ``genotype_bounds`` or
            ``init_bounds`` says where genotypes live.
        target: the task's id, recorded in the run directory.

    Returns:
        A :class:`jaxrl.program.Program` over :class:`RunState` whose metrics
        are :class:`NSESMetrics`; the primary metric is ``coverage`` (as in
        novelty search: the share of a ``coverage_cells``-per-axis grid over
        the descriptor box that any evaluation reached). ``work_per_step`` is
        ``2 * num_pairs + 1`` evaluations. ``description["config"]`` has the
        ``"task"`` fields replaced by the values used.
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be a ns_es.Config, got {type(config).__name__}")
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
        lower_is_better=("num_rejected",),
        is_healthy=_is_healthy,
        check_hparams=check_hparams,
        artifacts=lambda state, run_dir: write_qd_artifacts(
            run_dir, task.name, state.es.archive
        ),
        description={
            "algorithm": "ns-es",
            "target": target or task.name,
            "config": dataclasses.asdict(config),
        },
    )


def _init(algorithm: NoveltyES, task, key: jax.Array, hparams) -> RunState:
    key, k_genotypes, k_score, k_init = jax.random.split(key, 4)
    low, high = task.initial_bounds
    shape = (algorithm.meta_population_size, task.genotype_dim)
    genotypes = jax.random.uniform(k_genotypes, shape, jnp.float32, low, high)
    fitness, descriptors, _ = task(genotypes, k_score)
    es = algorithm.init(k_init, genotypes, fitness, descriptors, hparams)
    return RunState(es=es, key=key, iteration=jnp.int32(0))


def _step(algorithm: NoveltyES, task, state: RunState, hparams):
    key, k_ask, k_score, k_tell, k_theta = jax.random.split(state.key, 5)
    genotypes, es = algorithm.ask(k_ask, state.es, hparams)
    fitness, descriptors, _ = task(genotypes, k_score)
    es, _ = algorithm.tell(k_tell, genotypes, fitness, descriptors, es, hparams)
    theta = algorithm.updated(es)
    fitness, descriptors, _ = task(theta, k_theta)
    es, metrics = algorithm.add(theta, fitness, descriptors, es)
    return RunState(es=es, key=key, iteration=state.iteration + 1), metrics


def _is_healthy(state: RunState) -> jax.Array:
    """False once a member's parameters or Adam moments, or an archive
    member's genotype, stop being finite, or an archive member holds a NaN
    fitness or descriptor."""
    archive, meta = state.es.archive, state.es.meta
    valid = archive.is_valid[..., None]
    finite = jnp.all(jnp.where(valid, jnp.isfinite(archive.genotypes), True))
    finite &= jnp.all(jnp.where(valid, ~jnp.isnan(archive.descriptors), True))
    finite &= jnp.all(jnp.isfinite(meta.genotypes))
    for leaf in jax.tree.leaves(meta.opt_state):
        if jnp.issubdtype(leaf.dtype, jnp.inexact):
            finite &= jnp.all(jnp.isfinite(leaf))
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
    """NS-ES's whole run in one function (the notebook path).

    Returns:
        ``run(key, hparams=HParams()) -> TrainOutput``, pure and
        jit/vmap-able; ``out.metrics`` is :class:`NSESMetrics` with a leading
        ``[num_iterations]`` axis, ``out.state.es.meta.genotypes`` the final
        meta-population and ``out.state.es.archive`` the archive.
    """
    program = make_program(
        config, task, genotype_bounds=genotype_bounds, init_bounds=init_bounds
    )
    return scan_program(program, HParams())
