"""RGB pictures of gridworld states, drawn the way Farama MiniGrid draws them.

Farama draws each tile at three times its size, filling shapes (rectangles,
circles, thick line segments, the agent's triangle) pixel by pixel with
point-in-shape tests at pixel centres, blends highlighted tiles 30% towards
white, and averages 3x3 blocks down. Here every distinct tile (each object,
color and door state, with or without the agent facing each direction, with or
without highlight) is drawn that way once, in NumPy, into an atlas cached per
tile size; the same float arithmetic as Farama's is used, so the tiles are
bit-for-bit Farama's. A picture is then one gather (the tile rows of each
cell) and a reshape, in JAX: it jits, and ``jax.vmap`` renders a batch of
states in one call.

Example::

    env, params = jaxrl.make("DoorKey-8x8")
    _, state = env.reset(jax.random.key(0), params)
    seen = visible_cells(state, env.view_size, env.see_through_walls)
    frame = jax.jit(render_state)(state, highlight=seen)  # (256, 256, 3) uint8
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld.view import egocentric_view, line_of_sight, view_offsets

MIN_TILE_SIZE, MAX_TILE_SIZE = 4, 128  # the atlas holds 620 tiles of size**2 pixels
_SUBDIVS = 3  # Farama's supersampling factor

# Farama's COLORS, in color-code order (red, green, blue, purple, yellow, grey).
COLORS = np.array(
    [[255, 0, 0], [0, 255, 0], [0, 0, 255], [112, 39, 195], [255, 255, 0],
     [100, 100, 100]], np.uint8,
)  # fmt: skip
_LINE_GREY = (100, 100, 100)
_BLACK = (0, 0, 0)
_LAVA_ORANGE = (255, 128, 0)
_AGENT_RED = (255, 0, 0)
_HIGHLIGHT_ALPHA = 0.30
# Agent slots per tile: 0 = no agent, 1 + d = agent facing direction d.
_NUM_AGENT_SLOTS = 5


def check_tile_size(tile_size) -> int:
    """Return ``tile_size`` as an int, or raise ``ValueError`` naming the range."""
    if (
        isinstance(tile_size, bool)
        or not isinstance(tile_size, int | np.integer)
        or not MIN_TILE_SIZE <= tile_size <= MAX_TILE_SIZE
    ):
        raise ValueError(
            f"tile_size must be an int from {MIN_TILE_SIZE} to {MAX_TILE_SIZE} "
            f"pixels (8 and 32 are the usual ones), got {tile_size!r}"
        )
    return int(tile_size)


# ----------------------------------------------------------------------------
# Tile atlas (NumPy, built once per tile size)


@functools.cache
def _drawings() -> tuple[tuple[tuple[int, int, int], ...], np.ndarray]:
    """The distinct object drawings and the table from codes to them.

    Returns:
        ``(drawings, table)``: ``drawings[k]`` is a representative
        ``(object, color, state)`` code of drawing ``k`` (drawing 0 is an empty
        tile: unseen, empty and agent codes); ``table`` ``(11, 6, 3)`` int32
        maps every code to its drawing. Only doors depend on the state
        channel, and lava draws the same whatever its color code.
    """
    drawings = [(C.EMPTY, 0, 0)]
    table = np.zeros((C.NUM_OBJECTS, C.NUM_COLORS, C.NUM_STATES), np.int32)
    for obj in (C.WALL, C.FLOOR, C.DOOR, C.KEY, C.BALL, C.BOX, C.GOAL, C.LAVA):
        for color in range(C.NUM_COLORS) if obj != C.LAVA else (0,):
            for state in range(C.NUM_STATES) if obj == C.DOOR else (0,):
                drawings.append((obj, color, state))
                if obj == C.LAVA:
                    table[obj] = len(drawings) - 1
                elif obj == C.DOOR:
                    table[obj, color, state] = len(drawings) - 1
                else:
                    table[obj, color] = len(drawings) - 1
    return tuple(drawings), table


class _Canvas:
    """A supersampled square tile with Farama's pixel-centre coordinates."""

    def __init__(self, size: int):
        centres = (np.arange(size) + 0.5) / size  # float64, as Farama's
        self.x = np.broadcast_to(centres[None, :], (size, size))  # [row y, col x]
        self.y = np.broadcast_to(centres[:, None], (size, size))
        self.img = np.zeros((size, size, 3), np.uint8)

    def fill(self, mask: np.ndarray, color) -> None:
        # Farama assigns float colors into a uint8 image: truncation
        self.img[mask] = np.asarray(color).astype(np.uint8)


def _rect(x, y, x0, x1, y0, y1):
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def _circle(x, y, cx, cy, r):
    return (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r


def _segment(x, y, x0, y0, x1, y1, r):
    """Points within ``r`` of the segment; the end points and unit direction
    are float32, as Farama computes them, everything per pixel float64."""
    p0 = np.array([x0, y0], np.float32)
    step = np.array([x1, y1], np.float32) - p0
    length = np.linalg.norm(step)
    unit = step / length
    box = _rect(x, y, min(x0, x1) - r, max(x0, x1) + r, min(y0, y1) - r,
                max(y0, y1) + r)  # fmt: skip
    ux, uy = np.float64(unit[0]), np.float64(unit[1])
    dx, dy = x - np.float64(p0[0]), y - np.float64(p0[1])
    along = np.clip(dx * ux + dy * uy, 0, np.float64(length))
    near_x = np.float64(p0[0]) + along * ux
    near_y = np.float64(p0[1]) + along * uy
    ox, oy = x - near_x, y - near_y
    return box & (np.sqrt(ox * ox + oy * oy) <= r)


def _agent_triangle(x, y, direction: int):
    """Farama's agent: triangle (0.12, 0.19), (0.87, 0.50), (0.12, 0.81)
    pointing right, turned ``direction`` quarter turns clockwise about the
    centre (barycentric test; vertex terms float32 as Farama's)."""
    theta = 0.5 * math.pi * direction
    cos, sin = math.cos(-theta), math.sin(-theta)
    sx, sy = x - 0.5, y - 0.5
    tx = 0.5 + sx * cos - sy * sin  # the pixel in the unturned frame
    ty = 0.5 + sy * cos + sx * sin
    a, b, c = (np.array(p, np.float32) for p in ((0.12, 0.19), (0.87, 0.50),
                                                 (0.12, 0.81)))  # fmt: skip
    v0, v1 = c - a, b - a
    d00, d01, d11 = np.dot(v0, v0), np.dot(v0, v1), np.dot(v1, v1)
    inv = 1 / (d00 * d11 - d01 * d01)
    px, py = tx - np.float64(a[0]), ty - np.float64(a[1])
    d02 = np.float64(v0[0]) * px + np.float64(v0[1]) * py
    d12 = np.float64(v1[0]) * px + np.float64(v1[1]) * py
    u = (d11 * d02 - d01 * d12) * inv
    v = (d00 * d12 - d01 * d02) * inv
    return (u >= 0) & (v >= 0) & (u + v < 1)


def _draw_object(canvas: _Canvas, obj: int, color: int, state: int) -> None:
    x, y, fill = canvas.x, canvas.y, canvas.fill
    rgb = COLORS[color].astype(np.int64)
    if obj in (C.WALL, C.GOAL):
        fill(_rect(x, y, 0, 1, 0, 1), rgb)
    elif obj == C.FLOOR:
        fill(_rect(x, y, 0.031, 1, 0.031, 1), rgb / 2)  # dim color
    elif obj == C.LAVA:
        fill(_rect(x, y, 0, 1, 0, 1), _LAVA_ORANGE)
        for i in range(3):  # three zigzag waves
            low, high = 0.3 + 0.2 * i, 0.4 + 0.2 * i
            zigzag = ((0.1, low, 0.3, high), (0.3, high, 0.5, low),
                      (0.5, low, 0.7, high), (0.7, high, 0.9, low))  # fmt: skip
            for x0, y0, x1, y1 in zigzag:
                fill(_segment(x, y, x0, y0, x1, y1, 0.03), _BLACK)
    elif obj == C.KEY:
        fill(_rect(x, y, 0.50, 0.63, 0.31, 0.88), rgb)  # shaft
        fill(_rect(x, y, 0.38, 0.50, 0.59, 0.66), rgb)  # teeth
        fill(_rect(x, y, 0.38, 0.50, 0.81, 0.88), rgb)
        fill(_circle(x, y, 0.56, 0.28, 0.190), rgb)  # ring
        fill(_circle(x, y, 0.56, 0.28, 0.064), _BLACK)
    elif obj == C.BALL:
        fill(_circle(x, y, 0.5, 0.5, 0.31), rgb)
    elif obj == C.BOX:
        fill(_rect(x, y, 0.12, 0.88, 0.12, 0.88), rgb)
        fill(_rect(x, y, 0.18, 0.82, 0.18, 0.82), _BLACK)
        fill(_rect(x, y, 0.16, 0.84, 0.47, 0.53), rgb)  # lid line
    elif obj == C.DOOR:
        _draw_door(canvas, rgb, state)


def _draw_door(canvas: _Canvas, rgb: np.ndarray, state: int) -> None:
    x, y, fill = canvas.x, canvas.y, canvas.fill
    if state == C.OPEN:  # the door swung against the tile's right edge
        fill(_rect(x, y, 0.88, 1.00, 0.00, 1.00), rgb)
        fill(_rect(x, y, 0.92, 0.96, 0.04, 0.96), _BLACK)
    elif state == C.LOCKED:
        fill(_rect(x, y, 0.00, 1.00, 0.00, 1.00), rgb)
        fill(_rect(x, y, 0.06, 0.94, 0.06, 0.94), 0.45 * rgb)
        fill(_rect(x, y, 0.52, 0.75, 0.50, 0.56), rgb)  # key slot
    else:  # closed: frame, panel outline, handle
        fill(_rect(x, y, 0.00, 1.00, 0.00, 1.00), rgb)
        fill(_rect(x, y, 0.04, 0.96, 0.04, 0.96), _BLACK)
        fill(_rect(x, y, 0.08, 0.92, 0.08, 0.92), rgb)
        fill(_rect(x, y, 0.12, 0.88, 0.12, 0.88), _BLACK)
        fill(_circle(x, y, 0.75, 0.50, 0.08), rgb)


def _object_tile(code, size: int) -> np.ndarray:
    """The supersampled ``(size, size, 3)`` uint8 tile of one object, with
    Farama's grid lines on its top and left edges."""
    canvas = _Canvas(size)
    x, y = canvas.x, canvas.y
    canvas.fill(_rect(x, y, 0, 0.031, 0, 1), _LINE_GREY)  # left edge
    canvas.fill(_rect(x, y, 0, 1, 0, 0.031), _LINE_GREY)  # top edge
    _draw_object(canvas, *code)
    return canvas.img


def _finish_tile(img: np.ndarray, highlight: bool, tile_size: int) -> np.ndarray:
    """Highlight (optionally) and average 3x3 blocks down, as Farama does."""
    if highlight:
        white = np.array((255, 255, 255), np.uint8)
        img = (img + _HIGHLIGHT_ALPHA * (white - img)).clip(0, 255).astype(np.uint8)
    # Average 3x3 blocks (in Farama's order: columns, then rows), truncate.
    blocks = img.reshape(tile_size, _SUBDIVS, tile_size, _SUBDIVS, 3)
    return blocks.mean(axis=3).mean(axis=1).astype(np.uint8)


@functools.cache
def tile_atlas(tile_size: int) -> np.ndarray:
    """Every distinct tile at ``tile_size``, drawn once and cached.

    Returns:
        ``(D * 5 * 2, ts, ts, 3)`` uint8 (read-only), tile
        ``(drawing * 5 + agent) * 2 + highlight`` where ``drawing`` indexes
        :func:`_drawings`, ``agent`` is 0 for no agent or ``1 + direction``.
    """
    tile_size = check_tile_size(tile_size)
    size = tile_size * _SUBDIVS
    canvas = _Canvas(size)
    agents = [None] + [_agent_triangle(canvas.x, canvas.y, d) for d in range(4)]
    red = np.asarray(_AGENT_RED, np.uint8)
    tiles = []
    for code in _drawings()[0]:
        drawn = _object_tile(code, size)
        for agent in agents:
            img = drawn.copy()
            if agent is not None:
                img[agent] = red
            tiles += [_finish_tile(img, lit, tile_size) for lit in (False, True)]
    atlas = np.stack(tiles)
    atlas.setflags(write=False)
    return atlas


# ----------------------------------------------------------------------------
# Pictures (JAX)


def render_grid(
    grid: jax.Array,
    agent_pos: jax.Array | None = None,
    agent_dir: jax.Array | None = None,
    tile_size: int = 32,
    highlight: jax.Array | None = None,
) -> jax.Array:
    """Picture of an encoded grid, as Farama's ``Grid.render``.

    Args:
        grid: ``(W, H, 3)`` uint8 ``(object, color, state)`` per cell, ``[x, y]``.
            Unseen, empty and agent codes draw as empty floor; the state
            channel counts only for doors (a box draws the same whatever it
            holds); codes out of range are clipped.
        agent_pos: ``(2,)`` int ``(x, y)``; with ``agent_dir``, the agent's
            triangle is drawn there. Either None: no agent.
        agent_dir: ``()`` int, 0 right, 1 down, 2 left, 3 up.
        tile_size: static pixels per cell, :data:`MIN_TILE_SIZE` to
            :data:`MAX_TILE_SIZE`.
        highlight: ``(W, H)`` bool cells blended 30% towards white (Farama
            highlights the cells the agent sees); None: none.

    Returns:
        ``(H * tile_size, W * tile_size, 3)`` uint8 image, rows top to bottom.
    """
    tile_size = check_tile_size(tile_size)
    width, height = grid.shape[0], grid.shape[1]
    atlas = jnp.asarray(tile_atlas(tile_size))
    table = jnp.asarray(_drawings()[1])
    obj = jnp.minimum(grid[..., 0], C.NUM_OBJECTS - 1).astype(jnp.int32)
    color = jnp.minimum(grid[..., 1], C.NUM_COLORS - 1).astype(jnp.int32)
    state = jnp.minimum(grid[..., 2], C.NUM_STATES - 1).astype(jnp.int32)
    index = table[obj, color, state] * _NUM_AGENT_SLOTS
    if agent_pos is not None and agent_dir is not None:
        xs = jnp.arange(width)[:, None]
        ys = jnp.arange(height)[None, :]
        here = (xs == agent_pos[0]) & (ys == agent_pos[1])
        index = index + jnp.where(here, jnp.asarray(agent_dir) % 4 + 1, 0)
    index = index * 2
    if highlight is not None:
        index = index + jnp.asarray(highlight, bool).astype(jnp.int32)
    # Gather tile rows straight into picture order: picture row y * ts + r,
    # tile column x is row r of tile index[x, y]. (Gathering whole tiles and
    # transposing was measured slower on CPU.)
    rows = atlas.reshape(-1, tile_size * 3)  # (tiles * ts, ts * 3)
    offsets = jnp.arange(tile_size)[None, :, None]
    row_index = index.T[:, None, :] * tile_size + offsets  # (H, ts, W)
    picture = jnp.take(rows, row_index, axis=0, mode="clip")  # (H, ts, W, ts * 3)
    return picture.reshape(height * tile_size, width * tile_size, 3)


def render_state(state, tile_size: int = 32, highlight: jax.Array | None = None):
    """Full picture of a :class:`GridState`, as Farama's ``env.render()``.

    Args:
        state: a gridworld state (``grid``, ``agent_pos``, ``agent_dir``).
        tile_size: static pixels per cell (8 and 32 are usual).
        highlight: ``(W, H)`` bool, e.g. :func:`visible_cells`, to show what
            the agent sees as Farama does; None: no highlight.

    Returns:
        ``(H * tile_size, W * tile_size, 3)`` uint8.
    """
    return render_grid(
        state.grid, state.agent_pos, state.agent_dir, tile_size, highlight
    )


def _view_and_sight(state, view_size: int, see_through_walls: bool):
    """The unoccluded egocentric view ``(V, V, 3)`` and what is seen ``(V, V)``."""
    view = egocentric_view(state.grid, state.agent_pos, state.agent_dir, view_size)
    if see_through_walls:
        return view, jnp.ones(view.shape[:2], bool)
    obj, door_state = view[..., 0], view[..., 2]
    closed_door = (obj == C.DOOR) & (door_state != C.OPEN)
    return view, line_of_sight((obj != C.WALL) & ~closed_door)


def visible_cells(state, view_size: int, see_through_walls: bool) -> jax.Array:
    """Grid cells the agent sees, Farama's highlight mask in ``env.render()``.

    Args:
        state: a gridworld state.
        view_size: static odd side of the agent's view (``env.view_size``).
        see_through_walls: static (``env.see_through_walls``).

    Returns:
        ``(W, H)`` bool, indexed ``[x, y]``.
    """
    width, height = state.grid.shape[0], state.grid.shape[1]
    _, seen = _view_and_sight(state, view_size, see_through_walls)
    offsets = jnp.asarray(view_offsets(view_size))[state.agent_dir]  # (V, V, 2)
    xs = state.agent_pos[0] + offsets[..., 0]
    ys = state.agent_pos[1] + offsets[..., 1]
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    # out-of-grid view cells go to index (W, H), which "drop" discards
    xs, ys = jnp.where(inside, xs, width), jnp.where(inside, ys, height)
    return jnp.zeros((width, height), bool).at[xs, ys].set(seen, mode="drop")


def render_view(
    image: jax.Array, tile_size: int = 8, highlight: jax.Array | None = None
) -> jax.Array:
    """Picture of an egocentric encoded view (an observation's ``image``).

    Farama's ``get_frame(agent_pov=True)`` (``RGBImgPartialObsWrapper``):
    the agent at the bottom centre facing up, on the object it carries;
    unseen cells (code 0) as empty, unhighlighted tiles; seen cells
    highlighted.

    Args:
        image: ``(V, V, 3)`` uint8, ``[i, j]`` as Farama's ``obs["image"]``.
        tile_size: static pixels per cell.
        highlight: ``(V, V)`` bool; None: the seen cells (object code != 0).

    Returns:
        ``(V * tile_size, V * tile_size, 3)`` uint8.
    """
    v = image.shape[0]
    if highlight is None:
        highlight = image[..., 0] != C.UNSEEN
    agent_pos = jnp.array([v // 2, image.shape[1] - 1])
    return render_grid(image, agent_pos, jnp.int32(3), tile_size, highlight)
