"""MultiRoom's pooled level generation (``initial_states``): the levels it
builds hold what Farama's do, and every level is reproducible from the key."""

import jax
import numpy as np

import jaxrl
from jaxrl.envs.gridworld import constants as C


def test_pooled_levels_hold_a_chain_of_closed_doors_agent_and_goal():
    env, params = jaxrl.make("MultiRoom-N4-S5")  # 6 rooms of size 4 to 5
    draw = jax.jit(lambda k: env.initial_states(k, 48, params))
    states = draw(jax.random.key(3))
    again = draw(jax.random.key(3))
    for a, b in zip(jax.tree.leaves(states), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)
    grid = np.asarray(states.grid)
    kind = grid[..., 0]
    doors = kind == C.DOOR
    np.testing.assert_array_equal(doors.sum((1, 2)), env.max_rooms - 1)
    assert (grid[..., 2][doors] == C.CLOSED).all()
    np.testing.assert_array_equal((kind == C.GOAL).sum((1, 2)), 1)
    x, y = np.asarray(states.agent_pos).T
    assert (kind[np.arange(len(x)), x, y] == C.EMPTY).all()  # inside a room
    # independent levels: no two alike
    flat = grid.reshape(len(grid), -1)
    assert len(np.unique(flat, axis=0)) == len(grid)


def test_one_room_puts_the_goal_on_another_inside_cell_than_the_agent():
    env = jaxrl.envs.gridworld.MultiRoom(min_rooms=1, max_rooms=1, max_room_size=4)
    states = jax.jit(lambda k: env.initial_states(k, 200, env.default_params))(
        jax.random.key(0)
    )
    kind = np.asarray(states.grid[..., 0])
    goal = np.argwhere(kind == C.GOAL)  # (level, x, y), one per level
    np.testing.assert_array_equal(goal[:, 0], np.arange(200))
    agent = np.asarray(states.agent_pos)
    assert (np.abs(goal[:, 1:] - agent).sum(1) > 0).all()
    # a 4x4 room has 4 inside cells: the goal takes each of the other 3
    offsets = {tuple(d) for d in goal[:, 1:] - agent}
    assert offsets <= {(0, 1), (1, 0), (1, 1), (0, -1), (-1, 0), (-1, -1),
                       (1, -1), (-1, 1)}  # fmt: skip
    assert len(offsets) >= 6
