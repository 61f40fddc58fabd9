"""Potential-based shaping: the optimum is kept, potentials are the right
states', and bad potentials are refused before compiling."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl.algos import ppo
from jaxrl.algos.ppo.shaping import PotentialInfo, goal_distance, shaping_reward
from jaxrl.program import scan_program
from jaxrl.testing import DelayedReward
from jaxrl.wrappers import EpisodeStatistics


def _q_values(transitions, rewards, terminal, gamma, iterations=2000):
    """Value iteration: ``transitions (S, A, S)``, ``rewards (S, A, S)``."""
    num_states, num_actions, _ = transitions.shape
    values = np.zeros(num_states)
    for _ in range(iterations):
        q = np.einsum("sat,sat->sa", transitions, rewards + gamma * values[None, None])
        values = np.where(terminal, 0.0, q.max(1))
    return q


def test_shaping_keeps_the_optimal_policy_of_a_random_mdp():
    rng = np.random.default_rng(0)
    num_states, num_actions, gamma = 12, 3, 0.9
    transitions = rng.dirichlet(np.ones(num_states) * 0.3, (num_states, num_actions))
    rewards = rng.normal(size=(num_states, num_actions, num_states))
    terminal = np.zeros(num_states, bool)
    terminal[[4, 9]] = True
    potential = rng.normal(scale=3.0, size=num_states)
    # F(s, a, s') = gamma * (1 - terminated(s')) * Phi(s') - Phi(s)
    shaped = rewards + np.asarray(
        shaping_reward(
            jnp.asarray(potential, jnp.float32)[:, None, None],
            jnp.asarray(potential, jnp.float32)[None, None, :],
            jnp.asarray(terminal)[None, None, :],
            jnp.float32(gamma),
        )
    )
    q = _q_values(transitions, rewards, terminal, gamma)
    q_shaped = _q_values(transitions, shaped, terminal, gamma)
    live = ~terminal
    np.testing.assert_array_equal(q.argmax(1)[live], q_shaped.argmax(1)[live])
    expected = q - potential[:, None]  # Q' = Q - Phi(s)
    np.testing.assert_allclose(q_shaped[live], expected[live], atol=1e-4)
    # a shaping that is not potential-based (a bonus on one action) does move it
    bonus = np.zeros_like(rewards)
    bonus[:, 0] = 5.0
    moved = _q_values(transitions, rewards + bonus, terminal, gamma)
    assert (moved.argmax(1)[live] != q.argmax(1)[live]).any()


def test_potentials_of_the_state_acted_in_and_the_state_reached():
    env, params = jaxrl.make("Empty-5x5", max_steps_in_episode=4)
    wrapped = PotentialInfo(env, goal_distance)
    _, state = wrapped.reset(jax.random.key(0), params)  # agent (1, 1) facing right
    seen, ends = [], []
    for t, action in enumerate([2, 2, 1, 2]):  # forward, forward, right, forward
        _, state, _, terminated, truncated, info = wrapped.step(
            jax.random.key(t), state, action, params
        )
        seen.append((float(info["potential"]), float(info["next_potential"])))
        ends.append((bool(terminated), bool(truncated)))
    # the goal is at (3, 3) of a 5 x 5 grid: Phi = -distance / 10
    expected = [(-0.4, -0.3), (-0.3, -0.2), (-0.2, -0.2), (-0.2, -0.1)]
    np.testing.assert_allclose(seen, expected, rtol=1e-6)
    assert ends == [(False, False)] * 3 + [(False, True)]
    # the truncated step reports the state reached, not the reset one
    assert float(goal_distance(state)) == pytest.approx(-0.4)


TINY = ppo.Config(total_steps=2 * 4 * 16, num_envs=4, num_steps=16, num_minibatches=2,
                  update_epochs=1, hidden_size=8, embed_dim=2)  # fmt: skip


def test_a_zero_shaping_changes_nothing_and_a_real_one_changes_the_update():
    # one shaped program, run with shaping_coef 0 and 1 (traced: one compile)
    env = DelayedReward()  # two steps; the state counts them
    params, key = env.default_params, jax.random.key(0)
    plain = jax.jit(ppo.make_train(TINY, env, params))(key)
    program = ppo.make_program(
        TINY,
        env,
        params,
        potential=lambda state, params: state.time.astype(jnp.float32),
    )
    run = jax.jit(scan_program(program, ppo.HParams()))
    zero = run(key, ppo.HParams(shaping_coef=0.0))
    np.testing.assert_array_equal(zero.metrics.loss.total, plain.metrics.loss.total)
    shaped = run(key, ppo.HParams(shaping_coef=1.0))
    assert not np.array_equal(shaped.metrics.loss.total, plain.metrics.loss.total)
    # episode returns are the task's own: same first rollout, same returns
    np.testing.assert_array_equal(shaped.metrics.episode_return[0],
                                  plain.metrics.episode_return[0])  # fmt: skip


def test_bad_potentials_and_environments_are_refused_before_compiling():
    env, params = jaxrl.make("Empty-5x5")
    with pytest.raises(TypeError, match=r"must return a \(\) float array, got \(2,\)"):
        ppo.make_program(TINY, env, params, potential=lambda s, p: s.agent_pos * 1.0)
    with pytest.raises(TypeError, match=r"float array, got \(\) int32"):
        ppo.make_program(TINY, env, params, potential=lambda s, p: s.agent_dir)
    with pytest.raises(TypeError, match="failed on this environment's state"):
        ppo.make_program(TINY, env, params, potential=lambda s, p: s.nothing)
    with pytest.raises(ValueError, match="needs a gymnax environment whose step is"):
        ppo.make_program(TINY, EpisodeStatistics(env), params, potential=goal_distance)
    with pytest.raises(ValueError, match="Config.shaping must be one of none, "
                       "goal_distance, got 'lava'"):  # fmt: skip
        ppo.Config(shaping="lava")


def test_gated_accumulation_pays_held_shaping_only_after_a_good_outcome():
    from jaxrl.algos.ppo.shaping import gated_rewards

    # env 0: episode of 3 steps ending in success (0.8), then one step held;
    # env 1: episode of 2 steps ending in failure (0.0), then a 2-step success
    reward = jnp.array([[0.0, 0.0], [0.0, 0.0], [0.8, 0.3], [0.0, 0.0]])
    immediate = jnp.array([[0.1, 0.2], [0.2, -0.1], [0.3, 0.4], [0.5, 0.5]])
    done = jnp.array([[False, False], [False, True], [True, False], [False, True]])
    held = jnp.array([1.0, 0.0])  # env 0 held 1.0 from the last rollout
    rewards, held = gated_rewards(reward, immediate, done, held, jnp.float32(0.5))
    expected = [[0.0, 0.0], [0.0, 0.0], [0.8 + 1.0 + 0.1 + 0.2 + 0.3, 0.3],
                [0.0, 0.0]]  # fmt: skip
    # env 1's second episode ends with 0.0 < 0.5: its 0.4 + 0.5 is dropped
    np.testing.assert_allclose(rewards, expected, rtol=1e-6)
    np.testing.assert_allclose(held, [0.5, 0.0], rtol=1e-6)


def test_gated_shaping_runs_and_needs_a_potential():
    env = DelayedReward()  # cheap to compile; goal_distance is checked above
    params = env.default_params
    gated = dataclasses.replace(TINY, gated_shaping=True)
    with pytest.raises(ValueError, match="gated_shaping gates shaping rewards"):
        ppo.make_program(gated, env, params)
    program = ppo.make_program(
        gated, env, params, potential=lambda state, p: state.time.astype(jnp.float32)
    )
    out = jax.jit(scan_program(program, ppo.HParams()))(jax.random.key(0))
    assert out.state.gate_held.shape == (TINY.num_envs,)
    assert np.isfinite(np.asarray(out.metrics.loss.total)).all()
