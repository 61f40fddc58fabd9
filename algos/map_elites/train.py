"""MAP-Elites on a task as an engine program, and ``make_run`` for notebooks.

``make_program(config, task)`` gives the engine ``init`` (score a first
batch drawn uniformly in the task's initial box and fill the archive) and
one iteration as ``step`` (ask, score, tell); ``make_run`` scans the same
program in one piece, so ``jax.jit(jax.vmap(run, in_axes=(0, None)))`` runs
many seeds in one compilation.
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.algos.map_elites.archive import (
    Archive,
    cvt_archive,
    cvt_centroids,
    grid_archive,
)
from jaxrl.algos.map_elites.artifacts import write_qd_artifacts
from jaxrl.algos.map_elites.config import (
    TASK,
    TASK_GENOTYPE_DIM,
    Config,
    HParams,
    as_task,
    check_hparams,
    descriptor_box,
    number_or_task,
)
from jaxrl.algos.map_elites.emitters import make_emitter
from jaxrl.algos.map_elites.map_elites import MapElites, MapElitesState, QDMetrics
from jaxrl.program import Curve, Program, last_values, scan_program

METRICS = QDMetrics._fields


@struct.dataclass
class RunState:
    """Everything a run carries from one iteration to the next."""

    qd: MapElitesState  # archive and emitter state
    key: jax.Array  # typed PRNG key
    iteration: jax.Array  # () int32, iterations done


def resolve_config(config: Config, task) -> Config:
    """``config`` with every ``"task"`` field replaced by the task's value
    (descriptor bounds only when the task's are the same on every axis) and
    ``genotype_dim`` 0 by the task's size."""
    changes: dict[str, Any] = {}
    if config.genotype_dim == TASK_GENOTYPE_DIM:
        changes["genotype_dim"] = task.genotype_dim
    if number_or_task(config, "qd_offset") is None:
        changes["qd_offset"] = float(task.min_fitness or 0.0)
    for name, values in (
        ("descriptor_low", task.descriptor_low),
        ("descriptor_high", task.descriptor_high),
    ):
        if number_or_task(config, name) is None and len(set(values)) == 1:
            changes[name] = float(values[0])
    for name in ("descriptor_low", "descriptor_high", "qd_offset"):
        value = changes.get(name, getattr(config, name))
        if isinstance(value, str) and value != TASK:  # "1.5" from the command line
            changes[name] = float(value)
    return dataclasses.replace(config, **changes) if changes else config


def build_archive(config: Config, task) -> Archive:
    """The empty archive ``config`` asks for, over the task's descriptors.

    A CVT's centroids are computed here, once, from ``config.cvt_seed``.
    """
    low, high = descriptor_box(config, task)
    if config.archive == "grid":
        shape = (config.grid_cells,) * task.descriptor_dim
        return grid_archive(config.genotype_dim, shape, low, high)
    centroids = jax.jit(
        cvt_centroids, static_argnums=(1, 2, 3, 4, 5)
    )(
        jax.random.key(config.cvt_seed), config.num_centroids, low, high,
        config.cvt_samples, config.cvt_iterations,
    )  # fmt: skip
    return cvt_archive(config.genotype_dim, np.asarray(centroids), low, high)


def make_program(
    config: Config,
    task,
    target: str | None = None,
    *,
    genotype_bounds: tuple[float, float] | None = None,
    init_bounds: tuple[float, float] | None = None,
) -> Program:
    """MAP-Elites as an engine program: one step is one iteration.

    Args:
        config: static sizes, archive and emitter.
        task: a :class:`jaxrl.envs.qd.Task`, or a bare ``score(genotypes,
            key) -> (fitness, descriptors, extras)``; then the config's
            descriptor bounds must be numbers, and ``genotype_bounds`` or
            ``init_bounds`` says where genotypes live.
        target: the task's id, recorded in the run directory.

    Returns:
        A :class:`jaxrl.program.Program` over :class:`RunState` whose metrics
        are :class:`QDMetrics`. ``work_per_step`` is ``batch_size``
        evaluations (the first batch, scored by ``init``, is not counted).
        ``description["config"]`` is the config with ``"task"`` fields
        replaced by the values used (``qd_offset`` among them).
    """
    if not isinstance(config, Config):
        raise TypeError(
            f"config must be a map_elites.Config, got {type(config).__name__}"
        )
    task = as_task(task, config, genotype_bounds, init_bounds)
    config = resolve_config(config, task)
    algorithm = MapElites(
        archive=build_archive(config, task),
        emitter=make_emitter(config.emitter, task.genotype_bounds, task.initial_bounds),
        batch_size=config.batch_size,
        qd_offset=float(config.qd_offset),
    )
    return Program(
        init=lambda key, hparams: _init(algorithm, task, key, hparams),
        step=lambda state, hparams: _step(algorithm, task, state, hparams),
        num_steps=config.num_iterations,
        work_per_step=config.batch_size,
        work_unit="evaluations",
        final=final_scores,
        primary="qd_score",
        curves=(
            Curve("qd_score", "QD score"),
            Curve("coverage", "coverage"),
            Curve("max_fitness", "max fitness"),
        ),
        lower_is_better=("num_rejected",),
        is_healthy=_is_healthy,
        check_hparams=check_hparams,
        artifacts=lambda state, run_dir: write_qd_artifacts(
            run_dir, task.name, state.qd.archive
        ),
        description={
            "algorithm": "map-elites",
            "target": target or task.name,
            "config": dataclasses.asdict(config),
        },
    )


def _init(algorithm: MapElites, task, key: jax.Array, hparams) -> RunState:
    key, k_genotypes, k_score, k_init = jax.random.split(key, 4)
    low, high = task.initial_bounds
    genotypes = jax.random.uniform(
        k_genotypes, (algorithm.batch_size, task.genotype_dim), jnp.float32, low, high
    )
    fitness, descriptors, _ = task(genotypes, k_score)
    qd = algorithm.init(k_init, genotypes, fitness, descriptors, hparams)
    return RunState(qd=qd, key=key, iteration=jnp.int32(0))


def _step(algorithm: MapElites, task, state: RunState, hparams):
    key, k_ask, k_score, k_tell = jax.random.split(state.key, 4)
    genotypes, qd = algorithm.ask(k_ask, state.qd, hparams)
    fitness, descriptors, _ = task(genotypes, k_score)
    qd, metrics = algorithm.tell(k_tell, genotypes, fitness, descriptors, qd, hparams)
    return RunState(qd=qd, key=key, iteration=state.iteration + 1), metrics


def _is_healthy(state: RunState) -> jax.Array:
    """False once a filled cell holds a non-finite genotype or descriptor, or
    a NaN fitness (empty cells' ``-inf`` is expected)."""
    archive = state.qd.archive
    filled = archive.is_filled[..., None]
    finite = jnp.all(jnp.where(filled, jnp.isfinite(archive.genotypes), True))
    finite &= jnp.all(jnp.where(filled, jnp.isfinite(archive.descriptors), True))
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
    """MAP-Elites' whole run in one function (the notebook path).

    The same program as :func:`make_program`, scanned in one piece.

    Returns:
        ``run(key, hparams=HParams()) -> TrainOutput``, pure and
        jit/vmap-able; ``out.metrics`` is :class:`QDMetrics` with a leading
        ``[num_iterations]`` axis and ``out.state.qd.archive`` the archive.
    """
    program = make_program(
        config, task, genotype_bounds=genotype_bounds, init_bounds=init_bounds
    )
    return scan_program(program, HParams())
