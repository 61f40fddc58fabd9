"""Intrinsic rewards: known values on fixed inputs, and PPO's use of them.

SimHash codes and counts are recomputed here in plain Python (big integers,
no modular shortcuts); RND's bonus is recomputed from its parameters in NumPy.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from compile_count import compilations

from jaxrl.algos import intrinsic, ppo
from jaxrl.algos.intrinsic.observations import flatten_batch
from jaxrl.testing import StateDependentReward


def test_running_moments_match_numpy_over_all_batches():
    data = np.random.default_rng(0).normal(3.0, 2.0, size=(30, 4)).astype(np.float32)
    moments = intrinsic.init_moments((4,))
    for chunk in (data[:7], data[7:20], data[20:]):
        moments = intrinsic.update_moments(moments, jnp.asarray(chunk))
    np.testing.assert_allclose(moments.mean, data.mean(0), rtol=1e-4)
    np.testing.assert_allclose(moments.var, data.var(0), rtol=1e-3)
    x = jnp.asarray(data[:2]) + 100.0
    assert float(jnp.max(intrinsic.standardize(moments, x))) == 5.0  # clipped


def test_reward_scaler_divides_by_the_std_of_discounted_sums():
    rewards = jnp.array([[1.0, 0.0], [2.0, 4.0], [0.5, 1.0]], jnp.float32)
    scaler, scaled = intrinsic.scale_rewards(
        intrinsic.init_reward_scaler(2), rewards, jnp.float32(0.5)
    )
    sums = np.array([[1.0, 0.0], [2.5, 4.0], [1.75, 3.0]])  # r_t + 0.5 * sum_{t-1}
    np.testing.assert_allclose(scaler.returns, sums[-1])
    np.testing.assert_allclose(scaled, rewards / np.sqrt(sums.var()), rtol=1e-3)


def _python_code(x, projection, primes):
    bits = [int(b) for b in (np.asarray(projection) @ np.asarray(x) > 0)]
    number = sum(b << j for j, b in enumerate(bits))  # bit j is worth 2**j
    return [number % p for p in primes]


def test_simhash_codes_are_the_sign_bits_read_in_binary_modulo_each_prime():
    counts = intrinsic.SimHashCounts(key_bits=40, table_size=5000, num_tables=3)
    assert counts.primes == (4999, 4993, 4987)
    x = jax.random.normal(jax.random.key(1), (5, 7))
    state = counts.init(jax.random.key(0), x)
    codes = np.asarray(counts.codes(state, x))
    for row, code in zip(np.asarray(x), codes, strict=True):
        assert list(code) == _python_code(row, state.projection, counts.primes)


def test_lifelong_counts_count_the_batch_before_paying():
    counts = intrinsic.SimHashCounts(key_bits=32, table_size=2000, num_tables=2)
    a, b = jnp.array([1.0, -2.0, 0.5]), jnp.array([-3.0, 1.0, 2.0])
    state = counts.init(jax.random.key(0), jnp.stack([a, b]))
    next_obs = jnp.stack([jnp.stack([a, b]), jnp.stack([a, a])])  # (T=2, B=2)
    done = jnp.zeros((2, 2), bool)
    state, bonus = counts.reward(state, next_obs, done)  # a seen 3 times, b once
    np.testing.assert_allclose(bonus, [[3**-0.5, 1.0], [3**-0.5, 3**-0.5]], rtol=1e-6)
    state, bonus = counts.reward(state, next_obs, done)  # a 6 times, b twice
    np.testing.assert_allclose(bonus[0], [6**-0.5, 2**-0.5], rtol=1e-6)


def test_episodic_counts_restart_with_each_episode():
    counts = intrinsic.SimHashCounts(mode="episodic", key_bits=32, table_size=2000,
                                     num_tables=2, episodic_memory=3)  # fmt: skip
    a, b = jnp.array([1.0, -2.0]), jnp.array([-3.0, 1.0])
    state = counts.init(jax.random.key(0), a[None])
    # one environment: a, a, b (episode ends), a, a, a, a, a
    next_obs = jnp.stack([a, a, b, a, a, a, a, a])[:, None]
    done = jnp.zeros((8, 1), bool).at[2, 0].set(True)
    state, bonus = counts.reward(state, next_obs, done)
    n = np.round(np.asarray(bonus[:, 0]) ** -2).astype(int)
    # the memory holds the last 3 steps of the episode: counts saturate at 4
    np.testing.assert_array_equal(n, [1, 2, 1, 1, 2, 3, 4, 4])
    with pytest.raises(ValueError, match="count mode must be one of lifelong"):
        intrinsic.SimHashCounts(mode="forever")
    with pytest.raises(ValueError, match="below 2\\*\\*31"):
        intrinsic.SimHashCounts(key_bits=4096)


def _dense_layers(params):
    layers = params["params"]
    names = [f"Dense_{i}" for i in range(len(layers))]
    return [(np.asarray(layers[n]["kernel"]), np.asarray(layers[n]["bias"]))
            for n in names]  # fmt: skip


def _numpy_forward(layers, x, activations):
    for (w, b), act in zip(layers, activations, strict=True):
        x = act(x @ w + b)
    return x


def test_rnd_bonus_is_the_predictors_mean_squared_error():
    rnd = intrinsic.RND(hidden_size=8, output_size=4, num_epochs=2, num_minibatches=2)
    obs = jax.random.normal(jax.random.key(1), (4, 3))
    state = rnd.init(jax.random.key(0), obs)
    next_obs = obs[None] * jnp.array([1.0, 2.0])[:, None, None]  # (T=2, B=4, 3)
    state, bonus = rnd.reward(state, next_obs, jnp.zeros((2, 4), bool))
    x = np.asarray(next_obs).reshape(-1, 3)
    scaled = np.clip((x - x.mean(0)) / np.sqrt(x.var(0) + 1e-8), -5, 5)  # 1st batch

    def leaky(v):
        return np.where(v > 0, v, 0.01 * v)

    def ident(v):
        return v

    def relu(v):
        return np.maximum(v, 0)

    target = _numpy_forward(_dense_layers(state.target), scaled, [leaky, leaky, ident])
    prediction = _numpy_forward(_dense_layers(state.predictor), scaled,
                                [leaky, leaky, relu, relu, ident])  # fmt: skip
    expected = ((prediction - target) ** 2).mean(-1).reshape(2, 4)
    np.testing.assert_allclose(bonus, expected, rtol=2e-3, atol=1e-6)


# a learning check (about 12 s in the CI run); --exhaustive
@pytest.mark.exhaustive
def test_rnd_training_lowers_the_bonus_of_what_it_trained_on_most():
    rnd = intrinsic.RND(hidden_size=32, output_size=16, num_epochs=8, num_minibatches=2)
    seen = jax.random.normal(jax.random.key(1), (1, 16, 6))
    unseen = jax.random.normal(jax.random.key(2), (1, 16, 6)) + 2.0
    state = rnd.init(jax.random.key(0), seen[0])
    state, _ = rnd.reward(state, jnp.concatenate([seen, unseen], 1), None)

    def mean_errors(state):
        errors = [rnd.errors(state, state.predictor, o) for o in (seen, unseen)]
        return [float(jnp.mean(e)) for e in errors]

    before = mean_errors(state)

    @jax.jit
    def train(state):
        def one(state, key):
            return rnd.update(state, seen, key, jnp.float32(3e-3))

        return jax.lax.scan(one, state, jax.random.split(jax.random.key(3), 20))

    state, losses = train(state)
    loss = losses[-1]
    after = mean_errors(state)
    assert after[0] < 0.2 * before[0]
    assert after[1] / before[1] > 2 * after[0] / before[0]  # novelty stays visible
    assert float(loss) == pytest.approx(after[0], rel=0.5)


def test_flatten_batch_keeps_leading_axes():
    obs = {"image": jnp.ones((2, 3, 4, 4, 3), jnp.uint8),
           "direction": jnp.zeros((2, 3), jnp.int32)}  # fmt: skip
    assert flatten_batch(obs, 2).shape == (2, 3, 49)


TINY = ppo.Config(total_steps=2 * 4 * 8, num_envs=4, num_steps=8, num_minibatches=2,
                  update_epochs=1, hidden_size=8, embed_dim=2, intrinsic="count",
                  count_key_bits=16)  # fmt: skip


def test_ppo_bad_intrinsic_settings_are_refused_before_compiling():
    with pytest.raises(ValueError, match="Config.intrinsic must be one of none, rnd, "
                       "count, rdd, got 'icm'"):  # fmt: skip
        ppo.Config(intrinsic="icm")
    with pytest.raises(ValueError, match="Config.count_mode must be one of lifelong"):
        ppo.Config(intrinsic="count", count_mode="daily")
    with pytest.raises(ValueError, match=r"HParams.int_gamma must be in \[0.0, 1.0\]"):
        ppo.check_hparams(ppo.HParams(int_gamma=1.5))


def test_a_sweep_over_intrinsic_coefficients_compiles_once():
    env = StateDependentReward()
    train = ppo.make_train(TINY, env, env.default_params)
    sweep = jax.jit(jax.vmap(train, in_axes=(None, 0)))
    hparams = jax.tree.map(lambda x: jnp.full((3,), x, jnp.float32), ppo.HParams())
    hparams = hparams.replace(int_coef=jnp.array([0.0, 0.5, 2.0]),
                              ext_coef=jnp.array([1.0, 2.0, 2.0]),
                              int_gamma=jnp.array([0.9, 0.99, 0.99]))  # fmt: skip
    start = compilations()
    out = sweep(jax.random.key(0), hparams)
    assert compilations() - start == 1
    metrics = out.metrics
    assert metrics.intrinsic_reward.shape == (3, 2)
    assert ((metrics.intrinsic_reward > 0) & (metrics.intrinsic_reward <= 1)).all()
    assert out.state.params["params"]["critic_out"]["kernel"].shape[-1] == 2
    assert out.state.intrinsic.tables.shape[:2] == (3, 6)  # a count-min sketch per run
    # the same key: the three runs see the same first rollout and bonuses
    np.testing.assert_array_equal(metrics.intrinsic_reward[:, 0],
                                  metrics.intrinsic_reward[0, 0])  # fmt: skip
    again = sweep(jax.random.key(0), hparams)
    np.testing.assert_array_equal(again.metrics.loss.total, metrics.loss.total)


def test_lifelong_bonus_ignores_episode_ends_and_episodic_one_does_not():
    """With value heads at zero and gamma_int = 1, lambda = 1, the intrinsic
    advantage of step t is the sum of the scaled bonuses from t on: across
    episode ends for a lifelong bonus, within the episode for an episodic one."""
    from jaxrl.algos.ppo import train as T

    bonus = jnp.ones((4, 1), jnp.float32)
    done = jnp.array([[False], [True], [False], [False]])
    rollout_like = T.Transition(
        obs=None, action=None, log_prob=None, value=jnp.zeros((4, 1, 2)),
        reward=jnp.zeros((4, 1)), terminated=done, done=done, final_obs=None,
        episode=None,
    )  # fmt: skip
    hparams = ppo.HParams(gamma=1.0, gae_lambda=1.0, int_gamma=1.0, int_coef=1.0,
                          ext_coef=0.0)  # fmt: skip
    cases = ((intrinsic.SimHashCounts(), [4, 3, 2, 1]),
             (intrinsic.SimHashCounts(mode="episodic"), [2, 1, 2, 1]))  # fmt: skip
    for module, expected in cases:
        setup = dataclasses.replace(_fake_setup(), intrinsic=_FixedBonus(module, bonus))
        runner = T.RunnerState(None, None, None, None, None, None, None,
                               intrinsic.init_reward_scaler(1))  # fmt: skip
        zeros = jnp.zeros((4, 1, 2))
        _, advantages, _, _ = T._mixed_advantages(
            setup, hparams, runner, rollout_like, zeros, zeros
        )
        scale = float(advantages[-1, 0])  # one scaled bonus
        np.testing.assert_allclose(advantages[:, 0] / scale, expected, rtol=1e-6)


@dataclasses.dataclass(frozen=True)
class _FixedBonus:
    """A module paying fixed bonuses, with the episodic flag of ``module``."""

    module: object
    bonus: jax.Array

    @property
    def is_episodic(self):
        return self.module.is_episodic

    def reward(self, state, next_obs, done):
        return state, self.bonus


def _fake_setup():
    from jaxrl.algos.ppo import train as T

    return T._Setup(TINY, None, None, None, None)
