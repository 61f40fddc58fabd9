"""Building blocks for level generators: rooms, walls and uniform placement.

They mirror Farama MiniGrid's ``Grid.wall_rect``, ``vert_wall``/``horz_wall``
and ``MiniGridEnv.place_obj``/``place_agent`` (uniform over the empty cells of
a region, never on the agent), following Farama's distributions rather than
its random number generator.
"""

import jax
import jax.numpy as jnp
import numpy as np

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


def sample_cell(key: jax.Array, allowed: jax.Array) -> jax.Array:
    """Uniform sample among allowed cells, as Farama's rejection sampling.

    Args:
        key: PRNG key.
        allowed: ``(W, H)`` bool; at least one cell must be True.

    Returns:
        ``(2,)`` int32 ``(x, y)``.
    """
    height = allowed.shape[1]
    counts = jnp.cumsum(allowed.reshape(-1).astype(jnp.int32))
    pick = jax.random.randint(key, (), 0, counts[-1], dtype=jnp.int32)
    index = jnp.argmax(counts > pick).astype(jnp.int32)
    return jnp.stack([index // height, index % height])


def free_cells(grid: jax.Array, region: jax.Array | None = None) -> jax.Array:
    """``(W, H)`` bool: empty cells (inside ``region`` if given)."""
    free = grid[..., 0] == C.EMPTY
    return free if region is None else free & region


def not_at(pos: jax.Array, width: int, height: int) -> jax.Array:
    """``(W, H)`` bool mask that is False only at ``pos``."""
    xs, ys = cell_coords(width, height)
    return (xs != pos[0]) | (ys != pos[1])


def random_direction(key: jax.Array) -> jax.Array:
    """() int32 uniform in ``[0, 4)``."""
    return jax.random.randint(key, (), 0, 4, dtype=jnp.int32)
