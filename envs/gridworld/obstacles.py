"""Farama's Dynamic-Obstacles task: reach the goal while balls wander."""

import jax
import jax.numpy as jnp
import numpy as np
from gymnax.environments import spaces

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import levels as L
from jaxrl.envs.gridworld import missions as M
from jaxrl.envs.gridworld.core import (
    GridParams,
    GridState,
    Level,
    MiniGridEnv,
    check_action,
    on_goal,
    transition,
)
from jaxrl.envs.gridworld.tasks import _check_size

_BALL = (C.BALL, C.BLUE, 0)
_NO_BALLS = np.zeros((0, 2), np.int32)  # marks of a level without balls


class DynamicObstacles(MiniGridEnv):
    """Reach the goal; touching a moving ball (or walking into anything but
    empty floor or the goal) ends the episode with reward -1.

    Farama's ``DynamicObstaclesEnv``: a walled room, the goal at
    ``(size - 2, size - 2)``, the agent at ``(1, 1)`` facing right (or, with
    ``random_start``, on a uniform empty cell facing a uniform direction),
    ``num_obstacles`` blue balls on uniform empty cells. Before every move
    each ball in turn steps to a uniform empty cell of the 3x3 block around
    it (never the agent's cell), or stays when there is none. Farama finds
    that cell by up to 101 rejection tries and leaves the ball in place when
    they all fail (probability below 7e-6 when one cell is free); here the
    draw is exact. Three actions: left, right, forward (larger actions act as
    left, as in Farama). Walls do not block the view. Step limit
    ``4 * size**2``.

    Marks: the balls' cells, ``(num_obstacles, 2)``.
    """

    def __init__(
        self, size: int = 8, num_obstacles: int = 4, random_start: bool = False,
        view_size: int = 7, see_through_walls: bool = True,
    ):  # fmt: skip
        _check_size(size, 4)
        if not isinstance(num_obstacles, int) or num_obstacles < 0:
            raise ValueError(
                f"num_obstacles must be an int >= 0, got {num_obstacles!r}"
            )
        # Farama caps the count at size / 2 when it exceeds size / 2 + 1.
        if num_obstacles > size / 2 + 1:
            num_obstacles = size // 2
        super().__init__(size, size, 4 * size * size, view_size, see_through_walls)
        self.size = size
        self.num_obstacles = num_obstacles  # static
        self.random_start = random_start  # static

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        """Farama's level: the agent (with ``random_start``) then each ball
        on a uniform empty cell. The empty cells before any placement are
        the room's inside less the goal, a fixed list in ``(x, y)`` order; a
        placement's word ranks the cells of that list still free, as
        :func:`levels.sample_cell` ranks the grid's free cells, so the same
        words give the same level, with no grid search per ball."""
        del params
        n = self.size
        words = L.random_words(key, 2 + self.num_obstacles)
        grid = jnp.asarray(L.walled_room(n, n))
        grid = L.put(grid, jnp.array([n - 2, n - 2], jnp.int32), C.GOAL_CELL)
        cells = _open_cells(n)  # (M, 2) NumPy, (x, y) order; (1, 1) first
        if self.random_start:
            taken = [L.below(words[0], len(cells))]
            agent_dir = L.random_direction(words[1])
        else:
            taken, agent_dir = [jnp.int32(0)], jnp.int32(0)
        for word in words[2:]:
            taken.append(_skip_taken(L.below(word, len(cells) - len(taken)), taken))
        table = jnp.asarray(cells)
        agent_pos = table[taken[0]]
        marks = table[jnp.stack(taken[1:])] if self.num_obstacles else _NO_BALLS
        grid = L.paint(grid, _any_cell(marks, n, n), _BALL)
        mission = M.fixed("get to the green goal square")
        return Level(grid, agent_pos, agent_dir, mission, marks)

    def action_space(self, params=None) -> spaces.Discrete:
        return spaces.Discrete(C.FORWARD + 1)

    @property
    def num_actions(self) -> int:
        return C.FORWARD + 1

    def move_obstacles(self, key: jax.Array, state: GridState) -> GridState:
        """Each ball in turn to a uniform empty cell of its 3x3 block."""
        words = L.random_words(key, self.num_obstacles)
        xs, ys = L.cell_coords(self.width, self.height)
        not_agent = L.not_at(state.agent_pos, self.width, self.height)
        grid, marks = state.grid, state.marks
        for index in range(self.num_obstacles):
            old = marks[index]
            block = (jnp.abs(xs - old[0]) <= 1) & (jnp.abs(ys - old[1]) <= 1)
            allowed = L.free_cells(grid, block & not_agent)
            new = jnp.where(jnp.any(allowed), L.sample_cell(words[index], allowed), old)
            grid = L.put(grid, old, C.EMPTY_CELL)
            grid = L.put(grid, new, _BALL)
            marks = marks.at[index].set(new)
        return state.replace(grid=grid, marks=marks)

    def step_env(self, key, state, action, params):
        check_action(action, self.num_actions)
        action = jnp.where(action > C.FORWARD, C.LEFT, action)
        front = state.agent_pos + jnp.asarray(C.DIR_TO_VEC)[state.agent_dir]
        ahead = state.grid[front[0], front[1], 0]
        blocked = (ahead != C.EMPTY) & (ahead != C.GOAL)
        moved = self.move_obstacles(key, state)
        return self.finish_step(moved, action, blocked, params)

    def finish_step(self, moved, action, blocked, params):
        """The agent's move after the balls moved; ``blocked`` () bool is
        whether its front cell held anything but floor or goal before."""
        stepped, reward, terminated = transition(
            moved, action, params.max_steps_in_episode, params.time_penalty
        )
        hit = (action == C.FORWARD) & blocked
        reward = jnp.where(hit, -1.0, reward).astype(jnp.float32)
        obs = self.observe(None, stepped, action, params)
        info = {"success": on_goal(stepped)}  # a collision (-1) is a failure
        return obs, stepped, reward, terminated | hit, info


def _any_cell(cells: jax.Array, width: int, height: int) -> jax.Array:
    """``(W, H)`` bool: True at each of ``cells`` ``(K, 2)`` int32 ``(x, y)``."""
    xs, ys = L.cell_coords(width, height)
    at = (xs == cells[:, 0, None, None]) & (ys == cells[:, 1, None, None])
    return jnp.any(at, axis=0)


def _open_cells(size: int) -> np.ndarray:
    """``(M, 2)`` int32: the room's inside cells but the goal, in ``(x, y)``
    order (the order :func:`levels.sample_cell` ranks cells in)."""
    inside = range(1, size - 1)
    goal = (size - 2, size - 2)
    cells = [(x, y) for x in inside for y in inside if (x, y) != goal]
    return np.asarray(cells, np.int32)


def _skip_taken(rank: jax.Array, taken: list) -> jax.Array:
    """The index of the ``rank``-th entry (from 0) not in ``taken`` (distinct
    () int32 indices): the least ``i`` with ``i == rank + #{t <= i}``,
    reached by iterating that map from ``rank`` once per taken index."""
    index = rank
    for _ in taken:
        index = rank + sum((t <= index).astype(jnp.int32) for t in taken)
    return index
