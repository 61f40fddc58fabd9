"""MAP-Elites archives: fixed-capacity arrays of elites, one per cell.

An :class:`Archive` holds ``C`` cells. Cell ``c`` keeps one elite: its
genotype, fitness and descriptor; fitness ``-inf`` marks an empty cell.
Two ways to split the descriptor box into cells:

- a **grid** (Mouret & Clune 2015): ``n_1 x ... x n_K`` equal boxes. A
  descriptor's cell comes straight from its coordinates (clip to the
  bounds, one bin an axis, row-major ravel): no search over cells.
- a **CVT** (Vassiliades et al. 2018): ``C`` centroids from k-means on
  points drawn uniformly in the box; a descriptor goes to its nearest
  centroid (a batched argmin over squared distances).

In both, a descriptor outside the bounds is first clipped onto the box, so
it lands in an edge cell (the grid's outermost bin on each axis that it
overflows; the CVT centroid nearest to the clipped point).

Insertion (:func:`insert`) is deterministic: NaN fitness counts as ``-inf``
(never inserted); a descriptor with a NaN is never inserted and is counted
as rejected; in each cell the batch's best solution competes with the
incumbent and replaces it only if strictly better; among equally good
solutions of one batch for one cell the lowest batch index wins. At most one
write lands in a cell, so the result does not depend on the order in which
XLA applies a scatter.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.algos.map_elites import cvt_lookup


@struct.dataclass
class Archive:
    """A fixed-capacity MAP-Elites archive (see the module doc).

    Under ``vmap`` every array gains a leading run axis.
    """

    genotypes: jax.Array  # (C, D) float32; zeros in empty cells
    fitness: jax.Array  # (C,) float32; -inf marks an empty cell
    descriptors: jax.Array  # (C, K) float32; zeros in empty cells
    centroids: jax.Array  # (C, K) float32: grid cell centres or CVT centroids
    # static: a grid's cells per axis; () for a CVT archive
    grid_shape: tuple[int, ...] = struct.field(pytree_node=False, default=())
    low: tuple[float, ...] = struct.field(pytree_node=False, default=())  # static
    high: tuple[float, ...] = struct.field(pytree_node=False, default=())  # static
    # CVT only: each lookup cell's candidate centroids (cvt_lookup), or None
    lookup: jax.Array | None = None  # (L**K, M) int32
    lookup_cells: int = struct.field(pytree_node=False, default=0)  # static: L

    @property
    def num_cells(self) -> int:
        return self.centroids.shape[-2]

    @property
    def is_filled(self) -> jax.Array:
        """(C,) bool: cells that hold an elite."""
        return self.fitness > -jnp.inf


def _empty(genotype_dim: int, centroids, grid_shape, low, high) -> Archive:
    centroids = jnp.asarray(centroids, jnp.float32)
    num_cells, k = centroids.shape
    return Archive(
        genotypes=jnp.zeros((num_cells, genotype_dim), jnp.float32),
        fitness=jnp.full((num_cells,), -jnp.inf, jnp.float32),
        descriptors=jnp.zeros((num_cells, k), jnp.float32),
        centroids=centroids,
        grid_shape=grid_shape,
        low=low,
        high=high,
    )


def _bounds(low, high) -> tuple[tuple[float, ...], tuple[float, ...]]:
    low, high = tuple(map(float, low)), tuple(map(float, high))
    if (
        not low
        or len(low) != len(high)
        or not all(
            np.isfinite(a) and np.isfinite(b) and a < b
            for a, b in zip(low, high, strict=True)
        )
    ):
        raise ValueError(
            f"descriptor bounds must be finite, of one length, with low < high; "
            f"got low={low}, high={high}"
        )
    return low, high


def grid_cell_centres(grid_shape, low, high) -> np.ndarray:
    """``(prod(grid_shape), K)`` float32 cell centres in row-major cell order."""
    axes = [
        lo + (np.arange(n) + 0.5) * (hi - lo) / n
        for n, lo, hi in zip(grid_shape, low, high, strict=True)
    ]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=-1).astype(np.float32)


def grid_archive(genotype_dim: int, grid_shape, low, high) -> Archive:
    """An empty grid archive.

    Args:
        genotype_dim: length of a genotype.
        grid_shape: cells per descriptor axis, e.g. ``(100, 100)``.
        low, high: the descriptor box, one value per axis.
    """
    low, high = _bounds(low, high)
    grid_shape = tuple(int(n) for n in grid_shape)
    if len(grid_shape) != len(low) or min(grid_shape) < 1:
        raise ValueError(
            f"grid_shape needs one count >= 1 per descriptor axis ({len(low)}), "
            f"got {grid_shape}"
        )
    centres = grid_cell_centres(grid_shape, low, high)
    return _empty(genotype_dim, centres, grid_shape, low, high)


def cvt_archive(genotype_dim: int, centroids, low, high) -> Archive:
    """An empty CVT archive over the given centroids (see :func:`cvt_centroids`)."""
    low, high = _bounds(low, high)
    centroids = np.asarray(centroids, np.float32)
    if centroids.ndim != 2 or centroids.shape[1] != len(low):
        raise ValueError(
            f"centroids must be (C, {len(low)}), got shape {centroids.shape}"
        )
    archive = _empty(genotype_dim, centroids, (), low, high)
    table = cvt_lookup.lookup_table(centroids, low, high)
    if table is None:
        return archive
    per_axis, candidates = table
    return archive.replace(lookup=jnp.asarray(candidates), lookup_cells=per_axis)


def nearest_centroid(points: jax.Array, centroids: jax.Array) -> jax.Array:
    """``(N,) int32``: index of the nearest centroid to each point (ties:
    the lowest index). Squared distances are summed coordinate by coordinate,
    not expanded as ``|p|^2 - 2 p.c + |c|^2``, which loses precision."""
    diff = points[:, None, :] - centroids[None, :, :]
    return jnp.argmin(jnp.sum(diff * diff, axis=-1), axis=-1).astype(jnp.int32)


def cvt_centroids(
    key: jax.Array,
    num_centroids: int,
    low,
    high,
    num_samples: int = 50_000,
    num_iterations: int = 30,
) -> jax.Array:
    """CVT centroids: k-means (Lloyd's algorithm) on uniform samples of the box.

    As in QDax and pyribs, ``num_samples`` points are drawn uniformly (here in
    the unit cube, then scaled to ``[low, high]``) and clustered into
    ``num_centroids`` centroids; QDax's examples use 50,000 samples for 1,024
    centroids. Here the first centroids are a random subset of the samples
    (not k-means++), and Lloyd's algorithm runs a fixed ``num_iterations``
    times; a centroid that loses all its samples stays where it was. The
    result depends only on the key and the sizes.

    Returns:
        ``(num_centroids, K)`` float32.
    """
    low, high = _bounds(low, high)
    if not 1 <= num_centroids <= num_samples:
        raise ValueError(
            f"need 1 <= num_centroids ({num_centroids}) <= num_samples ({num_samples})"
        )
    k_samples, k_init = jax.random.split(key)
    samples = jax.random.uniform(k_samples, (num_samples, len(low)))
    start = samples[jax.random.permutation(k_init, num_samples)[:num_centroids]]

    def lloyd(_, centroids):
        # blocks of samples keep the (block, C) distance matrix small
        nearest = jax.lax.map(
            lambda p: nearest_centroid(p[None], centroids)[0],
            samples,
            batch_size=2048,
        )
        sums = jax.ops.segment_sum(samples, nearest, num_centroids)
        counts = jax.ops.segment_sum(jnp.ones(num_samples), nearest, num_centroids)
        moved = sums / jnp.maximum(counts, 1.0)[:, None]
        return jnp.where(counts[:, None] > 0, moved, centroids)

    unit = jax.lax.fori_loop(0, num_iterations, lloyd, start)
    low_a, high_a = jnp.asarray(low), jnp.asarray(high)
    return (low_a + unit * (high_a - low_a)).astype(jnp.float32)


def cell_index(archive: Archive, descriptors: jax.Array) -> jax.Array:
    """``(N,) int32``: each descriptor's cell (descriptors outside the bounds
    are clipped onto the box first, so they land in an edge cell).

    Grid: per-axis bin ``floor((d - low) / (high - low) * n)`` (the upper
    bound itself goes to the last bin), raveled row-major. CVT: the nearest
    centroid. Descriptors must not hold NaN (:func:`insert` screens them).
    """
    low = jnp.asarray(archive.low, jnp.float32)
    high = jnp.asarray(archive.high, jnp.float32)
    d = jnp.clip(jnp.asarray(descriptors, jnp.float32), low, high)
    if not archive.grid_shape and archive.lookup is not None:
        return cvt_lookup.lookup_nearest(
            d, archive.centroids, archive.lookup, archive.lookup_cells, low, high
        )
    if not archive.grid_shape:
        return nearest_centroid(d, archive.centroids)
    shape = jnp.asarray(archive.grid_shape, jnp.int32)
    bins = jnp.floor((d - low) / (high - low) * shape).astype(jnp.int32)
    bins = jnp.clip(bins, 0, shape - 1)
    strides = np.cumprod((1,) + archive.grid_shape[:0:-1])[::-1]
    return jnp.sum(bins * jnp.asarray(strides, jnp.int32), axis=-1)


def insert(
    archive: Archive, genotypes: jax.Array, fitness: jax.Array, descriptors: jax.Array
) -> tuple[Archive, jax.Array]:
    """Insert a batch into the archive (see the module doc for the rules).

    Args:
        archive: an unbatched archive.
        genotypes: ``(B, D)``.
        fitness: ``(B,)``; NaN counts as ``-inf``.
        descriptors: ``(B, K)``; a row holding a NaN is rejected.

    Returns:
        ``(archive, num_rejected)``: the new archive and a ``() int32`` count
        of batch rows rejected for a NaN descriptor.
    """
    num_cells, batch = archive.num_cells, fitness.shape[0]
    fitness = jnp.asarray(fitness, jnp.float32)
    fitness = jnp.where(jnp.isnan(fitness), -jnp.inf, fitness)
    descriptors = jnp.asarray(descriptors, jnp.float32)
    is_valid = ~jnp.any(jnp.isnan(descriptors), axis=-1)
    safe = jnp.where(is_valid[:, None], descriptors, 0.0)
    # rejected rows go to an extra segment, num_cells, that no cell reads
    cell = jnp.where(is_valid, cell_index(archive, safe), num_cells)
    segments = num_cells + 1
    best = jax.ops.segment_max(fitness, cell, num_segments=segments)
    order = jnp.arange(batch, dtype=jnp.int32)
    is_best = fitness == best[cell]
    first = jax.ops.segment_min(
        jnp.where(is_best, order, batch), cell, num_segments=segments
    )
    incumbent = archive.fitness.at[cell].get(mode="fill", fill_value=jnp.inf)
    wins = is_valid & (order == first[cell]) & (fitness > incumbent)
    # losers write to index num_cells, out of range: mode="drop" skips them
    target = jnp.where(wins, cell, num_cells)

    def put(old, new):
        return old.at[target].set(new.astype(old.dtype), mode="drop")

    archive = archive.replace(
        genotypes=put(archive.genotypes, jnp.asarray(genotypes)),
        fitness=put(archive.fitness, fitness),
        descriptors=put(archive.descriptors, descriptors),
    )
    return archive, (batch - jnp.sum(is_valid)).astype(jnp.int32)


def sample_elites(key: jax.Array, archive: Archive, num: int) -> jax.Array:
    """``(num, D)`` genotypes of elites drawn uniformly, with replacement, from
    the filled cells (all cells, i.e. zeros, while the archive is empty).

    Draws an index ``k`` below the number of filled cells and finds the
    ``k``-th filled cell by a binary search of the running count: no
    ``(num, C)`` array of random numbers.
    """
    filled = archive.is_filled.astype(jnp.int32)
    running = jnp.cumsum(filled)
    k = jax.random.randint(key, (num,), 0, jnp.maximum(running[-1], 1))
    cell = jnp.searchsorted(running, k, side="right")
    return archive.genotypes[jnp.minimum(cell, archive.num_cells - 1)]
