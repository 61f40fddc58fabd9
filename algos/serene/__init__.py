"""SERENE (Paolo et al. 2021): novelty search that hands any solution that
found reward to reward-exploiting emitters, splitting the budget between
exploration and exploitation chunks, for tasks whose reward few behaviours
reach.

Explicit-state ``init / ask / tell`` (:class:`Serene`), the emitter slots
and candidate queue (:mod:`jaxrl.algos.serene.emitters`), and the engine
program behind ``jaxrl train serene``.

Example::

    task = qd.make_task("hard-maze")
    config = serene.Config(num_iterations=200)
    run = serene.make_run(config, task)
    out = jax.jit(jax.vmap(run, in_axes=(0, None)))(keys, serene.HParams())
    out.metrics.max_reward  # (seeds, num_iterations)
"""

from jaxrl.algos.serene.config import REWARDS, Config, HParams, check_hparams
from jaxrl.algos.serene.emitters import CandidateQueue, EmitterSlots
from jaxrl.algos.serene.serene import (
    EMITTER_PHASE,
    NS_PHASE,
    Population,
    Serene,
    SereneMetrics,
    SereneState,
    sparse_reward,
)
from jaxrl.algos.serene.train import (
    RunState,
    build_algorithm,
    final_scores,
    has_solved_flag,
    make_program,
    make_run,
    resolve_config,
)
from jaxrl.program import TrainOutput

__all__ = [
    "EMITTER_PHASE", "NS_PHASE", "REWARDS", "CandidateQueue", "Config",
    "EmitterSlots", "HParams", "Population", "RunState", "Serene",
    "SereneMetrics", "SereneState", "TrainOutput", "build_algorithm",
    "check_hparams", "final_scores", "has_solved_flag", "make_program",
    "make_run", "resolve_config", "sparse_reward",
]  # fmt: skip


def _program_for(config: Config, task_id: str):
    """``jaxrl train serene --task TASK``: a registered QD task with
    ``config.genotype_dim`` genes (0: the task's own size)."""
    from jaxrl.algos.map_elites.config import make_task_for

    task = make_task_for(task_id, config.genotype_dim)
    return make_program(config, task, target=task_id)


def _register() -> None:
    from jaxrl import algorithms

    algorithms.register(
        algorithms.Algorithm(
            name="serene",
            summary="SERENE: novelty search plus reward emitters, for sparse rewards",
            config_type=Config,
            hparams_type=HParams,
            make_program=_program_for,
            target_kind="task",
            default_target="hard-maze",
        ),
        overwrite=True,
    )


_register()
