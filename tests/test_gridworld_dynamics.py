"""Gridworld rules on hand-built levels."""

import jax.numpy as jnp
import numpy as np

from jaxrl.envs.gridworld import GridState, transition
from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld.levels import walled_room


def _state(grid, pos, direction, carrying=C.EMPTY_CELL):
    return GridState(
        time=jnp.int32(0), grid=jnp.asarray(grid), agent_pos=jnp.array(pos, jnp.int32),
        agent_dir=jnp.int32(direction), carrying=jnp.asarray(carrying, jnp.uint8),
        mission=jnp.int32(0), marks=jnp.zeros((0, 2), jnp.int32),
    )  # fmt: skip


def test_turning_and_wall_blocks():
    state = _state(walled_room(5, 5), (1, 1), 2)  # facing the left wall
    state, reward, terminated = transition(state, C.FORWARD, 100)
    assert state.agent_pos.tolist() == [1, 1] and not terminated and reward == 0
    state, _, _ = transition(state, C.RIGHT, 100)
    assert int(state.agent_dir) == 3
    state, _, _ = transition(state, C.LEFT, 100)
    state, _, _ = transition(state, C.LEFT, 100)
    assert int(state.agent_dir) == 1


def test_key_unlocks_only_matching_door_and_goal_reward():
    grid = walled_room(5, 5)
    grid[2, 1] = (C.KEY, C.YELLOW, 0)
    grid[3, 2] = (C.DOOR, C.YELLOW, C.LOCKED)
    grid[3, 3] = C.GOAL_CELL
    state = _state(grid, (1, 1), 0)
    state, _, _ = transition(state, C.TOGGLE, 100)  # nothing in front but a key
    state, _, _ = transition(state, C.PICKUP, 100)
    assert np.asarray(state.carrying).tolist() == [C.KEY, C.YELLOW, 0]
    assert int(state.grid[2, 1, 0]) == C.EMPTY
    state, _, _ = transition(state, C.FORWARD, 100)  # (2, 1)
    state, _, _ = transition(state, C.RIGHT, 100)  # facing down
    state, _, _ = transition(state, C.FORWARD, 100)  # (2, 2)
    state, _, _ = transition(state, C.LEFT, 100)  # facing the door at (3, 2)
    state, _, _ = transition(state, C.FORWARD, 100)
    assert state.agent_pos.tolist() == [2, 2]  # locked door blocks
    state, _, _ = transition(state, C.TOGGLE, 100)
    assert int(state.grid[3, 2, 2]) == C.OPEN
    state, _, _ = transition(state, C.FORWARD, 100)  # through the door
    state, _, _ = transition(state, C.RIGHT, 100)
    state, reward, terminated = transition(state, C.FORWARD, 100)
    # 11 steps taken: reward = 1 - 0.9 * 11 / 100 = 0.901
    assert bool(terminated) and int(state.time) == 11
    np.testing.assert_allclose(float(reward), 0.901, rtol=1e-6)


def test_wrong_key_does_not_unlock():
    grid = walled_room(5, 5)
    grid[2, 1] = (C.DOOR, C.YELLOW, C.LOCKED)
    state = _state(grid, (1, 1), 0, carrying=(C.KEY, C.RED, 0))
    state, _, _ = transition(state, C.TOGGLE, 100)
    assert int(state.grid[2, 1, 2]) == C.LOCKED
