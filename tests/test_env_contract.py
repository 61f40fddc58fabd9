"""The gymnax contract: traced for every id jaxrl registers, compiled and run
for one id of each task (each compilation takes seconds).

The compiled tests step the session's shared instance of each id (the
``shared_env`` fixture), so its reset and step are compiled once for all of
them; a test that changed a shape or dtype would show up as a retrace.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from env_ids import one_per_task

import jaxrl


@pytest.mark.parametrize("env_id", jaxrl.registry.ids())
def test_every_id_traces_to_its_spaces(env_id):
    """Shapes and dtypes only (no compilation): reset and step give what the
    spaces promise, and step keeps the state's structure."""
    env, params = jaxrl.make(env_id)
    key = jax.random.key(0)
    obs, state = jax.eval_shape(env.reset, key, params)
    space = env.observation_space(params)
    is_dict = hasattr(obs, "_asdict")  # gridworlds; the hard maze has a Box
    leaves = obs._asdict() if is_dict else {"obs": obs}
    space = space.spaces if is_dict else {"obs": space}
    for name, leaf in leaves.items():
        assert leaf.shape == space[name].shape, (name, leaf.shape)
        assert leaf.dtype == space[name].dtype, (name, leaf.dtype)
    action = jax.eval_shape(env.action_space(params).sample, key)
    out = jax.eval_shape(env.step, key, state, action, params)
    chex.assert_trees_all_equal_shapes_and_dtypes(out[0], obs)
    chex.assert_trees_all_equal_shapes_and_dtypes(out[1], state)
    assert out[2].dtype == jnp.float32 and out[3].dtype == jnp.bool_


@pytest.mark.parametrize("env_id", one_per_task())
def test_step_contract(env_id, shared_env):
    shared = shared_env(env_id)
    env, params, step = shared.env, shared.params, shared.step
    k_reset, k_act, key = jax.random.split(jax.random.key(0), 3)
    obs, state = shared.reset(k_reset, params)
    assert env.observation_space(params).contains(obs)
    assert obs.image.dtype == jnp.uint8 and obs.image.shape == (7, 7, 3)
    assert obs.mission.dtype == jnp.int32
    action = env.action_space(params).sample(k_act)
    assert env.action_space(params).contains(action)
    before = shared.traces["step"]
    first = step(key, state, action, params)
    traced = shared.traces["step"] - before  # 0 if another test compiled it
    step(jax.random.key(1), state, action, params)  # new values, same shapes
    assert traced <= 1 and shared.traces["step"] == before + traced
    chex.assert_trees_all_equal(first, step(key, state, action, params))
    obs2, state2, reward, terminated, truncated, info = first
    assert reward.dtype == jnp.float32 and reward.shape == ()
    assert terminated.dtype == jnp.bool_ and truncated.dtype == jnp.bool_
    assert {"terminated", "truncated", "final_observation"} <= set(info)
    shapes = jax.eval_shape(env.step, key, state, action, params)[1]
    chex.assert_trees_all_equal_shapes_and_dtypes(shapes, state)
    # the stepped state goes back in without a retrace (no dtype drift)
    step(key, state2, action, params)
    assert shared.traces["step"] == before + traced


@pytest.mark.parametrize("env_id", ["Empty-Random-5x5", "DoorKey-5x5", "FourRooms"])
def test_vmap_equals_loop_and_keys_differ(env_id, shared_env):
    shared = shared_env(env_id)
    env, params = shared.env, shared.params
    keys = jax.random.split(jax.random.key(3), 4)
    batched = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    for i, key in enumerate(keys):
        row = jax.tree.map(lambda x, i=i: x[i], batched)
        chex.assert_trees_all_equal(row, shared.reset(key, params))
    positions = np.asarray(batched[1].agent_pos)
    grids = np.asarray(batched[1].grid)
    assert (
        len({(p.tobytes(), g.tobytes()) for p, g in zip(positions, grids, strict=True)})
        > 1
    )


def test_truncation_and_auto_reset():
    env, params = jaxrl.make("Empty-5x5", max_steps_in_episode=2)
    obs, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step)
    obs, state, _, terminated, truncated, _ = step(jax.random.key(1), state, 0, params)
    assert not truncated
    before = obs
    obs, state, _, terminated, truncated, info = step(
        jax.random.key(2), state, 0, params
    )
    assert truncated and not terminated
    assert int(state.time) == 0  # reset on the same step
    assert int(info["final_observation"].direction) == (int(before.direction) + 3) % 4


def test_terminated_auto_reset_keeps_final_observation():
    env, params = jaxrl.make("Empty-5x5")
    _, state = env.reset(jax.random.key(0), params)
    state = state.replace(
        agent_pos=jnp.array([3, 2], jnp.int32), agent_dir=jnp.int32(1)
    )
    obs, state, reward, terminated, truncated, info = env.step(
        jax.random.key(1), state, 2, params
    )
    assert terminated and not truncated and reward > 0.9
    assert state.agent_pos.tolist() == [1, 1]
    assert int(info["final_observation"].direction) == 1


@pytest.mark.parametrize("env_id", ["Empty-Random-5x5", "DoorKey-5x5", "FourRooms"])
def test_vmapped_step_equals_loop(env_id, shared_env):
    shared = shared_env(env_id)
    env, params = shared.env, shared.params.replace(max_steps_in_episode=3)
    keys = jax.random.split(jax.random.key(5), 4)
    _, state = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    actions = jnp.array([0, 2, 3, 5], jnp.int32)
    for t in range(4):  # crosses a truncation reset
        step_keys = jax.random.split(jax.random.key(10 + t), 4)
        batched = shared.step_batch(step_keys, state, actions, params)
        for i in range(4):
            row_state = jax.tree.map(lambda x, i=i: x[i], state)
            single = shared.step(step_keys[i], row_state, actions[i], params)
            chex.assert_trees_all_equal(
                jax.tree.map(lambda x, i=i: x[i], batched), single
            )
        state = batched[1]


@pytest.mark.parametrize("env_id", one_per_task())
def test_final_observation_is_the_observation_before_reset(env_id, shared_env):
    """With a one-step limit every step resets; final_observation must be what
    the step reached, and obs the fresh episode's first observation."""
    shared = shared_env(env_id)
    env, params = shared.env, shared.params.replace(max_steps_in_episode=1)
    _, state = shared.reset(jax.random.key(0), params)
    key, action = jax.random.key(1), jnp.int32(2)
    obs, new_state, _, _, truncated, info = shared.step(key, state, action, params)
    key_step, key_reset = jax.random.split(key)  # as gymnax's step splits it
    reached, *_ = env.step_env(key_step, state, action, params)
    assert bool(truncated) and int(new_state.time) == 0
    chex.assert_trees_all_equal(info["final_observation"], reached)
    chex.assert_trees_all_equal(obs, shared.reset(key_reset, params)[0])


def test_terminated_and_truncated_on_the_same_step():
    env, params = jaxrl.make("Empty-5x5", max_steps_in_episode=1)
    _, state = env.reset(jax.random.key(0), params)
    state = state.replace(
        agent_pos=jnp.array([3, 2], jnp.int32), agent_dir=jnp.int32(1)
    )
    _, state, reward, terminated, truncated, _ = env.step(
        jax.random.key(1), state, 2, params
    )
    assert bool(terminated) and bool(truncated)
    assert np.isclose(float(reward), 1 - 0.9 * 1 / 1)
    assert int(state.time) == 0 and state.agent_pos.tolist() == [1, 1]
