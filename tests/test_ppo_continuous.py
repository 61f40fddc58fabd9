"""PPO with continuous actions: the Gaussian's density, squashing into the
action box, a one-step continuous bandit learned, observation
normalisation, and brax environments behind the gymnax contract."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnax.environments import environment, spaces

import jaxrl
from jaxrl.algos import ppo
from jaxrl.algos.ppo.networks import gaussian_entropy, gaussian_log_prob


def test_gaussian_density_and_entropy_by_hand():
    mean, log_std = jnp.array([[0.5, -1.0]]), jnp.array([[0.0, np.log(2.0)]])
    action = jnp.array([[1.5, 0.0]])
    expected = (-0.5 * 1.0**2 - 0.5 * np.log(2 * np.pi)) + (
        -0.5 * 0.5**2 - np.log(2.0) - 0.5 * np.log(2 * np.pi)
    )
    np.testing.assert_allclose(gaussian_log_prob((mean, log_std), action), [expected],
                               rtol=1e-6)  # fmt: skip
    entropy = 0.5 * np.log(2 * np.pi * np.e) * 2 + np.log(2.0)
    np.testing.assert_allclose(gaussian_entropy((mean, log_std)), [entropy], rtol=1e-6)


def test_actions_are_clipped_or_squashed_into_the_box():
    from jaxrl.algos.ppo.train import _ActionBox

    box = _ActionBox.of(spaces.Box(jnp.array([-2.0, 0.0]), jnp.array([2.0, 1.0]), (2,)))
    raw = jnp.array([[5.0, -3.0], [0.0, 0.0]])
    np.testing.assert_allclose(box.squash(raw, "clip"), [[2.0, 0.0], [0.0, 0.0]])
    squashed = np.asarray(box.squash(raw, "tanh"))
    np.testing.assert_allclose(squashed[1], [0.0, 0.5], atol=1e-6)
    assert (squashed[:, 0] > -2).all() and (squashed[:, 0] < 2).all()
    with pytest.raises(ValueError, match="finite action bounds"):
        _ActionBox.of(spaces.Box(-jnp.inf, jnp.inf, (1,)))


@struct.dataclass
class _State(environment.EnvState):
    time: jax.Array


class ContinuousBandit(environment.Environment):
    """One step; reward ``1 - (a - 0.5)^2`` for an action in [-1, 1]; the
    observation is a constant 3.0 (normalised to 0 by the running moments)."""

    @property
    def default_params(self):
        return environment.EnvParams(max_steps_in_episode=4)

    def reset_env(self, key, params):
        return jnp.full((1,), 3.0), _State(time=jnp.int32(0))

    def step_env(self, key, state, action, params):
        reward = 1.0 - jnp.square(action[0] - 0.5)
        obs, state = self.reset_env(key, params)
        return obs, state, reward, jnp.bool_(True), {}

    def action_space(self, params=None):
        return spaces.Box(-1.0, 1.0, (1,), jnp.float32)

    def observation_space(self, params=None):
        return spaces.Box(-10.0, 10.0, (1,), jnp.float32)


CONFIG = ppo.Config(total_steps=40 * 8 * 16, num_envs=8, num_steps=16,
                    num_minibatches=2, update_epochs=4, hidden_size=16,
                    anneal_lr=False, normalize_observations=True)  # fmt: skip


@pytest.mark.parametrize("squash", ["clip", "tanh"])
def test_ppo_finds_the_best_continuous_action(squash):
    env = ContinuousBandit()
    config = dataclasses.replace(CONFIG, action_squash=squash)
    out = jax.jit(ppo.make_train(config, env, env.default_params))(
        jax.random.key(0), ppo.HParams(lr=1e-2, ent_coef=0.0)
    )
    returns = np.asarray(out.metrics.episode_return)
    assert returns[-5:].mean() > 0.9, returns  # 1 - E[(a - 0.5)^2]
    moments = out.state.obs_moments
    np.testing.assert_allclose(moments.mean, [3.0], rtol=1e-5)
    assert out.state.params["params"]["log_std"].shape == (1,)


def test_bad_continuous_settings_are_refused():
    env, params = jaxrl.make("Empty-5x5")
    with pytest.raises(ValueError, match="normalize_observations standardises a flat"):
        ppo.make_program(dataclasses.replace(CONFIG, normalize_observations=True),
                         env, params)  # fmt: skip
    with pytest.raises(ValueError, match="action_squash must be clip or tanh"):
        ppo.Config(action_squash="sigmoid")
    bandit = ContinuousBandit()
    with pytest.raises(ValueError, match="feed-forward policy"):
        ppo.make_program(dataclasses.replace(CONFIG, recurrent=True,
                                             normalize_observations=False),
                         bandit, bandit.default_params)  # fmt: skip


def test_brax_environment_steps_truncates_and_resets():
    env, params = jaxrl.make("brax/inverted_pendulum", max_steps_in_episode=3)
    assert env.observation_space(params).shape == (4,)
    assert env.action_space(params).shape == (1,)
    obs, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step)
    ends = []
    for t in range(4):
        obs, state, reward, terminated, truncated, info = step(
            jax.random.key(t + 1), state, jnp.zeros((1,)), params
        )
        assert obs.dtype == jnp.float32 and reward.dtype == jnp.float32
        ends.append((bool(terminated), bool(truncated), int(state.time)))
    # an upright pendulum with no force stays up: the time limit ends it
    assert ends == [(False, False, 1), (False, False, 2), (False, True, 0),
                    (False, False, 1)]  # fmt: skip
    assert info["final_observation"].shape == (4,)
    with pytest.raises(ValueError, match="unknown brax environment 'nope'; brax has"):
        jaxrl.make("brax/nope")
