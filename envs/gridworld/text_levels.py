"""Levels written as text, and an environment that plays a set of them.

A level is a block of lines, two characters per cell, ``x`` along a line and
``y`` down the lines. Common indentation and blank lines around the block are
ignored. Tokens:

=========  ===================================================
``##``     wall (grey)
``..``     empty floor (two spaces work too)
``GG``     goal (green)
``~~``     lava (red)
``K`` c    key of color c
``A`` c    ball of color c
``B`` c    box of color c
``D`` c    closed door of color c
``d`` c    open door of color c
``L`` c    locked door of color c
``>.``     the agent on an empty cell, facing right (``v.`` down,
           ``<.`` left, ``^.`` up)
=========  ===================================================

Colors ``c``: ``r`` red, ``g`` green, ``b`` blue, ``p`` purple, ``y`` yellow,
``e`` grey. Example, a 5x5 DoorKey::

    ##########
    ##>...####
    ##Ky..LyGG
    ##....####
    ##########
"""

import textwrap
from collections import deque

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import levels as L
from jaxrl.envs.gridworld.core import GridParams, Level, MiniGridEnv

COLOR_CHARS = {"r": C.RED, "g": C.GREEN, "b": C.BLUE, "p": C.PURPLE, "y": C.YELLOW,
               "e": C.GREY}  # fmt: skip
FIXED_TOKENS = {
    "##": C.WALL_CELL, "..": C.EMPTY_CELL, "  ": C.EMPTY_CELL,
    "GG": C.GOAL_CELL, "~~": (C.LAVA, C.RED, 0),
}  # fmt: skip
COLORED_OBJECTS = {
    "K": (C.KEY, 0), "A": (C.BALL, 0), "B": (C.BOX, 0),
    "D": (C.DOOR, C.CLOSED), "d": (C.DOOR, C.OPEN), "L": (C.DOOR, C.LOCKED),
}  # fmt: skip
AGENT_TOKENS = {">.": 0, "v.": 1, "<.": 2, "^.": 3}


class LevelTextError(ValueError):
    """A level's text is malformed; the message names the row and column."""


def _decode_token(token: str, row: int, column: int) -> tuple:
    if token in FIXED_TOKENS:
        return FIXED_TOKENS[token]
    if token[0] in COLORED_OBJECTS and token[1] in COLOR_CHARS:
        obj, state = COLORED_OBJECTS[token[0]]
        return (obj, COLOR_CHARS[token[1]], state)
    raise LevelTextError(
        f"row {row}, column {column}: unknown cell {token!r}; cells are two "
        f"characters: {sorted(FIXED_TOKENS)}, {sorted(AGENT_TOKENS)}, or one of "
        f"{sorted(COLORED_OBJECTS)} followed by a color in {sorted(COLOR_CHARS)}"
    )


def _goal_reachable(grid: np.ndarray, start: tuple[int, int]) -> bool:
    """Whether a path of non-wall cells joins ``start`` to a goal (doors and
    objects count as passable: keys open doors, objects can be moved)."""
    width, height = grid.shape[:2]
    seen, queue = {start}, deque([start])
    while queue:
        x, y = queue.popleft()
        if grid[x, y, 0] == C.GOAL:
            return True
        for dx, dy in C.DIR_TO_VEC:
            nx, ny = x + int(dx), y + int(dy)
            inside = 0 <= nx < width and 0 <= ny < height
            if inside and (nx, ny) not in seen and grid[nx, ny, 0] != C.WALL:
                seen.add((nx, ny))
                queue.append((nx, ny))
    return False


def parse_level(text: str, require_goal: bool = False) -> Level:
    """Parse one level (see the module docstring for the format).

    Args:
        text: the level; rows are lines, two characters per cell.
        require_goal: also check that a goal exists and that a path of
            non-wall cells leads to it from the agent.

    Returns:
        :class:`Level` with ``grid`` ``(W, H, 3)`` uint8 (NumPy), ``agent_pos``
        ``(2,)`` int32 and ``agent_dir`` () int32.

    Raises:
        LevelTextError: ragged rows, an odd number of characters, an unknown
            cell, no agent or more than one, or (with ``require_goal``) no
            reachable goal; rows and columns in messages count from 1.
    """
    lines = textwrap.dedent(text).strip("\n").split("\n")
    if not lines or not lines[0].strip():
        raise LevelTextError("the level is empty")
    width_chars = len(lines[0])
    if width_chars % 2:
        raise LevelTextError(
            f"row 1 has {width_chars} characters; cells are two characters each"
        )
    for row, line in enumerate(lines, start=1):
        if len(line) != width_chars:
            raise LevelTextError(
                f"row {row} has {len(line) // 2} cells ({len(line)} characters); "
                f"row 1 has {width_chars // 2}: rows must all be the same length"
            )
    width, height = width_chars // 2, len(lines)
    grid = np.zeros((width, height, 3), np.uint8)
    agents = []
    for y, line in enumerate(lines):
        for x in range(width):
            token = line[2 * x : 2 * x + 2]
            if token in AGENT_TOKENS:
                agents.append((x, y, AGENT_TOKENS[token]))
                grid[x, y] = C.EMPTY_CELL
            else:
                grid[x, y] = _decode_token(token, y + 1, x + 1)
    if not agents:
        raise LevelTextError(f"no agent; place one of {sorted(AGENT_TOKENS)}")
    if len(agents) > 1:
        where = ", ".join(f"row {y + 1} column {x + 1}" for x, y, _ in agents)
        raise LevelTextError(f"{len(agents)} agents ({where}); a level has one")
    x, y, direction = agents[0]
    if require_goal and not _goal_reachable(grid, (x, y)):
        raise LevelTextError(
            f"no goal reachable from the agent at row {y + 1}, column {x + 1}"
        )
    return Level(grid, np.array([x, y], np.int32), np.int32(direction))


def level_to_text(level: Level) -> str:
    """The inverse of :func:`parse_level` for cells it can write."""
    grid = np.asarray(level.grid)
    pos, direction = np.asarray(level.agent_pos), int(level.agent_dir)
    fixed = {tuple(int(v) for v in cell): token for token, cell in FIXED_TOKENS.items()
             if token != "  "}  # fmt: skip
    colored = {value: char for char, value in COLORED_OBJECTS.items()}
    color_chars = {value: char for char, value in COLOR_CHARS.items()}
    agents = {value: token for token, value in AGENT_TOKENS.items()}
    rows = []
    for y in range(grid.shape[1]):
        tokens = []
        for x in range(grid.shape[0]):
            cell = tuple(int(v) for v in grid[x, y])
            if (x, y) == (int(pos[0]), int(pos[1])):
                tokens.append(agents[direction])
            elif cell in fixed:
                tokens.append(fixed[cell])
            else:
                tokens.append(colored[(cell[0], cell[2])] + color_chars[cell[1]])
        rows.append("".join(tokens))
    return "\n".join(rows)


@struct.dataclass
class LevelSetParams(GridParams):
    """Params holding the levels themselves, so a new list of the same
    capacity and size reuses the compiled program."""

    grids: jax.Array = None  # (capacity, W, H, 3) uint8
    agent_pos: jax.Array = None  # (capacity, 2) int32
    agent_dir: jax.Array = None  # (capacity,) int32
    missions: jax.Array = None  # (capacity,) int32, missions.MISSIONS indices
    marks: jax.Array = None  # (capacity, K, 2) int32, the task's marked cells
    num_levels: jax.Array = None  # () int32, levels in use (the first ones)


class TextLevels(MiniGridEnv):
    """Play a fixed level, or a set of levels sampled uniformly per reset.

    Args:
        levels: one level (text or :class:`Level`) or a list of them, all the
            same size.
        capacity: how many levels the params can hold (default: as many as
            given); :meth:`params_for` swaps in another list of up to this
            many levels without recompiling.
        max_steps: step limit (default ``4 * W * H``).
        view_size, see_through_walls: as :class:`MiniGridEnv`.
        task: a task environment whose rules (``step_env``: success, failure,
            moving obstacles) and action space apply here, for levels that
            carry that task's mission and marks; default: the base rules.

    Example::

        env = TextLevels([level_a, level_b], capacity=16)
        params = env.params_for([level_a, level_b, level_c])  # no recompile
    """

    def __init__(
        self,
        levels,
        capacity: int | None = None,
        max_steps: int | None = None,
        view_size: int = 7,
        see_through_walls: bool = False,
        task: MiniGridEnv | None = None,
    ):
        texts = [levels] if isinstance(levels, str | Level) else list(levels)
        if not texts:
            raise ValueError("levels must hold at least one level")
        parsed = self._parse_all(texts, None)
        width, height = parsed[0].grid.shape[:2]
        capacity = len(texts) if capacity is None else capacity
        if not isinstance(capacity, int) or capacity < len(texts):
            raise ValueError(
                f"capacity must be an int >= the {len(texts)} levels given, "
                f"got {capacity!r}"
            )
        max_steps = 4 * width * height if max_steps is None else max_steps
        super().__init__(width, height, max_steps, view_size, see_through_walls)
        self.capacity = capacity  # static: shapes depend on it
        self.task = task  # static
        self._default = self._params(parsed, max_steps)

    def _parse_all(self, texts, shape) -> list[Level]:
        parsed = []
        for index, text in enumerate(texts):
            try:
                level = (
                    Level(*(np.asarray(x) for x in text))
                    if isinstance(text, Level)
                    else parse_level(text)
                )
            except LevelTextError as error:
                raise LevelTextError(f"level {index}: {error}") from None
            shape = level.grid.shape[:2] if shape is None else shape
            if level.grid.shape[:2] != shape:
                raise LevelTextError(
                    f"level {index} is {level.grid.shape[0]}x{level.grid.shape[1]} "
                    f"cells; the levels here are {shape[0]}x{shape[1]}"
                )
            parsed.append(level)
        return parsed

    def _params(self, parsed: list[Level], max_steps: int) -> LevelSetParams:
        pad = self.capacity - len(parsed)
        padded = parsed + [parsed[0]] * pad  # unused slots never sampled
        stack = [np.stack([getattr(level, field) for level in padded])
                 for field in Level._fields]  # fmt: skip
        return LevelSetParams(
            max_steps_in_episode=max_steps,
            grids=jnp.asarray(stack[0], jnp.uint8),
            agent_pos=jnp.asarray(stack[1], jnp.int32),
            agent_dir=jnp.asarray(stack[2], jnp.int32),
            missions=jnp.asarray(stack[3], jnp.int32),
            marks=jnp.asarray(stack[4], jnp.int32),
            num_levels=jnp.int32(len(parsed)),
        )

    def params_for(self, levels, max_steps: int | None = None) -> LevelSetParams:
        """Params playing ``levels`` (up to ``capacity``, this env's size)."""
        texts = [levels] if isinstance(levels, str | Level) else list(levels)
        if not 1 <= len(texts) <= self.capacity:
            raise ValueError(
                f"got {len(texts)} levels; this env holds 1 to {self.capacity} "
                "(set capacity when constructing it)"
            )
        parsed = self._parse_all(texts, (self.width, self.height))
        return self._params(parsed, self.max_steps if max_steps is None else max_steps)

    @property
    def default_params(self) -> LevelSetParams:
        return self._default

    def generate(self, key: jax.Array, params: LevelSetParams) -> Level:
        index = L.below(L.random_words(key, 1)[0], params.num_levels)
        return Level(
            params.grids[index], params.agent_pos[index], params.agent_dir[index],
            params.missions[index], params.marks[index],
        )  # fmt: skip

    def step_env(self, key, state, action, params):
        if self.task is None:
            return super().step_env(key, state, action, params)
        return self.task.step_env(key, state, action, params)

    def action_space(self, params=None):
        if self.task is None:
            return super().action_space(params)
        return self.task.action_space(params)

    @property
    def num_actions(self) -> int:
        return self.action_space().n
