import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl.algos import ppo

SMALL = ppo.Config(total_steps=2 * 4 * 16, num_envs=4, num_steps=16, num_minibatches=2,
                   update_epochs=2, hidden_size=16)  # fmt: skip


def _gae_numpy(r, v, nv, term, done, gamma, lam):
    adv = np.zeros_like(r)
    last = 0.0
    for t in reversed(range(len(r))):
        delta = r[t] + gamma * (1 - term[t]) * nv[t] - v[t]
        last = delta + gamma * lam * (1 - done[t]) * last
        adv[t] = last
    return adv


def test_gae_matches_numpy_loop():
    rng = np.random.default_rng(0)
    r, v, nv = (rng.normal(size=12).astype(np.float32) for _ in range(3))
    done = rng.random(12) < 0.3
    term = done & (rng.random(12) < 0.5)
    adv, ret = ppo.gae(r, v, nv, term, done, 0.9, 0.8)
    expected = _gae_numpy(r, v, nv, term, done, 0.9, 0.8)
    np.testing.assert_allclose(adv, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ret, expected + v, rtol=1e-5, atol=1e-6)


def test_no_nans_and_same_key_same_bits():
    env, params = jaxrl.make("DoorKey-5x5")
    train = jax.jit(ppo.make_train(SMALL, env, params))
    with jax.debug_nans(True):
        out = train(jax.random.key(0), ppo.HParams())
    chex.assert_tree_all_finite(out.metrics)
    chex.assert_trees_all_equal(out, train(jax.random.key(0), ppo.HParams()))


def test_engine_run_equals_make_train():
    """``jaxrl.run`` and ``make_train`` scan the same program; compiled apart
    from ``init``, XLA may round a few operations differently."""
    from rich.console import Console

    env, params = jaxrl.make("CartPole-v1")  # the cheapest to compile
    program = ppo.make_program(SMALL, env, params, target="CartPole-v1")
    result = jaxrl.run(program, ppo.HParams(), seeds=2, progress=False,
                       console=Console(quiet=True))  # fmt: skip
    keys = jax.vmap(jax.random.key)(jnp.arange(2))
    out = jax.jit(jax.vmap(ppo.make_train(SMALL, env, params), in_axes=(0, None)))(
        keys, ppo.HParams()
    )
    np.testing.assert_array_equal(result.history["num_episodes"],
                                  out.metrics.num_episodes)  # fmt: skip
    np.testing.assert_allclose(result.history["loss.total"], out.metrics.loss.total,
                               rtol=1e-4, atol=1e-6)  # fmt: skip
    assert set(result.final) == {"episode_return"}  # CartPole reports no success


def test_success_comes_from_the_environment():
    """Empty-5x5 reports success; CartPole has no success, so no success rate."""
    # which metrics exist is decided while tracing: shapes only, no compile
    env, params = jaxrl.make("Empty-5x5", max_steps_in_episode=4)
    out = jax.eval_shape(ppo.make_train(SMALL, env, params), jax.random.key(0))
    assert out.metrics.success_rate.shape == (SMALL.num_updates,)
    env, params = jaxrl.make("CartPole-v1")
    config = ppo.Config(total_steps=64, num_envs=4, num_steps=16, num_minibatches=2,
                        update_epochs=1, hidden_size=8)  # fmt: skip
    out = jax.eval_shape(ppo.make_train(config, env, params), jax.random.key(0))
    assert out.metrics.success_rate is None
    program = ppo.make_program(config, env, params)
    assert [c.metric for c in program.curves] == ["episode_return"]


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="num_minibatches"):
        ppo.Config(num_envs=3, num_steps=5, num_minibatches=2)
    with pytest.raises(ValueError, match="HParams.gamma"):
        ppo.check_hparams(ppo.HParams(gamma=1.5))
    with pytest.raises(ValueError, match="Config.anneal_lr must be a bool, got str"):
        ppo.Config(anneal_lr="false")
    with pytest.raises(ValueError, match="Config.num_envs must be an int, got bool"):
        ppo.Config(num_envs=True)


def test_bad_hparams_are_refused_on_the_python_api_too():
    env, params = jaxrl.make("Empty-5x5")
    train = ppo.make_train(SMALL, env, params)
    with pytest.raises(ValueError, match="HParams.lr"):
        train(jax.random.key(0), ppo.HParams(lr=float("nan")))
    program = ppo.make_program(SMALL, env, params)
    with pytest.raises(ValueError, match="HParams.lr.*sweep setting"):
        jaxrl.sweep(program, ppo.HParams(), {"lr": [1e-3, 1e30, -1.0]}, seeds=1)


@pytest.mark.slow
def test_ppo_solves_empty_5x5():
    env, params = jaxrl.make("Empty-5x5")
    config = ppo.Config(total_steps=40_960)
    out = jax.jit(ppo.make_train(config, env, params))(jax.random.key(0))
    final = np.asarray(out.metrics.episode_return)[-config.num_final_updates :]
    assert final.mean() > 0.9


def test_next_values_equal_a_full_pass_over_final_observations():
    """The cheap bootstrap (rollout values, plus truncated final observations
    B at a time) equals evaluating every final observation, including when
    more than B steps truncate in one rollout (here 4 envs x 5 truncations)."""
    from jaxrl.algos.ppo import train as T
    from jaxrl.batched_reset import ExactReset
    from jaxrl.wrappers import EpisodeStatistics

    env, params = jaxrl.make("Empty-Random-5x5", max_steps_in_episode=3)
    config = SMALL
    network = T.make_network(
        env.observation_space(params), 7, config.hidden_size, config.embed_dim
    )
    wrapped = EpisodeStatistics(env)
    stepper = ExactReset(wrapped, config.num_envs)
    setup = T._Setup(config, wrapped, params, network, stepper=stepper)
    obs, env_state = jax.vmap(setup.env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.key(0), config.num_envs), params
    )
    net_params = network.init(jax.random.key(1), obs)
    runner = T.RunnerState(
        net_params, None, env_state, obs, jax.random.key(2), jnp.int32(0)
    )
    runner, rollout = T._collect(setup, runner)
    truncated = rollout.done & ~rollout.terminated
    assert int(truncated.sum()) > config.num_envs
    _, cheap = jax.jit(lambda r, ro: T._next_values(setup, r, ro))(runner, rollout)
    _, full = jax.vmap(network.apply, in_axes=(None, 0))(net_params, rollout.final_obs)
    keep = ~np.asarray(rollout.terminated)
    np.testing.assert_allclose(
        np.asarray(cheap)[keep], np.asarray(full)[keep], atol=1e-5
    )
