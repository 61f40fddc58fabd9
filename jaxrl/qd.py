"""Quality-diversity results from run directories: :func:`load_archive`.

A QD run (``jaxrl train map-elites`` or ``novelty-search``) saves its whole
state, archive included, in the engine's orbax checkpoints; nothing is
pickled. This module gives a user the final archive back as arrays::

    archive = jaxrl.qd.load_archive("runs/map-elites-arm")
    archive.fitness.shape  # (runs, cells); -inf in empty cells
    one = jaxrl.qd.take_run(archive, 0)  # the first run's, unbatched
"""

from pathlib import Path
from typing import Any

import jax

from jaxrl import rundir

_ARCHIVE_OF = {
    "map-elites": lambda state: state.qd.archive,
    "novelty-search": lambda state: state.ns.archive,
    "ns-es": lambda state: state.es.archive,
    "serene": lambda state: state.serene.archive,
    "aurora": lambda state: state.aurora.container,
}


def load_archive(run_dir: str | Path) -> Any:
    """The archive of a QD run's newest intact checkpoint.

    Args:
        run_dir: a run directory of ``map-elites`` or ``novelty-search``.

    Returns:
        The algorithm's archive (``map_elites.Archive`` or
        ``novelty_search.NoveltyArchive``) with a leading run axis on every
        array, runs in ``results.json``'s ``runs`` order.

    Raises:
        ValueError: the run is not a quality-diversity run.
        jaxrl.rundir.RunDirError: not a run directory.
        jaxrl.checkpoint.CheckpointError: no usable checkpoint.
    """
    from jaxrl.engine import load_state

    run_dir = Path(run_dir)
    saved = rundir.read_json(run_dir / rundir.CONFIG_FILE)
    algorithm = saved.get("algorithm")
    if algorithm not in _ARCHIVE_OF:
        raise ValueError(
            f"{run_dir} holds a {algorithm!r} run; load_archive reads "
            f"{' or '.join(_ARCHIVE_OF)} runs"
        )
    state, _ = load_state(run_dir)
    return _ARCHIVE_OF[algorithm](state)


def take_run(archive: Any, index: int) -> Any:
    """One run's archive out of a batched one (every array's first axis)."""
    return jax.tree.map(lambda x: x[index], archive)
