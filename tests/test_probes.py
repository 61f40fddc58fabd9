"""PPO learns what the probe environments of jaxrl.testing demand.

Each probe isolates one part of the agent (policy gradient, discounting,
reading the observation); each test is one jitted training run of a few
thousand steps with a tiny network, and checks the policy or the critic
against the value the probe's docstring states (within 0.1).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.algos import ppo
from jaxrl.testing import (
    PROBES,
    DelayedReward,
    OneStepBandit,
    RememberSign,
    StateDependentReward,
)

# 16 updates of 8 envs x 16 steps; a constant learning rate, so that the last
# updates still move the critic onto its target.
CONFIG = ppo.Config(
    total_steps=16 * 8 * 16, num_envs=8, num_steps=16, num_minibatches=2,
    update_epochs=4, hidden_size=16, embed_dim=4, anneal_lr=False,
)  # fmt: skip
HPARAMS = ppo.HParams(lr=1e-2)
GAMMA = 0.7  # DelayedReward: far from 1 (no discount) and from 0 (no bootstrap)


# The exploration variants: a bonus must not stop PPO from solving a probe.
VARIANTS = {
    "plain": CONFIG,
    "rnd": dataclasses.replace(CONFIG, intrinsic="rnd", rnd_hidden_size=16,
                               rnd_output_size=8),
    "count": dataclasses.replace(CONFIG, intrinsic="count", count_key_bits=16),
}  # fmt: skip


def _train(env, hparams=HPARAMS, config=CONFIG):
    """One training run; returns ``(out, value_of)`` with ``value_of(obs)``
    the trained (extrinsic) critic on a batch of ``(N, 1)`` observations."""
    params = env.default_params
    out = jax.jit(ppo.make_train(config, env, params))(jax.random.key(0), hparams)
    network = ppo.make_network(
        env.observation_space(params), env.action_space(params).n,
        config.hidden_size, config.embed_dim, config.num_value_heads,
    )  # fmt: skip

    def value_of(obs):
        _, value = network.apply(out.state.params, jnp.asarray(obs, jnp.float32))
        value = value if config.num_value_heads == 1 else value[..., 0]
        return np.asarray(value)

    return out, value_of


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.__name__)
def test_probe_contract(probe):
    """Dtypes, shapes and same-step auto-reset, as every environment here."""
    env = probe()
    params = env.default_params
    obs, state = env.reset(jax.random.key(0), params)
    assert env.observation_space(params).contains(obs)
    assert obs.dtype == jnp.float32 and obs.shape == (1,)
    total, steps = 0.0, 0
    for t in range(probe.num_episode_steps):
        action = jnp.int32(1)
        obs, state, reward, terminated, truncated, info = env.step(
            jax.random.key(t + 1), state, action, params
        )
        assert reward.dtype == jnp.float32 and reward.shape == ()
        assert terminated.dtype == jnp.bool_ and truncated.dtype == jnp.bool_
        assert {"terminated", "truncated", "final_observation"} <= set(info)
        total, steps = total + float(reward), steps + 1
        if terminated:
            break
    assert bool(terminated) and not bool(truncated)
    assert steps == probe.num_episode_steps and int(state.time) == 0  # reset
    assert total == 1.0 or probe in (StateDependentReward, RememberSign)
    assert env.observation_space(params).contains(obs)


def test_state_dependent_reward_draws_both_signs_and_pays_the_sign():
    env = StateDependentReward()
    keys = jax.random.split(jax.random.key(0), 64)
    obs, state = jax.vmap(env.reset, in_axes=(0, None))(keys, env.default_params)
    assert set(np.asarray(obs[:, 0]).tolist()) == {-1.0, 1.0}
    step = jax.vmap(env.step, in_axes=(0, 0, None, None))
    _, _, reward, terminated, _, _ = step(keys, state, 0, env.default_params)
    np.testing.assert_array_equal(reward, obs[:, 0])
    assert bool(terminated.all())


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_ppo_prefers_the_rewarding_arm(variant):
    out, value_of = _train(OneStepBandit(), config=VARIANTS[variant])
    returns = np.asarray(out.metrics.episode_return)
    assert returns[-4:].mean() > 0.9, returns  # pi(action 1) > 0.9 at the end
    # the critic predicts the policy's mean reward, which is now near 1
    assert abs(value_of([[0.0]])[0] - 1.0) < 0.1


def test_ppo_critic_discounts_a_delayed_reward():
    out, value_of = _train(DelayedReward(), HPARAMS.replace(gamma=GAMMA))
    first, second = value_of([[0.0], [1.0]])
    assert abs(first - GAMMA) < 0.1, (first, second)
    assert abs(second - 1.0) < 0.1, (first, second)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_ppo_critic_reads_the_observation(variant):
    out, value_of = _train(StateDependentReward(), config=VARIANTS[variant])
    plus, minus = value_of([[1.0], [-1.0]])
    assert abs(plus - 1.0) < 0.1 and abs(minus + 1.0) < 0.1, (plus, minus)
