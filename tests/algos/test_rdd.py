"""Random distribution distillation: its two terms and its bonus on fixed
inputs, the statistics of its random targets, and PPO's use of it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.algos import intrinsic, ppo
from jaxrl.algos.intrinsic import rdd as rdd_module
from jaxrl.algos.ppo.train import make_intrinsic
from jaxrl.testing import OneStepBandit


def test_rdd_terms_known_values():
    # pseudo-count term sigma^2 / n: 2^2 / 4 = 1; 0.5^2 / (1, 2, 5) = .25, .125, .05
    assert float(intrinsic.pseudo_count_term(2.0, 4)) == 1.0
    np.testing.assert_allclose(
        intrinsic.pseudo_count_term(0.5, jnp.array([1, 2, 5])), [0.25, 0.125, 0.05]
    )
    # discrepancy term (1/d) ||optimum - prediction||^2: (0 + 4 + 0) / 3;
    # second row: (1 + 1 + 4 + 0) / 4 (rows of width 4)
    assert float(intrinsic.discrepancy_term([1.0, 2.0, 3.0], [1.0, 0.0, 3.0])) == (
        pytest.approx(4 / 3)
    )
    prediction = jnp.array([[0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 2.0, 0.5]])
    optimum = jnp.array([[0.0, 0.0, 0.0, 0.0], [2.0, 0.0, 0.0, 0.5]])
    np.testing.assert_allclose(
        intrinsic.discrepancy_term(prediction, optimum), [0.0, 1.5]
    )
    # the bonus is the same mean of squares, against the distribution's mean
    np.testing.assert_allclose(rdd_module.bonus(prediction, optimum), [0.0, 1.5])


def _relu_forward(params, x):
    layers = params["params"]
    for i in range(len(layers)):
        w, b = (np.asarray(layers[f"Dense_{i}"][n]) for n in ("kernel", "bias"))
        x = x @ w + b
        x = np.maximum(x, 0) if i < len(layers) - 1 else x
    return x


def test_rdd_bonus_is_the_predictors_distance_to_the_target_mean():
    rdd = intrinsic.RDD(hidden_size=8, output_size=4, num_epochs=2, num_minibatches=2)
    obs = jax.random.normal(jax.random.key(1), (4, 3))
    state = rdd.init(jax.random.key(0), obs)
    assert len(state.mean["params"]) == 3 and len(state.predictor["params"]) == 5
    next_obs = obs[None] * jnp.array([1.0, 2.0])[:, None, None]  # (T=2, B=4, 3)
    state, bonus = rdd.reward(state, next_obs, jnp.zeros((2, 4), bool))
    assert bonus.shape == (2, 4) and bonus.dtype == jnp.float32
    x = np.asarray(next_obs).reshape(-1, 3)
    scaled = np.clip((x - x.mean(0)) / np.sqrt(x.var(0) + 1e-8), -5, 5)  # 1st batch
    mean = _relu_forward(state.mean, scaled)
    prediction = _relu_forward(state.predictor, scaled)
    expected = ((prediction - mean) ** 2).mean(-1).reshape(2, 4)
    np.testing.assert_allclose(bonus, expected, rtol=2e-3, atol=1e-6)


def test_at_the_optimum_the_bonus_is_the_pseudo_count_term_on_average():
    """A predictor at its least-squares optimum outputs the mean f*_n of a
    state's n draws. Its bonus averages sigma^2 / n (discrepancy 0); a
    prediction f fixed beforehand has E[discrepancy(f, f*_n)] = b(f) + sigma^2/n.
    4096 states x 64 features: relative standard error about 1%."""
    sigma, num_states, d = 1.5, 4096, 64
    rdd = intrinsic.RDD(output_size=d, sigma=sigma)
    n = np.array([1, 4, 16])

    @jax.jit
    def statistics(key):
        k_mean, k_draws = jax.random.split(key)
        mean = jax.random.normal(k_mean, (num_states, d))
        keys = jax.random.split(k_draws, 16)
        draws = jax.vmap(rdd.sample_targets, in_axes=(None, 0))(mean, keys)
        optimum = jnp.cumsum(draws, 0)[n - 1] / n[:, None, None]  # (3, states, d)
        fixed = mean + 0.5  # b(fixed) = 0.25 exactly
        return (jnp.mean(rdd_module.bonus(optimum, mean), -1),
                jnp.max(intrinsic.discrepancy_term(optimum, optimum)),
                jnp.mean(intrinsic.discrepancy_term(fixed, optimum), -1))  # fmt: skip

    bonus, zero, gap = statistics(jax.random.key(0))
    expected = intrinsic.pseudo_count_term(sigma, n)
    np.testing.assert_allclose(expected, 2.25 / n)
    np.testing.assert_allclose(bonus, expected, rtol=0.05)
    assert float(zero) == 0.0
    np.testing.assert_allclose(gap, 0.25 + expected, rtol=0.05)


def test_rdd_update_is_reproducible_from_its_key():
    rdd = intrinsic.RDD(hidden_size=8, output_size=4, num_epochs=2, num_minibatches=2)
    obs = jax.random.normal(jax.random.key(1), (1, 8, 3))
    state = rdd.init(jax.random.key(0), obs[0])
    update = jax.jit(jax.vmap(rdd.update, in_axes=(None, None, 0, None)))
    keys = jnp.stack([jax.random.key(5), jax.random.key(5), jax.random.key(6)])
    states, losses = update(state, obs, keys, jnp.float32(1e-2))
    one, again, other = (jax.tree.map(lambda x, i=i: x[i], states) for i in range(3))
    loss, loss_again = losses[0], losses[1]
    assert float(loss) == float(loss_again) and np.isfinite(float(loss))
    leaves = jax.tree.leaves
    for a, b in zip(leaves(one.predictor), leaves(again.predictor), strict=True):
        np.testing.assert_array_equal(a, b)
    # another key draws other targets: the predictor moves elsewhere
    pairs = zip(leaves(one.predictor), leaves(other.predictor), strict=True)
    assert any(not np.array_equal(a, b) for a, b in pairs)
    # the target-mean network never trains
    for a, b in zip(leaves(one.mean), leaves(state.mean), strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_rdd_settings_are_refused_before_compiling():
    with pytest.raises(ValueError, match="RDD.sigma must be a finite number > 0"):
        intrinsic.RDD(sigma=0.0)
    with pytest.raises(ValueError, match="RDD.sigma must be a finite number > 0"):
        intrinsic.RDD(sigma=float("nan"))
    with pytest.raises(ValueError, match="RDD.output_size must be an int >= 1"):
        intrinsic.RDD(output_size=0)
    with pytest.raises(ValueError, match="Config.rdd_sigma must be a finite number"):
        ppo.Config(intrinsic="rdd", rdd_sigma=-1.0)
    with pytest.raises(ValueError, match="Config.rdd_hidden_size must be an int"):
        ppo.Config(intrinsic="rdd", rdd_hidden_size=0)
    rdd = intrinsic.RDD(hidden_size=4, output_size=2, num_minibatches=3)
    state = rdd.init(jax.random.key(0), jnp.zeros((4, 2)))  # raised while tracing:
    with pytest.raises(ValueError, match=r"RDD.num_minibatches \(3\) must divide"):
        jax.eval_shape(rdd.update, state, jnp.zeros((1, 4, 2)), jax.random.key(1),
                       jnp.float32(1e-3))  # fmt: skip


def test_ppo_builds_rdd_from_its_config():
    config = ppo.Config(intrinsic="rdd", rdd_hidden_size=16, rdd_output_size=8,
                        rdd_sigma=0.5, update_epochs=3, num_minibatches=4)  # fmt: skip
    module = make_intrinsic(config)
    assert module == intrinsic.RDD(16, 8, 0.5, num_epochs=3, num_minibatches=4)
    assert not module.is_episodic and config.num_value_heads == 2


# a learning check (about 15 s on two loaded cores); --exhaustive
@pytest.mark.exhaustive
def test_rdd_training_lowers_the_bonus_of_what_it_trained_on():
    rdd = intrinsic.RDD(hidden_size=32, output_size=16, num_epochs=8, num_minibatches=2)
    seen = jax.random.normal(jax.random.key(1), (1, 16, 6))
    unseen = jax.random.normal(jax.random.key(2), (1, 16, 6)) + 2.0
    state = rdd.init(jax.random.key(0), seen[0])
    state, _ = rdd.reward(state, jnp.concatenate([seen, unseen], 1), None)

    def mean_bonus(state):
        outputs = [rdd.outputs(state, state.predictor, o) for o in (seen, unseen)]
        return [float(jnp.mean(rdd_module.bonus(*out))) for out in outputs]

    before = mean_bonus(state)

    @jax.jit
    def train(state):
        def one(state, key):
            return rdd.update(state, seen, key, jnp.float32(3e-3))

        return jax.lax.scan(one, state, jax.random.split(jax.random.key(3), 20))

    state, losses = train(state)
    after = mean_bonus(state)
    assert after[0] < 0.2 * before[0]
    assert after[1] / before[1] > 2 * after[0] / before[0]  # novelty stays visible
    # the loss is against the draws: it cannot fall far below sigma^2 = 1
    assert 0.5 < float(losses[-1]) < 1.5 + before[0]


# one PPO run with the bonus on a probe (about 10 s on two loaded cores);
# --exhaustive
@pytest.mark.exhaustive
def test_ppo_with_rdd_prefers_the_rewarding_arm():
    config = ppo.Config(total_steps=16 * 8 * 16, num_envs=8, num_steps=16,
                        num_minibatches=2, update_epochs=4, hidden_size=16,
                        embed_dim=4, anneal_lr=False, intrinsic="rdd",
                        rdd_hidden_size=16, rdd_output_size=8)  # fmt: skip
    env = OneStepBandit()
    train = jax.jit(ppo.make_train(config, env, env.default_params))
    out = train(jax.random.key(0), ppo.HParams(lr=1e-2))
    returns = np.asarray(out.metrics.episode_return)
    assert returns[-4:].mean() > 0.9, returns
    # one observation, ever more often visited: its bonus (exactly 0 at first,
    # both networks reading a standardised 0) stays well below sigma^2 = 1
    bonus = np.asarray(out.metrics.intrinsic_reward)
    assert bonus[0] == 0.0 and (bonus >= 0).all() and bonus.max() < 0.1, bonus
    assert np.isfinite(np.asarray(out.metrics.intrinsic_loss)).all()
