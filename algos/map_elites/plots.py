"""Pictures of MAP-Elites archives with two descriptors (matplotlib, no
display needed).

:func:`archive_image` turns an archive into a fitness image over the
descriptor box: a grid archive's cells as they are, a CVT archive as a
Voronoi picture (every pixel coloured by its nearest centroid's elite).
:func:`plot_archive` draws that image as a heatmap PNG.
"""

from pathlib import Path

import numpy as np

from jaxrl.algos.map_elites.archive import Archive


def archive_image(archive: Archive, resolution: int = 256) -> np.ndarray:
    """The archive's fitness as an image, NaN where a cell is empty.

    Args:
        archive: an unbatched archive with 2 descriptors (take one seed out
            of a vmapped run with ``jax.tree.map(lambda x: x[i], archive)``).
        resolution: pixels per side for a CVT archive (a grid archive gives
            one pixel per cell).

    Returns:
        ``(rows, cols)`` float64; row 0 is the lowest second descriptor,
        column 0 the lowest first descriptor (draw with ``origin="lower"``).

    Raises:
        ValueError: not 2 descriptors, or a batched archive.
    """
    fitness = np.asarray(archive.fitness, np.float64)
    centroids = np.asarray(archive.centroids, np.float64)
    if fitness.ndim != 1 or centroids.shape[-1] != 2:
        raise ValueError(
            "archive_image needs an unbatched archive with 2 descriptors, got "
            f"fitness {fitness.shape} and centroids {centroids.shape}"
        )
    values = np.where(np.isfinite(fitness), fitness, np.nan)
    if archive.grid_shape:
        # cells are raveled row-major over (first, second) descriptor bins
        return values.reshape(archive.grid_shape).T
    (x0, y0), (x1, y1) = archive.low, archive.high
    xs = x0 + (np.arange(resolution) + 0.5) * (x1 - x0) / resolution
    ys = y0 + (np.arange(resolution) + 0.5) * (y1 - y0) / resolution
    pixels = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    nearest = np.empty(len(pixels), np.int64)
    for start in range(0, len(pixels), 4096):  # bounded (4096, C) blocks
        block = pixels[start : start + 4096]
        dist = ((block[:, None, :] - centroids[None]) ** 2).sum(-1)
        nearest[start : start + 4096] = dist.argmin(1)
    return values[nearest].reshape(resolution, resolution)


def plot_archive(
    archive: Archive,
    path: str | Path,
    *,
    title: str | None = None,
    labels: tuple[str, str] = ("descriptor 1", "descriptor 2"),
    resolution: int = 256,
    overwrite: bool = False,
) -> None:
    """Write a heatmap of the archive's fitness (empty cells blank) as a PNG.

    Args:
        archive: as for :func:`archive_image`.
        path: the PNG to write.
        title: the figure title (default: coverage and best fitness).
        labels: the two descriptor axes' names.
        resolution: pixels per side for a CVT archive.
        overwrite: replace ``path`` if it exists (else FileExistsError).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = archive_image(archive, resolution)
    filled = np.isfinite(image)
    if title is None:
        fitness = np.asarray(archive.fitness)
        coverage = np.isfinite(fitness).mean()
        best = fitness.max()
        title = f"coverage {coverage:.1%}, best fitness {best:.4g}"
    fig, ax = plt.subplots(figsize=(5.6, 4.6), layout="constrained")
    (x0, y0), (x1, y1) = archive.low, archive.high
    shown = ax.imshow(
        np.ma.masked_invalid(image),
        origin="lower",
        extent=(x0, x1, y0, y1),
        aspect="auto",
        cmap="viridis",
        interpolation="nearest",
        vmin=np.nanmin(image) if filled.any() else None,
    )
    fig.colorbar(shown, ax=ax, label="fitness")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title, fontsize=10)
    try:
        with open(path, "wb" if overwrite else "xb") as file:
            fig.savefig(file, format="png", dpi=110)
    finally:
        plt.close(fig)
