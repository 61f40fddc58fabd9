"""The agent's egocentric view and Farama MiniGrid's line-of-sight rule.

Farama builds the view by slicing the grid in front of the agent, rotating the
slice ``agent_dir + 1`` times to the left, and then running
``Grid.process_vis``: a row-by-row sweep from the agent's row upwards in
which light passes through every cell except walls and closed or locked
doors. Here the slice-and-rotate is either one dynamic slice of the
wall-padded grid and a rotation picked by direction, or one gather of single
cells (both read off a table built by running Farama's own slice/rotate
procedure on coordinates), and the sweep becomes one table lookup per view
row (the table is Farama's row rule run on every pair of bit masks).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs.gridworld import constants as C


@functools.cache
def view_offsets(view_size: int) -> np.ndarray:
    """Grid offsets of every view cell, per facing direction.

    Args:
        view_size: odd side length of the square view.

    Returns:
        ``(4, V, V, 2)`` int32: ``[d, i, j]`` is the ``(dx, dy)`` from the agent
        to the grid cell shown at view column ``i``, row ``j`` when the agent
        faces direction ``d``. The agent sits at view ``(V // 2, V - 1)``.
    """
    v, half = view_size, view_size // 2
    tops = {0: (0, -half), 1: (-half, 0), 2: (1 - v, -half), 3: (-half, 1 - v)}
    tables = np.zeros((4, v, v, 2), np.int32)
    for d, (top_x, top_y) in tops.items():
        cells = np.stack(np.meshgrid(np.arange(v), np.arange(v), indexing="ij"), -1)
        cells = cells + np.array([top_x, top_y])
        for _ in range(d + 1):  # Farama's Grid.rotate_left: new[j, V-1-i] = old[i, j]
            rotated = np.empty_like(cells)
            for i in range(v):
                for j in range(v):
                    rotated[j, v - 1 - i] = cells[i, j]
            cells = rotated
        tables[d] = cells
    return tables


@functools.cache
def window_layout(view_size: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """The view as a rotated square window of the grid, per direction.

    Returns:
        ``(tops, turns)``: ``tops`` ``(4, 2)`` int32, the window's lowest
        ``(dx, dy)`` from the agent for each direction; ``turns[d]`` the
        ``np.rot90`` count that turns the window into the view. Both are read
        off :func:`view_offsets`, so the two descriptions cannot disagree.
    """
    v = view_size
    offsets = view_offsets(v)
    cell_ids = np.arange(v * v).reshape(v, v)
    tops, turns = [], []
    for d in range(4):
        top = offsets[d].reshape(-1, 2).min(axis=0)
        local = offsets[d] - top
        shown = cell_ids[local[..., 0], local[..., 1]]
        turns.append(
            next(k for k in range(4) if (np.rot90(cell_ids, k) == shown).all())
        )
        tops.append(top)
    return np.asarray(tops, np.int32), tuple(turns)


# Slice the padded grid when it has at most this many times the view's cells.
_SLICE_MAX_AREA_RATIO = 12


def egocentric_view(
    grid: jax.Array, agent_pos: jax.Array, agent_dir: jax.Array, view_size: int
) -> jax.Array:
    """Cells in the agent's view, before line of sight is applied.

    Args:
        grid: ``(W, H, 3)`` uint8 encoded grid, indexed ``[x, y]``.
        agent_pos: ``(2,)`` int32 ``(x, y)``.
        agent_dir: ``()`` int32 facing direction.
        view_size: static odd side length ``V``.

    Returns:
        ``(V, V, 3)`` uint8, indexed ``[i, j]`` like Farama's ``obs["image"]``;
        cells outside the grid read as walls, as in Farama's ``Grid.slice``.
    """
    width, height = grid.shape[0], grid.shape[1]
    padded_area = (width + 2 * view_size) * (height + 2 * view_size)
    # Two equivalent methods; which is faster depends on how much larger than
    # the view the grid is (measured on CPU: the crossover is near 8x8 at V=7).
    if padded_area <= _SLICE_MAX_AREA_RATIO * view_size**2:
        return _sliced_view(grid, agent_pos, agent_dir, view_size)
    return _gathered_view(grid, agent_pos, agent_dir, view_size)


def _sliced_view(grid, agent_pos, agent_dir, view_size):
    """One dynamic slice of the wall-padded grid, rotated by direction."""
    v = view_size
    width, height = grid.shape[0], grid.shape[1]
    tops, turns = window_layout(v)
    wall = jnp.asarray(C.WALL_CELL, jnp.uint8)
    padded = jnp.broadcast_to(wall, (width + 2 * v, height + 2 * v, 3))
    padded = padded.at[v : v + width, v : v + height].set(grid)
    start = agent_pos + jnp.asarray(tops)[agent_dir] + v
    window = jax.lax.dynamic_slice(
        padded, (start[0], start[1], jnp.int32(0)), (v, v, 3)
    )
    view = jnp.rot90(window, turns[3])
    for d in (2, 1, 0):
        view = jnp.where(agent_dir == d, jnp.rot90(window, turns[d]), view)
    return view


def _gathered_view(grid, agent_pos, agent_dir, view_size):
    """One gather of single cells through :func:`view_offsets`."""
    width, height = grid.shape[0], grid.shape[1]
    offsets = jnp.asarray(view_offsets(view_size))[agent_dir]
    xs = agent_pos[0] + offsets[..., 0]
    ys = agent_pos[1] + offsets[..., 1]
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    cells = grid[jnp.clip(xs, 0, width - 1), jnp.clip(ys, 0, height - 1)]
    return jnp.where(inside[..., None], cells, jnp.asarray(C.WALL_CELL, jnp.uint8))


def _spread(bits: jax.Array, through: jax.Array, width: int, toward_high: bool):
    """Light spreading along one row: every set bit lights its neighbours
    (towards higher or lower columns) for as long as the cells it leaves are
    transparent. Log-step prefix propagation: distances 1, 2, 4, ..."""
    full = (1 << width) - 1
    shift = 1
    while shift < width:
        if toward_high:
            bits = bits | (((bits & through) << shift) & full)
            through = through & (through >> shift)
        else:
            bits = bits | ((bits & through) >> shift)
            through = through & ((through << shift) & full)
        shift *= 2
    return bits


def farama_row_pass(lit: int, through: int, width: int) -> tuple[int, int]:
    """One row of Farama's ``Grid.process_vis``, on Python ints.

    Args:
        lit: bit ``i`` set if view column ``i`` of this row is already lit.
        through: bit ``i`` set if column ``i`` lets light through.
        width: number of columns ``V``.

    Returns:
        ``(seen, lit_above)``: the row's lit columns after Farama's
        left-to-right and right-to-left passes, and the columns they light
        in the row above.
    """
    mask = [bool(lit >> i & 1) for i in range(width)]
    clear = [bool(through >> i & 1) for i in range(width)]
    above = [False] * width
    for i in range(width - 1):
        if mask[i] and clear[i]:
            mask[i + 1] = above[i + 1] = above[i] = True
    for i in reversed(range(1, width)):
        if mask[i] and clear[i]:
            mask[i - 1] = above[i - 1] = above[i] = True
    as_bits = lambda flags: sum(1 << i for i, on in enumerate(flags) if on)  # noqa: E731
    return as_bits(mask), as_bits(above)


_MAX_TABLE_VIEW = 9  # tables hold 4**V entries: 256 KiB of int32 at V = 9


@functools.cache
def row_pass_table(view_size: int) -> np.ndarray:
    """:func:`farama_row_pass` for every ``(lit, through)`` pair.

    Returns:
        ``(2**V * 2**V,)`` int32 at ``lit * 2**V + through``:
        ``seen | lit_above << V``.
    """
    v = view_size
    table = np.empty(1 << (2 * v), np.int32)
    for lit in range(1 << v):
        for through in range(1 << v):
            seen, above = farama_row_pass(lit, through, v)
            table[lit << v | through] = seen | above << v
    return table


def line_of_sight(transparent: jax.Array) -> jax.Array:
    """Farama's ``Grid.process_vis`` on an egocentric view.

    Each row is one lookup in :func:`row_pass_table` (views up to 9 wide) or,
    for wider views, log-step bit propagation; both give Farama's mask.

    Args:
        transparent: ``(V, V)`` bool, indexed ``[i, j]``; False for walls and
            closed or locked doors (Farama's ``see_behind``).

    Returns:
        ``(V, V)`` bool: which view cells the agent sees.
    """
    v = transparent.shape[0]
    full = (1 << v) - 1
    clear = transparent.astype(jnp.int32)
    row_bits = clear[0]  # (V,) over rows j; bit i = column i
    for i in range(1, v):  # unrolled: XLA fuses shifts, not small reductions
        row_bits = row_bits | (clear[i] << i)
    table = jnp.asarray(row_pass_table(v)) if v <= _MAX_TABLE_VIEW else None
    seen_rows = [None] * v
    lit = jnp.int32(1 << (v // 2))  # the agent's own cell, bottom row
    for j in reversed(range(v)):
        if table is not None:
            entry = table[(lit << v) | row_bits[j]]
            seen_rows[j], lit = entry & full, entry >> v
        else:
            seen_rows[j], lit = _row_pass_bits(lit, row_bits[j], v)
    seen = jnp.stack(seen_rows)  # (V rows j, ) bit i = column
    columns = jnp.arange(v, dtype=jnp.int32)
    return ((seen[None, :] >> columns[:, None]) & 1).astype(bool)


def _row_pass_bits(lit: jax.Array, through: jax.Array, v: int):
    """:func:`farama_row_pass` on traced int32 bit masks."""
    full = (1 << v) - 1
    left_to_right = _spread(lit, through, v, toward_high=True)
    right_to_left = _spread(left_to_right, through, v, toward_high=False)
    # Farama's left-to-right pass visits columns 0..V-2 and lights the cell
    # above and above-right; its right-to-left pass visits 1..V-1 and
    # lights above and above-left.
    up_right = left_to_right & through & (full >> 1)
    up_left = right_to_left & through & (full - 1)
    above = (up_right | (up_right << 1) | up_left | (up_left >> 1)) & full
    return right_to_left, above
