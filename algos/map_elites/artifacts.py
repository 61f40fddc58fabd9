"""Pictures a quality-diversity run leaves in its run directory (run 0's).

- ``archive.png`` (2 descriptors only): a MAP-Elites archive as a fitness
  heatmap (grid cells, or a CVT archive's Voronoi cells); an unstructured
  archive (novelty search) as its descriptors coloured by fitness.
- ``final_positions.png`` (the ``"hard-maze"`` task only): the archive's
  final robot positions drawn on the maze.

The engine calls a program's ``artifacts`` when a run ends or stops; the
files belong to the run and are redrawn each time.
"""

from pathlib import Path

import jax
import numpy as np

from jaxrl.algos.map_elites.archive import Archive
from jaxrl.algos.map_elites.plots import plot_archive

ARCHIVE_FILE = "archive.png"
POSITIONS_FILE = "final_positions.png"


def write_qd_artifacts(run_dir: Path, task_name: str, archive) -> list[Path]:
    """Draw run 0's archive; the paths written.

    Args:
        run_dir: the run directory.
        task_name: the task id (``"hard-maze"`` adds the maze picture).
        archive: a MAP-Elites :class:`Archive` (drawn as a heatmap) or any
            archive with ``descriptors`` ``(R, N, K)`` and ``fitness``
            ``(R, N)`` (drawn as points; slots with ``is_valid`` False, or
            with non-finite fitness, are empty), with a leading run axis.
            The maze picture takes ``task_descriptors`` where the archive
            has them (AURORA's descriptors are learned codes).
    """
    run_dir = Path(run_dir)
    first = jax.tree.map(lambda x: np.asarray(x)[0], archive)  # no device ops
    descriptors, fitness = first.descriptors, first.fitness
    kept = np.asarray(getattr(first, "is_valid", np.isfinite(fitness)))
    paths = []
    if descriptors.shape[-1] == 2:
        path = run_dir / ARCHIVE_FILE
        if isinstance(archive, Archive):
            plot_archive(first, path, overwrite=True)
        else:
            _scatter(descriptors[kept], fitness[kept], path)
        paths.append(path)
    if task_name == "hard-maze":
        from jaxrl.envs.qd.maze import plot_maze

        path = run_dir / POSITIONS_FILE
        positions = getattr(first, "task_descriptors", descriptors)
        plot_maze(positions[kept], path)
        paths.append(path)
    return paths


def _scatter(points: np.ndarray, fitness: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4.6), layout="constrained")
    shown = ax.scatter(points[:, 0], points[:, 1], c=fitness, s=6, cmap="viridis")
    if len(points):
        fig.colorbar(shown, ax=ax, label="fitness")
    ax.set(xlabel="descriptor 1", ylabel="descriptor 2",
           title=f"{len(points)} solutions in the archive")  # fmt: skip
    try:
        fig.savefig(path, format="png", dpi=110)
    finally:
        plt.close(fig)
