"""SERENE on a task as an engine program, and ``make_run`` for notebooks.

``make_program(config, task)`` gives the engine ``init`` (score a first
population drawn uniformly in the task's initial box) and one generation as
``step`` (ask, score, tell); the alternation of exploration and exploitation
chunks is state (a phase and a generation counter), so the whole run is one
compiled scan. ``make_run`` scans the same program in one piece.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.algos.map_elites.archive import grid_archive
from jaxrl.algos.map_elites.artifacts import write_qd_artifacts
from jaxrl.algos.map_elites.config import as_task, descriptor_box
from jaxrl.algos.map_elites.train import resolve_config as resolve_boxes
from jaxrl.algos.serene.config import (
    MAX_COVERAGE_CELLS,
    Config,
    HParams,
    check_hparams,
)
from jaxrl.algos.serene.serene import Serene, SereneMetrics, SereneState
from jaxrl.program import Curve, Program, last_values, scan_program

METRICS = SereneMetrics._fields


@struct.dataclass
class RunState:
    """Everything a run carries from one generation to the next."""

    serene: SereneState  # archives, population, emitter slots, schedule
    key: jax.Array  # typed PRNG key
    iteration: jax.Array  # () int32, generations done


def has_solved_flag(task, genotype_dim: int) -> bool:
    """Whether ``task``'s extras hold an ``is_solved`` array of one flag per
    row (read from shapes only, nothing is evaluated)."""
    shapes = jax.eval_shape(
        task,
        jax.ShapeDtypeStruct((2, genotype_dim), jnp.float32),
        jax.eval_shape(jax.random.key, 0),
    )
    extras = shapes[2]
    flag = extras.get("is_solved") if isinstance(extras, dict) else None
    return flag is not None and tuple(flag.shape) == (2,)


def resolve_config(config: Config, task) -> Config:
    """``config`` with every ``"task"`` field replaced by the task's value:
    descriptor bounds and ``qd_offset`` as MAP-Elites resolves them, and
    ``reward`` (``"solved"`` when the task reports ``is_solved``).

    Raises:
        ValueError: ``reward="solved"`` on a task whose extras lack
            ``is_solved``.
    """
    config = resolve_boxes(config, task)
    solved = has_solved_flag(task, config.genotype_dim)
    if config.reward == "solved" and not solved:
        raise ValueError(
            f"Config.reward='solved' needs a task whose extras hold "
            f"'is_solved' (one bool a row); {getattr(task, 'name', task)!r} has "
            "none: use reward='fitness'"
        )
    if config.reward == "task":
        config = dataclasses.replace(config, reward="solved" if solved else "fitness")
    return config


def build_algorithm(config: Config, task) -> Serene:
    """The :class:`Serene` that a resolved ``config`` describes, on ``task``.

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
    grid = grid_archive(config.genotype_dim, (config.coverage_cells,) * len(low),
                        low, high)  # fmt: skip
    return Serene(
        config=config,
        descriptor_dim=task.descriptor_dim,
        grid=grid,
        genotype_bounds=task.genotype_bounds,
        reward=config.reward,
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
    """SERENE as an engine program: one step is one generation.

    Args:
        config: static sizes, schedule and capacities.
        task: a :class:`jaxrl.envs.qd.Task`, or a bare ``score(genotypes,
            key) -> (fitness, descriptors, extras)``; then the config's
            descriptor bounds must be numbers, and ``genotype_bounds`` or
            ``init_bounds`` says where genotypes live.
        target: the task's id, recorded in the run directory.

    Returns:
        A :class:`jaxrl.program.Program` over :class:`RunState` whose metrics
        are :class:`SereneMetrics`; the primary metric is ``max_reward``.
        ``work_per_step`` is ``batch_size`` evaluations (the first
        population, scored by ``init``, is not counted).
        ``description["config"]`` is the config with ``"task"`` fields
        replaced by the values used (``reward`` among them).
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be a serene.Config, got {type(config).__name__}")
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
        primary="max_reward",
        curves=(
            Curve("max_reward", "max reward"),
            Curve("coverage", "coverage"),
            Curve("reward_archive_size", "reward archive size"),
            Curve("emitter_share", "share of evaluations by emitters"),
        ),
        lower_is_better=("num_rejected", "num_dropped"),
        is_healthy=_is_healthy,
        check_hparams=check_hparams,
        artifacts=lambda state, run_dir: write_qd_artifacts(
            run_dir, task.name, state.serene.archive
        ),
        description={
            "algorithm": "serene",
            "target": target or task.name,
            "config": dataclasses.asdict(config),
        },
    )


def _init(algorithm: Serene, task, key: jax.Array, hparams) -> RunState:
    key, k_genotypes, k_score, k_init = jax.random.split(key, 4)
    low, high = task.initial_bounds
    shape = (algorithm.config.population_size, task.genotype_dim)
    genotypes = jax.random.uniform(k_genotypes, shape, jnp.float32, low, high)
    fitness, descriptors, extras = task(genotypes, k_score)
    serene = algorithm.init(k_init, genotypes, fitness, descriptors, hparams, extras)
    return RunState(serene=serene, key=key, iteration=jnp.int32(0))


def _step(algorithm: Serene, task, state: RunState, hparams):
    key, k_ask, k_score, k_tell = jax.random.split(state.key, 4)
    genotypes, serene = algorithm.ask(k_ask, state.serene, hparams)
    fitness, descriptors, extras = task(genotypes, k_score)
    serene, metrics = algorithm.tell(
        k_tell, genotypes, fitness, descriptors, serene, hparams, extras
    )
    return RunState(serene=serene, key=key, iteration=state.iteration + 1), metrics


def _is_healthy(state: RunState) -> jax.Array:
    """False once the population or an archive member holds a non-finite
    genotype, or an archive member a NaN fitness."""
    s = state.serene
    finite = jnp.all(jnp.isfinite(s.population.genotypes))
    for archive in (s.archive, s.reward_archive):
        valid = archive.is_valid[..., None]
        finite &= jnp.all(jnp.where(valid, jnp.isfinite(archive.genotypes), True))
        finite &= ~jnp.any(jnp.isnan(archive.fitness))
    return finite & jnp.all(jnp.isfinite(s.slots.genotypes))


# the last iteration's value of every metric, per run
final_scores = last_values(METRICS)


def make_run(
    config: Config,
    task,
    *,
    genotype_bounds: tuple[float, float] | None = None,
    init_bounds: tuple[float, float] | None = None,
):
    """SERENE's whole run in one function (the notebook path).

    Returns:
        ``run(key, hparams=HParams()) -> TrainOutput``, pure and
        jit/vmap-able; ``out.metrics`` is :class:`SereneMetrics` with a
        leading ``[num_iterations]`` axis.
    """
    program = make_program(
        config, task, genotype_bounds=genotype_bounds, init_bounds=init_bounds
    )
    return scan_program(program, HParams())
