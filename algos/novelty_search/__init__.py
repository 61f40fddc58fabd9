"""Novelty search (Lehman & Stanley 2011) and novelty search with local
competition (NSLC) on QD tasks, with an unstructured novelty archive.

Explicit-state ``init / ask / tell`` (:class:`NoveltySearch`), the archive
and its two insertion rules (``threshold``, ``ring``), batched novelty and
local competition, and the engine program behind
``jaxrl train novelty-search``.

Example::

    task = qd.make_task("arm", genotype_dim=8)
    config = novelty_search.Config(variant="nslc")  # 8 genes: the task's
    run = novelty_search.make_run(config, task)
    out = jax.jit(jax.vmap(run, in_axes=(0, None)))(keys, novelty_search.HParams())
    out.metrics.coverage  # (seeds, num_iterations)
"""

from jaxrl.algos.novelty_search.archive import (
    Inserted,
    NoveltyArchive,
    empty_archive,
    insert_ring,
    insert_threshold,
    local_competition,
    nearest_neighbours,
    novelty,
)
from jaxrl.algos.novelty_search.config import Config, HParams, check_hparams
from jaxrl.algos.novelty_search.novelty_search import (
    INSERTIONS,
    VARIANTS,
    NoveltySearch,
    NoveltySearchState,
    NSMetrics,
    Population,
    archive_coverage,
    non_dominated_rank,
    selection_order,
)
from jaxrl.algos.novelty_search.train import (
    RunState,
    build_algorithm,
    final_scores,
    make_program,
    make_run,
    resolve_config,
)
from jaxrl.program import TrainOutput

__all__ = [
    "INSERTIONS", "VARIANTS", "Config", "HParams", "Inserted", "NSMetrics",
    "NoveltyArchive", "NoveltySearch", "NoveltySearchState", "Population",
    "RunState", "TrainOutput", "archive_coverage", "build_algorithm",
    "check_hparams", "empty_archive", "final_scores", "insert_ring",
    "insert_threshold", "local_competition", "make_program", "make_run",
    "nearest_neighbours", "non_dominated_rank", "novelty", "resolve_config",
    "selection_order",
]  # fmt: skip


def _program_for(config: Config, task_id: str):
    """``jaxrl train novelty-search --task TASK``: a registered QD task with
    ``config.genotype_dim`` genes (0: the task's own size)."""
    from jaxrl.algos.map_elites.config import make_task_for

    task = make_task_for(task_id, config.genotype_dim)
    return make_program(config, task, target=task_id)


def _register() -> None:
    from jaxrl import algorithms

    algorithms.register(
        algorithms.Algorithm(
            name="novelty-search",
            summary="novelty search (NS or NSLC) on a QD task, many seeds at once",
            config_type=Config,
            hparams_type=HParams,
            make_program=_program_for,
            target_kind="task",
            default_target="arm",
        ),
        overwrite=True,
    )


_register()
