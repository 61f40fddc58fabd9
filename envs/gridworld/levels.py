"""Building blocks for level generators: rooms, walls and uniform placement.

They mirror Farama MiniGrid's ``Grid.wall_rect``, ``vert_wall``/``horz_wall``
and ``MiniGridEnv.place_obj``/``place_agent`` (uniform over the empty cells of
a region, never on the agent), following Farama's distributions rather than
its random number generator.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import threefry
from jaxrl.envs.gridworld import constants as C


def walled_room(width: int, height: int) -> np.ndarray:
    """``(W, H, 3)`` uint8: empty cells inside a one-cell wall border."""
    grid = np.empty((width, height, 3), np.uint8)
    grid[...] = C.EMPTY_CELL
    grid[0, :] = grid[-1, :] = grid[:, 0] = grid[:, -1] = C.WALL_CELL
    return grid


def cell_coords(width: int, height: int) -> tuple[jax.Array, jax.Array]:
    """``(W, 1)`` and ``(1, H)`` int32 column and row indices, for masks."""
    xs = jnp.arange(width, dtype=jnp.int32)[:, None]
    ys = jnp.arange(height, dtype=jnp.int32)[None, :]
    return xs, ys


def put(grid: jax.Array, pos: jax.Array, cell) -> jax.Array:
    """Write one encoded cell at ``pos`` ``(2,)`` int32 ``(x, y)``."""
    return grid.at[pos[0], pos[1]].set(jnp.asarray(cell, jnp.uint8))


def paint(grid: jax.Array, mask: jax.Array, cell) -> jax.Array:
    """Write one encoded cell wherever ``mask`` ``(W, H)`` bool is True."""
    return jnp.where(mask[..., None], jnp.asarray(cell, jnp.uint8), grid)


def random_words(key: jax.Array, count: int) -> jax.Array:
    """``(count,)`` uint32 random words: all the randomness of one level from
    a single counter-mode draw, far cheaper than splitting keys per choice.
    The words are ``jax.random.bits(key, (count,), jnp.uint32)``, hashed
    without XLA:CPU's loop (:mod:`threefry`)."""
    return threefry.bits(key, count)


def below(word: jax.Array, high) -> jax.Array:
    """() int32 uniform in ``[0, high)`` from one uint32 word; ``high`` may be
    traced. The modulo bias is below ``high / 2**32`` (under 1e-7 here)."""
    return (word % jnp.asarray(high, jnp.uint32)).astype(jnp.int32)


def sample_cell(word: jax.Array, allowed: jax.Array) -> jax.Array:
    """Uniform sample among allowed cells, as Farama's rejection sampling.

    Draws a rank among the allowed cells, finds its column from per-column
    counts, then its row within that column: two short prefix sums instead of
    one over the whole grid, which XLA's CPU backend runs in quadratic time.

    Args:
        word: () uint32 random word.
        allowed: ``(W, H)`` bool; at least one cell must be True.

    Returns:
        ``(2,)`` int32 ``(x, y)``.
    """
    per_column = jnp.sum(allowed, axis=1, dtype=jnp.int32)
    column_ends = jnp.cumsum(per_column)
    rank = below(word, column_ends[-1])
    x = jnp.sum(column_ends <= rank, dtype=jnp.int32)
    rank_in_column = rank - (column_ends[x] - per_column[x])
    row_ends = jnp.cumsum(allowed[x].astype(jnp.int32))
    y = jnp.sum(row_ends <= rank_in_column, dtype=jnp.int32)
    return jnp.stack([x, y])


def free_cells(grid: jax.Array, region: jax.Array | None = None) -> jax.Array:
    """``(W, H)`` bool: empty cells (inside ``region`` if given)."""
    free = grid[..., 0] == C.EMPTY
    return free if region is None else free & region


def not_at(pos: jax.Array, width: int, height: int) -> jax.Array:
    """``(W, H)`` bool mask that is False only at ``pos``."""
    xs, ys = cell_coords(width, height)
    return (xs != pos[0]) | (ys != pos[1])


def random_direction(word: jax.Array) -> jax.Array:
    """() int32 uniform in ``[0, 4)`` from one uint32 word."""
    return below(word, 4)
