"""AURORA on a task as an engine program, and ``make_run`` for notebooks.

``make_program(config, task)`` gives the engine ``init`` (score a first batch
drawn uniformly in the task's initial box, start the autoencoder and the
container, train the autoencoder on it once) and one iteration as ``step``
(ask, score, tell; the training, the re-indexing and the size control happen
inside ``tell`` on their iterations), so a whole run is one compiled program
of fixed shapes. ``make_run`` scans the
same program in one piece.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.algos.aurora.aurora import Aurora, AuroraMetrics, AuroraState
from jaxrl.algos.aurora.config import (
    MAX_COVERAGE_CELLS,
    Config,
    HParams,
    check_hparams,
)
from jaxrl.algos.aurora.container import empty_container
from jaxrl.algos.aurora.encoder import AutoEncoder
from jaxrl.algos.map_elites.archive import grid_archive
from jaxrl.algos.map_elites.artifacts import write_qd_artifacts
from jaxrl.algos.map_elites.config import TASK, as_task, descriptor_box
from jaxrl.algos.map_elites.emitters import make_emitter
from jaxrl.algos.map_elites.train import resolve_config as _resolve_map_elites
from jaxrl.program import Curve, Program, last_values, scan_program

METRICS = AuroraMetrics._fields


@struct.dataclass
class RunState:
    """Everything a run carries from one iteration to the next."""

    aurora: AuroraState  # container, autoencoder, threshold, schedule
    key: jax.Array  # typed PRNG key
    iteration: jax.Array  # () int32, iterations done


def resolve_config(config: Config, task) -> Config:
    """``config`` with every ``"task"`` field replaced by the task's value
    (descriptor bounds only when the task's are the same on every axis), as
    MAP-Elites resolves them."""
    return _resolve_map_elites(config, task)


def observation_size(task, genotype_dim: int) -> int:
    """The length of the task's ``extras["observation"]``, from shapes only
    (``jax.eval_shape``: nothing is compiled or run).

    Raises:
        ValueError: the task's extras hold no ``"observation"``, or not a
            ``(N, O)`` float array.
    """
    name = getattr(task, "name", getattr(task, "__name__", "custom"))
    shapes = jax.eval_shape(
        task,
        jax.ShapeDtypeStruct((2, genotype_dim), jnp.float32),
        jax.eval_shape(jax.random.key, 0),
    )
    extras = shapes[2] if len(shapes) == 3 else None
    keys = sorted(extras) if isinstance(extras, dict) else None
    if not isinstance(extras, dict) or "observation" not in extras:
        raise ValueError(
            f"aurora needs the task {name!r} to return extras['observation'], a "
            f"(N, obs_dim) float array that the autoencoder learns descriptors "
            f"from (the hard maze's subsampled path, the arm's link ends); its "
            f"extras have keys {keys}"
        )
    obs = extras["observation"]
    if len(obs.shape) != 2 or obs.shape[0] != 2 or obs.shape[1] < 1:
        raise ValueError(
            f"task {name!r}: extras['observation'] must be (N, obs_dim) for N "
            f"genotypes, got shape {obs.shape} for 2"
        )
    if not jnp.issubdtype(obs.dtype, jnp.floating):
        raise ValueError(
            f"task {name!r}: extras['observation'] must be a float array, got "
            f"{obs.dtype}"
        )
    return int(obs.shape[1])


def build_algorithm(config: Config, task, obs_size: int) -> Aurora:
    """The :class:`Aurora` that ``config`` describes, on ``task``.

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
    qd_offset = config.qd_offset
    if qd_offset == TASK:
        qd_offset = float(task.min_fitness or 0.0)
    return Aurora(
        container=empty_container(
            config.archive_capacity,
            config.genotype_dim,
            config.latent_size,
            obs_size,
            task.descriptor_dim,
        ),  # fmt: skip
        model=AutoEncoder(
            obs_size, config.latent_size, config.encoder_width, config.encoder_depth
        ),
        emitter=make_emitter(config.emitter, task.genotype_bounds, task.initial_bounds),
        batch_size=config.batch_size,
        target_size=config.target_size,
        train_batch_size=config.train_batch_size,
        num_epochs=config.num_epochs,
        num_epochs_late=config.num_epochs_late,
        late_after=config.late_after,
        schedule_base=config.schedule_base,
        control_every=config.control_every,
        control_start=config.control_start,
        warm_start=config.warm_start,
        coverage_grid=grid_archive(1, (config.coverage_cells,) * len(low), low, high),
        qd_offset=float(qd_offset),
    )


def make_program(
    config: Config,
    task,
    target: str | None = None,
    *,
    genotype_bounds: tuple[float, float] | None = None,
    init_bounds: tuple[float, float] | None = None,
) -> Program:
    """AURORA as an engine program: one step is one iteration.

    Args:
        config: static sizes, schedule, encoder and emitter.
        task: a :class:`jaxrl.envs.qd.Task` (or a bare ``score(genotypes,
            key) -> (fitness, descriptors, extras)``; then the config's
            descriptor bounds must be numbers) whose extras hold
            ``"observation"``, ``(N, obs_dim)`` float.
        target: the task's id, recorded in the run directory.

    Returns:
        A :class:`jaxrl.program.Program` over :class:`RunState` whose metrics
        are :class:`AuroraMetrics`; the primary metric is ``coverage`` (as
        novelty search's: the share of a ``coverage_cells``-per-axis grid
        over the task's descriptor box that any evaluation reached). A run
        with a directory draws run 0's members at their task descriptors
        (``archive.png`` for two of them; on the hard maze also
        ``final_positions.png``).

    Raises:
        ValueError: before anything compiles, a bad config or a task without
            ``extras["observation"]``.
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be an aurora.Config, got {type(config).__name__}")
    task = as_task(task, config, genotype_bounds, init_bounds)
    config = resolve_config(config, task)
    algorithm = build_algorithm(
        config, task, observation_size(task, config.genotype_dim)
    )
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
            Curve("qd_score", "QD score"),
            Curve("archive_size", "archive size"),
            Curve("threshold", "distance threshold l"),
            Curve("reconstruction_loss", "reconstruction loss"),
        ),
        lower_is_better=(
            "num_rejected",
            "num_overflow",
            "reconstruction_loss",
            "training_loss",
        ),  # fmt: skip
        is_healthy=_is_healthy,
        check_hparams=check_hparams,
        artifacts=lambda state, run_dir: write_qd_artifacts(
            run_dir, task.name, _on_task_descriptors(state.aurora.container)
        ),
        description={
            "algorithm": "aurora",
            "target": target or task.name,
            "config": dataclasses.asdict(config),
        },
    )


def _on_task_descriptors(container):
    """The container with the task's descriptors in place of the latent
    codes: what the run's pictures show (the hard maze: final positions)."""
    return container.replace(descriptors=container.task_descriptors)


def _init(algorithm: Aurora, task, key: jax.Array, hparams) -> RunState:
    key, k_genotypes, k_score, k_init = jax.random.split(key, 4)
    low, high = task.initial_bounds
    shape = (algorithm.batch_size, task.genotype_dim)
    genotypes = jax.random.uniform(k_genotypes, shape, jnp.float32, low, high)
    fitness, descriptors, extras = task(genotypes, k_score)
    state = algorithm.init(
        k_init, genotypes, fitness, descriptors, extras["observation"], hparams
    )
    return RunState(aurora=state, key=key, iteration=jnp.int32(0))


def _step(algorithm: Aurora, task, state: RunState, hparams):
    key, k_ask, k_score, k_tell = jax.random.split(state.key, 4)
    genotypes, inner = algorithm.ask(k_ask, state.aurora, hparams)
    fitness, descriptors, extras = task(genotypes, k_score)
    inner, metrics = algorithm.tell(
        k_tell, genotypes, fitness, descriptors, extras["observation"], inner,
        hparams,
    )  # fmt: skip
    return RunState(aurora=inner, key=key, iteration=state.iteration + 1), metrics


def _is_healthy(state: RunState) -> jax.Array:
    """False once a member holds a non-finite genotype, code or observation,
    a NaN task descriptor, or the autoencoder a non-finite parameter."""
    container = state.aurora.container
    valid = container.is_valid[..., None]
    finite = jnp.all(jnp.where(valid, jnp.isfinite(container.genotypes), True))
    finite &= jnp.all(jnp.where(valid, jnp.isfinite(container.descriptors), True))
    finite &= jnp.all(jnp.where(valid, jnp.isfinite(container.observations), True))
    finite &= ~jnp.any(jnp.where(valid, jnp.isnan(container.task_descriptors), False))
    for leaf in jax.tree.leaves(state.aurora.encoder_params):
        finite &= jnp.all(jnp.isfinite(leaf))
    return finite & jnp.all(jnp.isfinite(state.aurora.threshold))


# the last iteration's value of every metric, per run
final_scores = last_values(METRICS)


def make_run(
    config: Config,
    task,
    *,
    genotype_bounds: tuple[float, float] | None = None,
    init_bounds: tuple[float, float] | None = None,
):
    """AURORA's whole run in one function (the notebook path).

    Returns:
        ``run(key, hparams=HParams()) -> TrainOutput``, pure and
        jit/vmap-able; ``out.metrics`` is :class:`AuroraMetrics` with a
        leading ``[num_iterations]`` axis and ``out.state.aurora.container``
        the container.
    """
    program = make_program(
        config, task, genotype_bounds=genotype_bounds, init_bounds=init_bounds
    )
    return scan_program(program, HParams())
