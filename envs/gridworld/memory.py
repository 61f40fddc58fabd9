"""Farama's Memory task: remember the object seen at the start and choose the
matching one at the end of a hallway."""

import jax
import jax.numpy as jnp

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import levels as L
from jaxrl.envs.gridworld import missions as M
from jaxrl.envs.gridworld.core import (
    GridParams,
    Level,
    MiniGridEnv,
    check_action,
    goal_reward,
    transition,
)


class Memory(MiniGridEnv):
    """See a green key or ball in the start room, walk the hallway, and stand
    next to the matching object at its end.

    Farama's ``MemoryEnv``: the start room on the left, a one-cell hallway
    along the middle row ending at column ``hallway_end`` (``size - 3``, or
    uniform in ``[4, size - 2)`` with ``random_length``), a green key or ball
    (uniform) at ``(1, size // 2 - 1)``, a green key and a green ball (uniform
    order) above and below the hallway's end; the agent on the middle row at
    a uniform column in ``[1, hallway_end]`` facing right. Reaching the cell
    beside the matching object succeeds, beside the other fails. ``pickup``
    acts as ``toggle``. Step limit ``5 * size**2``.

    Marks: ``[success cell, failure cell]``.
    """

    def __init__(
        self, size: int = 8, random_length: bool = False, view_size: int = 7,
        see_through_walls: bool = False,
    ):  # fmt: skip
        if not isinstance(size, int) or size < 7 or size % 2 == 0:
            raise ValueError(f"size must be an odd int >= 7, got {size!r}")
        super().__init__(size, size, 5 * size * size, view_size, see_through_walls)
        self.size = size
        self.random_length = random_length  # static

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        del params
        n, mid = self.size, self.size // 2
        words = L.random_words(key, 4)
        end = 4 + L.below(words[0], n - 6) if self.random_length else jnp.int32(n - 3)
        upper, lower = mid - 2, mid + 2
        xs, ys = L.cell_coords(n, n)
        walls = ((ys == upper) | (ys == lower)) & (xs >= 1) & (xs <= 4)
        walls |= (xs == 4) & ((ys == upper + 1) | (ys == lower - 1))
        walls |= ((ys == upper + 1) | (ys == lower - 1)) & (xs >= 5) & (xs < end)
        walls |= ((xs == end) & (ys != mid)) | (xs == end + 2)
        grid = jnp.asarray(L.walled_room(n, n))
        grid = L.paint(grid, walls, C.WALL_CELL)
        agent_pos = jnp.stack([1 + L.below(words[1], end), jnp.int32(mid)])
        kinds = jnp.array([C.KEY, C.BALL], jnp.int32)
        seen = kinds[L.below(words[2], 2)]
        first = kinds[L.below(words[3], 2)]
        second = C.KEY + C.BALL - first

        def green(kind):
            return jnp.stack([kind, jnp.int32(C.GREEN), jnp.int32(0)])

        top = jnp.stack([end + 1, jnp.int32(mid - 2)])
        bottom = jnp.stack([end + 1, jnp.int32(mid + 2)])
        grid = L.put(grid, jnp.array([1, mid - 1], jnp.int32), green(seen))
        grid = L.put(grid, top, green(first))
        grid = L.put(grid, bottom, green(second))
        below_top, above_bottom = top + jnp.array([0, 1]), bottom - jnp.array([0, 1])
        matches_top = seen == first
        success = jnp.where(matches_top, below_top, above_bottom)
        failure = jnp.where(matches_top, above_bottom, below_top)
        mission = M.fixed("go to the matching object at the end of the hallway")
        return Level(
            grid, agent_pos, jnp.int32(0), mission, jnp.stack([success, failure])
        )

    def step_env(self, key, state, action, params):
        check_action(action, self.num_actions)
        del key
        action = jnp.where(action == C.PICKUP, C.TOGGLE, action)
        stepped, reward, terminated = transition(
            state, action, params.max_steps_in_episode, params.time_penalty
        )
        at_success = jnp.all(stepped.agent_pos == stepped.marks[0])
        at_failure = jnp.all(stepped.agent_pos == stepped.marks[1])
        reward = jnp.where(
            at_success,
            goal_reward(stepped.time, params),
            reward,
        )
        reward = jnp.where(at_failure, 0.0, reward)
        terminated = terminated | at_success | at_failure
        obs = self.observe(None, stepped, action, params)
        return obs, stepped, reward, terminated, {"success": at_success}
