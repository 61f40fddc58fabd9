"""MAP-Elites (Mouret & Clune 2015) on grid and CVT archives.

Explicit-state ``init / ask / tell`` (:class:`MapElites`), emitters
(Gaussian, Iso+LineDD, uniform crossover, polynomial mutation, SBX, and
mixes of them), and the engine program behind ``jaxrl train map-elites``.

Example::

    task = qd.make_task("arm", genotype_dim=8)
    run = map_elites.make_run(map_elites.Config(), task)  # 8 genes: the task's
    out = jax.jit(jax.vmap(run, in_axes=(0, None)))(keys, map_elites.HParams())
    out.metrics.coverage  # (seeds, num_iterations)
"""

from jaxrl.algos.map_elites.archive import (
    Archive,
    cell_index,
    cvt_archive,
    cvt_centroids,
    grid_archive,
    grid_cell_centres,
    insert,
    nearest_centroid,
    sample_elites,
)
from jaxrl.algos.map_elites.config import Config, HParams, check_hparams
from jaxrl.algos.map_elites.emitters import (
    OPERATORS,
    MixingEmitter,
    VariationEmitter,
    gaussian_mutation,
    iso_line,
    make_emitter,
    polynomial_mutation,
    sbx_crossover,
    uniform_crossover,
)
from jaxrl.algos.map_elites.map_elites import (
    MapElites,
    MapElitesState,
    QDMetrics,
    archive_metrics,
)
from jaxrl.algos.map_elites.train import (
    RunState,
    build_archive,
    final_scores,
    make_program,
    make_run,
    resolve_config,
)
from jaxrl.program import TrainOutput

__all__ = [
    "OPERATORS", "Archive", "Config", "HParams", "MapElites", "MapElitesState",
    "MixingEmitter", "QDMetrics", "RunState", "TrainOutput", "VariationEmitter",
    "archive_metrics", "build_archive", "cell_index", "check_hparams",
    "cvt_archive", "cvt_centroids", "final_scores", "gaussian_mutation",
    "grid_archive", "grid_cell_centres", "insert", "iso_line", "make_emitter",
    "make_program", "make_run", "nearest_centroid", "polynomial_mutation",
    "resolve_config", "sample_elites", "sbx_crossover", "uniform_crossover",
]  # fmt: skip


def _program_for(config: Config, task_id: str):
    """``jaxrl train map-elites --task TASK``: a registered QD task with
    ``config.genotype_dim`` genes (0: the task's own size)."""
    from jaxrl.algos.map_elites.config import make_task_for

    task = make_task_for(task_id, config.genotype_dim)
    return make_program(config, task, target=task_id)


def _register() -> None:
    from jaxrl import algorithms

    algorithms.register(
        algorithms.Algorithm(
            name="map-elites",
            summary="MAP-Elites on a QD task (grid or CVT archive), many seeds at once",
            config_type=Config,
            hparams_type=HParams,
            make_program=_program_for,
            target_kind="task",
            default_target="arm",
        ),
        overwrite=True,
    )


_register()
