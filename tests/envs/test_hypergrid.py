"""HyperGrid as a GFlowNet environment: masks, steps, indices, reward, registry."""

import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.envs.gfn import (
    HyperGrid,
    HyperGridReward,
    HyperGridState,
    gfn_env_ids,
    make_gfn_env,
)


def _state(coords, is_terminal=False):
    return HyperGridState(jnp.asarray(coords, jnp.int32), jnp.bool_(is_terminal))


def _reference_masks(coords, is_terminal, height):
    """Forward and backward masks of a cell, written out in plain Python."""
    ndim = len(coords)
    if is_terminal:
        return [False] * (ndim + 1), [False] * ndim + [True]
    forward = [c < height - 1 for c in coords] + [True]
    backward = [c > 0 for c in coords] + [False]
    return forward, backward


def test_masks_and_steps_on_every_state():
    env = HyperGrid(ndim=2, height=4)
    step, back = jax.jit(env.step), jax.jit(env.backward_step)
    fmask, bmask = jax.jit(env.forward_mask), jax.jit(env.backward_mask)
    for coords in itertools.product(range(4), repeat=2):
        for is_terminal in (False, True):
            s = _state(coords, is_terminal)
            forward, backward = _reference_masks(coords, is_terminal, 4)
            assert np.asarray(fmask(s)).tolist() == forward, (coords, is_terminal)
            assert np.asarray(bmask(s)).tolist() == backward, (coords, is_terminal)
            for a in range(env.num_actions):
                a = jnp.int32(a)
                if forward[a]:  # a forward step is undone by the same backward action
                    chex.assert_trees_all_equal(back(step(s, a), a), s)
                if backward[a]:
                    chex.assert_trees_all_equal(step(back(s, a), a), s)
                if is_terminal:  # stepping a terminal state changes nothing
                    chex.assert_trees_all_equal(step(s, a), s)
    exited = step(_state((2, 1)), jnp.int32(env.exit_action))
    assert bool(env.is_terminal(exited)) and exited.coords.tolist() == [2, 1]
    assert bool(env.is_initial(env.initial_state()))
    assert not bool(env.is_initial(_state((0, 0), True)))


def test_sizes_index_levels_and_observation():
    env = HyperGrid(ndim=3, height=5)
    assert (env.num_actions, env.exit_action, env.max_length) == (4, 3, 13)
    assert (env.num_states, env.num_levels, env.observation_size) == (125, 13, 15)
    states = env.all_states()
    index = jax.vmap(env.state_index)(states)
    np.testing.assert_array_equal(index, np.arange(125))
    np.testing.assert_array_equal(jax.vmap(env.level)(states), states.coords.sum(1))
    # row-major: index = 25 x0 + 5 x1 + x2
    assert int(env.state_index(_state((1, 2, 3)))) == 25 + 10 + 3
    assert int(env.state_index(_state((1, 2, 3), True))) == 38  # same object
    obs = env.observe(_state((1, 2, 3)))
    assert obs.dtype == jnp.float32 and obs.shape == (15,)
    np.testing.assert_array_equal(np.flatnonzero(obs), [1, 7, 13])


def test_batched_jit_step_keeps_shapes_and_dtypes():
    env = HyperGrid(ndim=4, height=8)
    batch = jax.tree.map(lambda x: jnp.stack([x] * 5), env.initial_state())
    actions = jnp.array([0, 1, 2, 3, 4], jnp.int32)
    nxt = jax.jit(jax.vmap(env.step))(batch, actions)
    chex.assert_trees_all_equal_shapes_and_dtypes(nxt, batch)
    assert nxt.coords.sum(1).tolist() == [1, 1, 1, 1, 0]
    assert nxt.is_terminal.tolist() == [False] * 4 + [True]


def test_reward_values_by_hand():
    reward = HyperGridReward(height=8, r0=0.1, r1=0.5, r2=2.0)
    # H = 8: |x/7 - 1/2| is .5, .357, .214, .071 for x = 0, 1, 2, 3 (mirrored):
    # > 0.25 for x in {0, 1, 6, 7}; in (0.3, 0.4) for x in {1, 6}.
    cases = {(0, 0): 0.6, (1, 1): 2.6, (1, 6): 2.6, (6, 1): 2.6, (0, 1): 0.6,
             (7, 7): 0.6, (2, 0): 0.1, (3, 3): 0.1, (1, 2): 0.1}  # fmt: skip
    for coords, expected in cases.items():
        s = _state(coords)
        assert float(reward.reward(s)) == pytest.approx(expected, rel=1e-6), coords
        assert float(reward.log_reward(s)) == pytest.approx(np.log(expected), abs=1e-6)
        assert bool(reward.is_mode(s)) == (expected > 2), coords
    # H = 4: |x/3 - 1/2| is .5 or .167: corners only, no R2 cell at all
    small = HyperGridReward(height=4)
    rewards = [
        float(small.reward(_state(c))) for c in itertools.product(range(4), repeat=2)
    ]
    assert sorted(set(np.round(rewards, 6))) == [0.1, 0.6]
    assert rewards.count(max(rewards)) == 4
    # H = 6: x = 1 sits exactly on 0.3 (|1/5 - 1/2| = 0.3), which is not > 0.3
    assert not bool(HyperGridReward(height=6).is_mode(_state((1, 1))))


def test_reward_rejects_bad_values():
    with pytest.raises(ValueError, match="r0 must be > 0"):
        HyperGridReward(height=8, r0=0.0)
    with pytest.raises(ValueError, match="r2 must be a finite float"):
        HyperGridReward(height=8, r2=-1.0)
    with pytest.raises(ValueError, match="height must be >= 2"):
        HyperGridReward(height=1)
    with pytest.raises(ValueError, match="ndim must be an int >= 1"):
        HyperGrid(ndim=0)


def test_registry_ids_options_and_errors():
    assert gfn_env_ids()[:2] == ["hypergrid", "hypergrid-small"]
    env, reward = make_gfn_env("hypergrid")
    assert (env.ndim, env.height) == (4, 8)
    assert (reward.height, reward.r0, reward.r1, reward.r2) == (8, 0.1, 0.5, 2.0)
    env, reward = make_gfn_env("hypergrid:ndim=2,height=16,r0=0.001")
    assert (env.ndim, env.height, reward.height, reward.r0) == (2, 16, 16, 0.001)
    env, reward = make_gfn_env("hypergrid-small", height=5, r1=1)
    assert (env.ndim, env.height, reward.r1) == (2, 5, 1)
    with pytest.raises(ValueError, match="unknown GFlowNet environment.*hypergrid"):
        make_gfn_env("hypergird")
    with pytest.raises(TypeError, match="unexpected keyword 'size'.*ndim, height"):
        make_gfn_env("hypergrid", size=3)
    with pytest.raises(TypeError, match="ndim must be int"):
        make_gfn_env("hypergrid:ndim=2.5")
    with pytest.raises(ValueError, match="expected name=value"):
        make_gfn_env("hypergrid:ndim")
