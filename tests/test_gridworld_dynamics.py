"""Gridworld rules on hand-built levels, and the success each task reports."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from env_ids import one_per_task

import jaxrl
from jaxrl.envs.gridworld import GridState, TextLevels, transition
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


# The key is below the agent, the locked door right of the cell below that.
_DOORKEY = """
    ##########
    ##v.##..##
    ##Ky##..##
    ##..LyGG##
    ##########
"""
_DOORKEY_ROUTE = [C.PICKUP, C.FORWARD, C.FORWARD, C.LEFT, C.TOGGLE, C.FORWARD,
                  C.FORWARD]  # fmt: skip


def _play(env, params, actions):
    """``(reward, terminated, truncated, success)`` of each step, from one reset."""
    step = jax.jit(env.step)
    _, state = env.reset(jax.random.key(0), params)
    outcomes = []
    for t, action in enumerate(actions):
        _, state, reward, terminated, truncated, info = step(
            jax.random.key(t), state, action, params
        )
        assert info["success"].shape == () and info["success"].dtype == jnp.bool_
        outcomes.append(
            (float(reward), bool(terminated), bool(truncated), bool(info["success"]))
        )
    return outcomes


def test_success_on_the_step_that_reaches_the_goal():
    env = TextLevels(_DOORKEY)
    params = env.default_params
    outcomes = _play(env, params, _DOORKEY_ROUTE)
    assert [success for *_, success in outcomes] == [False] * 6 + [True]
    reward, terminated, truncated, _ = outcomes[-1]
    assert terminated and not truncated
    np.testing.assert_allclose(reward, 1 - 0.9 * 7 / 100, rtol=1e-6)


def test_no_success_when_truncated_and_success_when_the_limit_hits_the_goal():
    env = TextLevels(_DOORKEY)
    params = env.default_params
    cut = _play(env, params.replace(max_steps_in_episode=3), _DOORKEY_ROUTE[:3])
    assert cut[-1][2] and not any(success for *_, success in cut)
    # the goal reached on the last allowed step: terminated, truncated, solved
    last = _play(env, params.replace(max_steps_in_episode=7), _DOORKEY_ROUTE)[-1]
    assert last[1:] == (True, True, True)


def test_lava_ends_the_episode_without_success():
    env = TextLevels(
        """
        ##########
        ##>.~~GG##
        ##########
        """
    )
    outcomes = _play(env, env.default_params, [C.FORWARD])
    assert outcomes == [(0.0, True, False, False)]


@pytest.mark.parametrize("env_id", one_per_task())
def test_success_is_a_positive_reward_that_ends_the_episode(env_id):
    """Farama's tasks succeed exactly where they pay a positive reward and end
    the episode (Dynamic-Obstacles' -1 is a failure; Playground never ends)."""
    env, params = jaxrl.make(env_id)
    num_envs, num_steps = 32, 64
    num_actions = env.action_space(params).n

    def step(state, key):
        k_act, k_step = jax.random.split(key)
        actions = jax.random.randint(k_act, (num_envs,), 0, num_actions)
        keys = jax.random.split(k_step, num_envs)
        _, state, reward, terminated, _, info = jax.vmap(
            env.step, in_axes=(0, 0, 0, None)
        )(keys, state, actions, params)
        return state, (reward, terminated, info["success"])

    @jax.jit
    def run(key):
        k_reset, k_steps = jax.random.split(key)
        resets = jax.random.split(k_reset, num_envs)
        _, state = jax.vmap(env.reset, in_axes=(0, None))(resets, params)
        keys = jax.random.split(k_steps, num_steps)
        return jax.lax.scan(step, state, keys)[1]

    reward, terminated, success = jax.device_get(run(jax.random.key(0)))
    np.testing.assert_array_equal(success, terminated & (reward > 0))


@pytest.mark.parametrize(
    "time_penalty, expected", [(0.9, 1 - 0.9 * 6 / 10), (0.0, 1.0)]
)
def test_time_penalty_scales_the_goal_reward(time_penalty, expected):
    """``time_penalty=0`` gives NAVIX's flat reward of 1 (set here through
    ``jaxrl.make``'s params fields)."""
    env, params = jaxrl.make(
        "Empty-5x5", max_steps_in_episode=10, time_penalty=time_penalty
    )
    _, state = env.reset(jax.random.key(0), params)  # (1, 1) facing right
    path = (C.FORWARD, C.RIGHT, C.FORWARD, C.FORWARD, C.LEFT, C.FORWARD)
    for action in path:  # to the goal at (3, 3) in 6 steps
        _, state, reward, terminated, _ = env.step_env(None, state, action, params)
    assert bool(terminated)
    np.testing.assert_allclose(float(reward), expected, rtol=1e-6)
