"""Recurrent PPO: the GRU state resets at episode starts, sequence
minibatches replay the state the rollout acted with, and memory is learned."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.algos import ppo
from jaxrl.batched_reset import ExactReset
from jaxrl.testing import RememberSign

CONFIG = ppo.Config(
    total_steps=32 * 8 * 16, num_envs=8, num_steps=16, num_minibatches=2,
    update_epochs=4, hidden_size=16, embed_dim=4, anneal_lr=False, recurrent=True,
)  # fmt: skip


@pytest.fixture(scope="module")
def network_and_params():
    env = RememberSign()
    network = ppo.make_network(env.observation_space(), 2, 8, 2, recurrent=True)
    obs = jnp.ones((3, 1), jnp.float32)
    params = network.init(jax.random.key(0), network.initial_carry(3), obs,
                          jnp.zeros((3,), bool))  # fmt: skip
    return network, params


def test_a_reset_zeroes_the_state_before_the_step(network_and_params):
    network, params = network_and_params
    obs = jnp.array([[1.0], [-1.0], [0.0]])
    carry = jax.random.normal(jax.random.key(1), (3, 8))
    reset = jnp.array([True, False, True])
    fresh = network.apply(params, jnp.zeros((3, 8)), obs, jnp.zeros((3,), bool))
    mixed = network.apply(params, carry, obs, reset)
    kept = network.apply(params, carry, obs, jnp.zeros((3,), bool))
    for a, b, c in zip(fresh, mixed, kept, strict=True):
        np.testing.assert_allclose(a[reset], b[reset], rtol=1e-6)
        np.testing.assert_allclose(c[~reset], b[~reset], rtol=1e-6)
        assert not np.allclose(a[~reset], b[~reset])


def test_unroll_equals_steps_and_restarts_at_a_reset(network_and_params):
    network, params = network_and_params
    obs = jax.random.normal(jax.random.key(2), (5, 3, 1))
    reset = jnp.zeros((5, 3), bool).at[3, 1].set(True)
    carry0 = jax.random.normal(jax.random.key(3), (3, 8))
    last, logits, value, carries = network.unroll(params, carry0, obs, reset)
    carry = carry0
    for t in range(5):
        carry, step_logits, step_value = network.apply(params, carry, obs[t], reset[t])
        np.testing.assert_allclose(logits[t], step_logits, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(carries[t], carry, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(last, carry, rtol=1e-5, atol=1e-6)
    # from the reset on, env 1 behaves as if started fresh at t = 3
    _, restarted, _, _ = network.unroll(params, jnp.zeros((3, 8)), obs[3:],
                                        jnp.zeros((2, 3), bool))  # fmt: skip
    np.testing.assert_allclose(logits[3:, 1], restarted[:, 1], rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def trained():
    env = RememberSign()
    out = jax.jit(ppo.make_train(CONFIG, env, env.default_params))(
        jax.random.key(0), ppo.HParams(lr=1e-2)
    )
    return env, out


def test_recurrent_ppo_remembers_the_sign(trained):
    """A memoryless policy scores 1/2 on RememberSign at best."""
    returns = np.asarray(trained[1].metrics.episode_return)
    assert returns[-4:].mean() > 0.9, returns


def test_sequence_minibatches_replay_the_state_the_rollout_acted_with(trained):
    """The trained policy's actions depend on its state. Rollouts of 3 steps
    cut the 2-step episodes, so sequences start mid-episode; replaying each
    minibatch of sequences from the stored state gives back the rollout's
    log-probabilities, and replaying from zeros would not."""
    from jaxrl.algos.ppo import recurrent
    from jaxrl.algos.ppo import train as T
    from jaxrl.algos.ppo.networks import categorical_log_prob

    env, out = trained
    config = dataclasses.replace(CONFIG, num_steps=3)
    network = ppo.make_network(env.observation_space(), 2, config.hidden_size,
                               config.embed_dim, recurrent=True)  # fmt: skip
    wrapped = T.EpisodeStatistics(env)
    stepper = ExactReset(wrapped, config.num_envs)
    setup = T._Setup(config, wrapped, env.default_params, network, stepper=stepper)
    runner = out.state
    for _ in range(2):  # the second rollout starts mid-episode
        initial = runner.carry
        runner, rollout = recurrent.collect(setup, runner, T._transition)
    assert (~rollout.reset[0]).any()
    batch = ((rollout.obs, rollout.log_prob, rollout.action, rollout.reset), initial)
    (obs, old_log_prob, action, reset), carries = recurrent.sequence_minibatches(
        jax.random.key(5), batch, config.num_minibatches
    )
    for m in range(config.num_minibatches):
        gaps = []
        for start in (carries[m], jnp.zeros_like(carries[m])):
            logits, _ = recurrent.unroll_outputs(setup, runner.params, start, obs[m],
                                                 reset[m])  # fmt: skip
            log_prob = categorical_log_prob(logits, action[m])
            gaps.append(float(np.abs(np.asarray(log_prob - old_log_prob[m])).max()))
        assert gaps[0] < 1e-5 and gaps[1] > 1e-2, gaps


def test_recurrent_minibatches_must_split_the_environments():
    with pytest.raises(ValueError, match=r"num_minibatches \(3\) must divide num_envs"):
        ppo.Config(recurrent=True, num_envs=8, num_steps=6, num_minibatches=3)
