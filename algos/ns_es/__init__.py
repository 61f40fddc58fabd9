"""Novelty-driven evolution strategies on policy parameters: NS-ES and
NSR-ES (Conti et al. 2018, arXiv 1712.06560).

Explicit-state ``init / ask / tell / add`` (:class:`NoveltyES`), the pure
pieces (centered ranks, the antithetic gradient, parent probabilities,
NSR-ES scores) and the engine program behind ``jaxrl train ns-es``. The
NSRA-ES adaptive weight is not implemented (its schedule was not found).

Example::

    task = qd.make_task("hard-maze")
    config = ns_es.Config(num_pairs=64, num_iterations=100, variant="nsr-es")
    run = ns_es.make_run(config, task)
    out = jax.jit(jax.vmap(run, in_axes=(0, None)))(keys, ns_es.HParams())
    out.metrics.coverage  # (seeds, num_iterations)
"""

from jaxrl.algos.ns_es.config import VARIANTS, Config, HParams, check_hparams
from jaxrl.algos.ns_es.ns_es import (
    MetaPopulation,
    NoveltyES,
    NSESMetrics,
    NSESState,
    StepStats,
    antithetic_gradient,
    archive_novelty,
    centered_ranks,
    parent_probabilities,
    perturbation_scores,
)
from jaxrl.algos.ns_es.train import (
    RunState,
    build_algorithm,
    final_scores,
    make_program,
    make_run,
)
from jaxrl.program import TrainOutput

__all__ = [
    "VARIANTS", "Config", "HParams", "MetaPopulation", "NSESMetrics", "NSESState",
    "NoveltyES", "RunState", "StepStats", "TrainOutput", "antithetic_gradient",
    "archive_novelty", "build_algorithm", "centered_ranks", "check_hparams",
    "final_scores", "make_program", "make_run", "parent_probabilities",
    "perturbation_scores",
]  # fmt: skip


def _program_for(config: Config, task_id: str):
    """``jaxrl train ns-es --task TASK``: a registered QD task with
    ``config.genotype_dim`` genes (0: the task's own size)."""
    from jaxrl.algos.map_elites.config import make_task_for

    task = make_task_for(task_id, config.genotype_dim)
    return make_program(config, task, target=task_id)


def _register() -> None:
    from jaxrl import algorithms

    algorithms.register(
        algorithms.Algorithm(
            name="ns-es",
            summary="novelty-driven evolution strategies (NS-ES, NSR-ES) on a "
            "policy's parameters, many seeds at once",
            config_type=Config,
            hparams_type=HParams,
            make_program=_program_for,
            target_kind="task",
            default_target="hard-maze",
        ),
        overwrite=True,
    )


_register()
