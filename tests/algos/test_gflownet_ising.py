"""The Ising GFlowNet environment: masks, steps, energy, enumeration, exact
evaluation against sampling, and a short training run."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.algos.gflownet import (
    Config,
    HParams,
    enumerate_states,
    make_program,
    make_train,
    sample_trajectories,
    terminating_log_probs,
)
from jaxrl.envs.gfn import make_gfn_env
from jaxrl.envs.gfn.ising import Ising, IsingReward, IsingState, lattice_adjacency

SMALL = Ising(size=2)  # 4 sites: 81 states, 16 objects, 9 actions


def _states(spins, is_terminal=False):
    spins = jnp.asarray(spins, jnp.int8)
    return IsingState(spins, jnp.full(spins.shape[:-1], is_terminal, bool))


def _every_state(env, is_terminal):
    return _states(env.all_states().spins, is_terminal)


def test_masks_never_allow_invalid_actions():
    env, n = SMALL, SMALL.num_sites
    for is_terminal in (False, True):
        states = _every_state(env, is_terminal)
        spins = np.asarray(states.spins)
        fmask = np.asarray(jax.vmap(env.forward_mask)(states))
        bmask = np.asarray(jax.vmap(env.backward_mask)(states))
        if is_terminal:  # nothing forward; only the exit backward
            assert not fmask.any()
            assert not bmask[:, :-1].any() and bmask[:, -1].all()
            continue
        unset = spins == 0
        # set actions (-1 and +1) only on unset sites; exit only when complete
        np.testing.assert_array_equal(fmask[:, :n], unset)
        np.testing.assert_array_equal(fmask[:, n : 2 * n], unset)
        np.testing.assert_array_equal(fmask[:, -1], ~unset.any(1))
        # unset only a set spin, by the action that set it to its value
        np.testing.assert_array_equal(bmask[:, :n], spins == -1)
        np.testing.assert_array_equal(bmask[:, n : 2 * n], spins == 1)
        assert not bmask[:, -1].any()
        np.testing.assert_array_equal(bmask.sum(1), (~unset).sum(1))


def _every_pair(fn, states, actions):
    """``fn(state, action)`` for every state (axis 0) and action (axis 1)."""
    return jax.vmap(jax.vmap(fn, (None, 0)), (0, None))(states, actions)


def _same_action(mask):
    """``(S, A, A)`` masks at each state's ``a``-th neighbour -> ``(S, A)``:
    entry ``a`` of neighbour ``a``."""
    return np.diagonal(np.asarray(mask), axis1=1, axis2=2)


def test_forward_and_backward_steps_invert_each_other():
    env = SMALL
    states = _every_state(env, False)
    spins = np.asarray(states.spins)[:, None, :]  # (S, 1, sites)
    actions = jnp.arange(env.num_actions, dtype=jnp.int32)
    per_pair = jnp.broadcast_to(actions, (env.num_states, env.num_actions))
    pairwise = jax.jit(lambda f, g, states: jax.vmap(jax.vmap(g))(
        _every_pair(f, states, actions), per_pair), static_argnums=(0, 1))  # fmt: skip
    # forward a then backward a, wherever forward a is valid
    valid = np.asarray(jax.vmap(env.forward_mask)(states))
    children = _every_pair(env.step, states, actions)
    back = pairwise(env.step, env.backward_step, states)
    is_exit = np.arange(env.num_actions) == env.exit_action
    np.testing.assert_array_equal(
        np.asarray(children.is_terminal)[valid],
        np.broadcast_to(is_exit, valid.shape)[valid],
    )
    assert _same_action(jax.vmap(jax.vmap(env.backward_mask))(children))[valid].all()
    assert (np.asarray(back.spins) == spins).all(-1)[valid].all()
    assert not np.asarray(back.is_terminal)[valid].any()
    # backward b then forward b, wherever backward b is valid
    bvalid = np.asarray(jax.vmap(env.backward_mask)(states))
    parents = _every_pair(env.backward_step, states, actions)
    again = pairwise(env.backward_step, env.step, states)
    assert _same_action(jax.vmap(jax.vmap(env.forward_mask))(parents))[bvalid].all()
    assert (np.asarray(again.spins) == spins).all(-1)[bvalid].all()
    # sum over states of 2 * (unset spins) = 2 * 4 * 3**3, plus 16 exits;
    # sum over states of (set spins) = 4 * 2 * 3**3
    assert (valid.sum(), bvalid.sum()) == (216 + 16, 216)
    # a terminal state does not move, and steps keep int8 spins
    done = _states([1, -1, 1, 1], True)
    chex.assert_trees_all_equal(env.step(done, jnp.int32(0)), done)
    assert env.step(env.initial_state(), jnp.int32(5)).spins.dtype == jnp.int8


def test_energy_on_hand_computed_configurations():
    r3 = IsingReward(size=3, sigma=0.1)
    up = np.ones(9)
    # all up on 3 x 3: 18 bonds, x^T J x = 2 * 0.1 * 18 = 3.6, E = -3.6
    cases = [(r3, up, -3.6)]
    # one spin down: its 4 bonds flip, bond sum 18 - 8 = 10, E = -2 * 0.1 * 10
    cases.append((r3, np.where(np.arange(9) == 4, -1, 1), -2.0))
    # rows + / - / +: 9 horizontal bonds aligned, vertical 3 + 3 anti and 3
    # aligned (row 2 wraps to row 0): bond sum 9 - 3 = 6, E = -1.2
    cases.append((r3, np.repeat([1, -1, 1], 3), -1.2))
    # external field 0.5 on all up: -3.6 - 0.5 * 9 = -8.1
    cases.append((IsingReward(3, 0.1, 0.5), up, -8.1))
    # 2 x 2: side-2 wrap-around neighbours are one bond (4 bonds in all);
    # all up with sigma 0.25: E = -2 * 0.25 * 4 = -2; checkerboard: +2
    r2 = IsingReward(size=2, sigma=0.25)
    cases += [(r2, np.ones(4), -2.0), (r2, np.array([1, -1, -1, 1]), 2.0)]
    # a partial state counts only its set spins: one spin, field -0.3: E = 0.3
    cases.append((IsingReward(2, 0.25, -0.3), np.array([1, 0, 0, 0]), 0.3))
    for reward, spins, energy in cases:
        got = float(reward.energy(_states(spins)))
        assert math.isclose(got, energy, abs_tol=1e-5), (reward, spins, got)
        assert math.isclose(float(reward.log_reward(_states(spins))), -energy,
                            abs_tol=1e-5)  # fmt: skip
    adjacency = lattice_adjacency(3)
    np.testing.assert_array_equal(adjacency, adjacency.T)
    np.testing.assert_array_equal(adjacency.sum(1), 4)
    np.testing.assert_array_equal(lattice_adjacency(2).sum(1), 2)


def test_enumeration_count_levels_and_modes():
    env, reward = SMALL, IsingReward(size=2, sigma=0.25)
    enum = jax.jit(lambda: enumerate_states(env, reward))()
    assert env.num_states == 81 and env.num_levels == 5 and env.is_enumerable
    index = jax.vmap(env.state_index)(env.all_states())
    np.testing.assert_array_equal(index, np.arange(81))
    # level k: C(4, k) * 2**k states with k spins set
    np.testing.assert_array_equal(np.bincount(enum.level), [1, 8, 24, 32, 16])
    # every parent one level below its child; only complete states exit
    level, parents = np.asarray(enum.level), np.asarray(enum.parents)
    rows, cols = np.nonzero(enum.is_parent)
    np.testing.assert_array_equal(level[parents[rows, cols]], level[rows] - 1)
    np.testing.assert_array_equal(enum.forward_mask[:, -1], level == 4)
    # the modes of a ferromagnet: all up and all down
    modes = np.asarray(env.all_states().spins)[np.asarray(enum.is_mode)]
    np.testing.assert_array_equal(sorted(modes.tolist()), [[-1] * 4, [1] * 4])
    big = Ising(size=3)
    assert (big.num_states, big.num_levels, big.is_enumerable) == (19_683, 10, True)
    assert not Ising(size=4).is_enumerable  # 3**16 states
    with pytest.raises(ValueError, match="Config|enumerat"):
        make_program(Config(), Ising(size=4), IsingReward(size=4))


def test_exact_distribution_matches_sampling():
    """The DP's terminating distribution against 20,000 sampled objects, for
    the uniform policy and for a fixed random linear one (not uniform)."""
    env, reward = SMALL, IsingReward(size=2)
    key = jax.random.key(3)
    weights = jax.random.normal(key, (env.observation_size, env.num_actions))
    policies = {"uniform": lambda obs: jnp.zeros((obs.shape[0], env.num_actions)),
                "linear": lambda obs: obs @ weights}  # fmt: skip
    num = 20_000

    @jax.jit
    def run(key):
        enum = enumerate_states(env, reward)
        out = {}
        for (name, logits_of), k in zip(
            policies.items(), jax.random.split(key), strict=True
        ):
            log_p = terminating_log_probs(env, enum, logits_of(enum.obs))
            traj = sample_trajectories(env, logits_of, k, num, 0.0, 1.0)
            last = jax.tree.map(lambda x: x[-1], traj.states)
            index = jax.vmap(env.state_index)(last)
            counts = jnp.zeros(env.num_states).at[index].add(1)
            out[name] = (jnp.exp(log_p), counts, jnp.all(last.is_terminal))
        return out

    objects = np.asarray(jax.vmap(env.forward_mask)(env.all_states()))[:, -1]
    for name, (p, counts, all_done) in run(jax.random.key(0)).items():
        p, counts = np.asarray(p), np.asarray(counts)
        assert all_done and counts[~objects].sum() == 0
        assert math.isclose(p[objects].sum(), 1.0, abs_tol=1e-5)
        if name == "uniform":  # each spin a fair coin: 1/16 per configuration
            np.testing.assert_allclose(p[objects], 1 / 16, rtol=1e-5)
        else:
            assert p[objects].max() > 2 * p[objects].min()
        empirical = counts[objects] / num
        spread = np.sqrt(p[objects] * (1 - p[objects]) / num)
        assert np.all(np.abs(empirical - p[objects]) <= 5 * spread + 1e-4), name


def test_short_training_run_lowers_exact_l1():
    env, reward = make_gfn_env("ising:size=2,sigma=0.5")
    # sigma 0.5 on 2 x 2: R/Z is peaked (the 2 aligned configurations hold
    # 90%), far from what an untrained policy samples
    config = Config(loss="tb", num_iterations=100, eval_every=25, batch_size=16,
                    hidden_size=32, use_learned_backward=False,
                    use_shared_trunk=True)  # fmt: skip
    train = jax.jit(make_train(config, env, reward))
    l1 = np.asarray(train(jax.random.key(0), HParams(lr=1e-2)).metrics.l1)
    assert np.isfinite(l1).all()
    assert l1[-1] < 0.3 * l1[0], l1


def test_bad_settings_are_refused_before_compiling():
    with pytest.raises(ValueError, match="Ising.size"):
        Ising(size=1)
    with pytest.raises(ValueError, match="IsingReward.sigma"):
        IsingReward(size=3, sigma=float("nan"))
    with pytest.raises(ValueError, match="IsingReward.field"):
        IsingReward(size=3, field="up")
    with pytest.raises(ValueError, match="is_mode"):
        IsingReward(size=5).is_mode(Ising(5).initial_state())
    env, reward = make_gfn_env("ising:size=2,sigma=-0.2,field=0.1")
    assert (env.size, reward.sigma, reward.field) == (2, -0.2, 0.1)
