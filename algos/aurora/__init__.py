"""AURORA (Grillotti & Cully): quality-diversity with a behaviour space
learned by an autoencoder inside the loop, after TAXONS and QDax's AURORA.

Each solution's observation (the task's ``extras["observation"]``: the hard
maze's subsampled path, the arm's link ends) is encoded to a latent code,
its descriptor in an unstructured container that keeps members at least a
distance ``l`` apart; ``l`` is steered toward a target container size. The
autoencoder is trained on the members' observations at growing gaps, and the
container is re-indexed with the new codes after each training. The task's
hand-coded descriptor is kept only for the coverage metrics, on the task's
own grid, so runs compare with MAP-Elites and novelty search.

Explicit-state ``init / ask / tell`` (:class:`Aurora`), the container and
its insertion rules, the autoencoder and its training, and the engine
program behind ``jaxrl train aurora``.

Example::

    task = qd.make_task("arm", genotype_dim=8)
    config = aurora.Config(batch_size=32, num_iterations=50,  # 8 genes: the task's
                           archive_capacity=256, target_size=128)
    run = aurora.make_run(config, task)
    out = jax.jit(jax.vmap(run, in_axes=(0, None)))(keys, aurora.HParams())
    out.metrics.coverage  # (seeds, num_iterations)
"""

from jaxrl.algos.aurora.aurora import (
    Aurora,
    AuroraMetrics,
    AuroraState,
    advance_schedule,
    grid_qd_score,
    is_training_iteration,
    run_if,
)
from jaxrl.algos.aurora.config import Config, HParams, check_hparams
from jaxrl.algos.aurora.container import (
    Container,
    control_threshold,
    empty_container,
    insert,
    rebuild,
    size_control,
)
from jaxrl.algos.aurora.encoder import (
    AutoEncoder,
    Normaliser,
    Trained,
    encode,
    fit_normaliser,
    normalise,
    reconstruction_errors,
    train,
    training_rows,
)
from jaxrl.algos.aurora.train import (
    RunState,
    build_algorithm,
    final_scores,
    make_program,
    make_run,
    observation_size,
    resolve_config,
)
from jaxrl.program import TrainOutput

__all__ = [
    "Aurora", "AuroraMetrics", "AuroraState", "AutoEncoder", "Config",
    "Container", "HParams", "Normaliser", "RunState", "Trained", "TrainOutput",
    "advance_schedule", "build_algorithm", "check_hparams", "control_threshold",
    "empty_container", "encode", "final_scores", "fit_normaliser",
    "grid_qd_score", "insert", "is_training_iteration", "make_program",
    "make_run", "normalise", "observation_size", "rebuild",
    "reconstruction_errors", "resolve_config", "run_if", "size_control", "train",
    "training_rows",
]  # fmt: skip


def _program_for(config: Config, task_id: str):
    """``jaxrl train aurora --task TASK``: a registered QD task with
    ``config.genotype_dim`` genes (0: the task's own size); its extras must hold
    ``"observation"``."""
    from jaxrl.algos.map_elites.config import make_task_for

    task = make_task_for(task_id, config.genotype_dim)
    return make_program(config, task, target=task_id)


def _register() -> None:
    from jaxrl import algorithms

    algorithms.register(
        algorithms.Algorithm(
            name="aurora",
            summary="AURORA: QD in a behaviour space learned by an autoencoder",
            config_type=Config,
            hparams_type=HParams,
            make_program=_program_for,
            target_kind="task",
            default_target="hard-maze",
        ),
        overwrite=True,
    )


_register()
