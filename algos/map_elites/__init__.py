"""MAP-Elites (Mouret & Clune 2015) on grid and CVT archives.

Explicit-state ``init / ask / tell`` (:class:`MapElites`), emitters
(Gaussian, Iso+LineDD, uniform crossover, polynomial mutation, SBX, and
mixes of them), and the engine program behind ``jaxrl train map-elites``.

Example::

    task = qd.make_task("arm", genotype_dim=8)
    run = map_elites.make_run(map_elites.Config(genotype_dim=8), task)
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
    """``jaxrl train map-elites --task TASK``: a registered QD task, built
    with ``genotype_dim = config.genotype_dim``."""
    from jaxrl.envs import qd

    return make_program(config, qd.make_task(task_id, genotype_dim=config.genotype_dim),
                        target=task_id)  # fmt: skip


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
