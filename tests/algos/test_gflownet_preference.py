"""Preference-conditioned GFlowNets (the PC-GFN baseline of Chen & Mauch,
2024): the scalarised reward by hand, the Dirichlet weights and the policy
input, refusals, and a short run on a tiny multi-objective grid."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.algos import gflownet as gfn
from jaxrl.algos.gflownet import preference as P
from jaxrl.envs.gfn import make_gfn_env

ENV, REWARD = make_gfn_env("mo-hypergrid:height=6")


def test_scalarised_reward_by_hand():
    objectives = jnp.array([[0.2, 0.8], [0.5, 0.3], [0.0, 0.0]])
    weights = jnp.array([[0.5, 0.5], [1.0, 0.0], [0.3, 0.7]])
    beta = jnp.array([2.0, 1.0, 4.0])
    got = np.asarray(P.scalarised_log_reward(objectives, weights, beta))
    # (0.5 * 0.2 + 0.5 * 0.8)^2 = 0.25; (1 * 0.5)^1 = 0.5; w . r = 0 is
    # raised to the floor 1e-6: 4 log 1e-6
    want = [math.log(0.25), math.log(0.5), 4 * math.log(1e-6)]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_dirichlet_weights_sum_to_one_and_condition_the_policy():
    weights = P.draw_preferences(jax.random.key(3), 1.5, 256, 3)
    assert weights.shape == (256, 3) and bool(jnp.all(weights >= 0))
    np.testing.assert_allclose(np.asarray(weights).sum(-1), 1.0, rtol=1e-5)
    # the evaluation set is fixed: the same vectors every time
    np.testing.assert_array_equal(P.evaluation_preferences(1.5, 8, 2),
                                  P.evaluation_preferences(1.5, 8, 2))  # fmt: skip
    # [w, beta] is appended to each state's observation (broadcast over time)
    condition = P.preference_condition(weights[:2, :2], 4.0)
    obs = jnp.zeros((5, 2, 7))
    joined = P.append_condition(obs, condition)
    assert joined.shape == (5, 2, 10)
    np.testing.assert_array_equal(joined[3, 1, 7:], [*weights[1, :2], 4.0])
    # a policy on [obs, w, beta] (the trained program's input: see the run
    # below) gives different P_F for different weights
    policy = gfn.GFNPolicy(ENV.num_actions, 8, False, False, False)
    s0 = ENV.observe(ENV.initial_state())
    net = policy.init(jax.random.key(1), P.append_condition(s0, jnp.ones(3)))

    def logits(condition):
        obs = P.append_condition(s0, jnp.array(condition))
        return policy.apply(net, obs, method=gfn.GFNPolicy.forward_logits)

    assert not np.allclose(logits([1.0, 0.0, 2.0]), logits([0.0, 1.0, 2.0]))


def test_preference_is_refused_where_it_cannot_work():
    env, reward = make_gfn_env("hypergrid", ndim=2, height=4)
    with pytest.raises(ValueError, match="has one scalar reward"):
        gfn.make_program(gfn.Config(preference="dirichlet"), env, reward)
    with pytest.raises(ValueError, match="does not take that"):
        gfn.Config(preference="dirichlet", loss="op-tb")
    with pytest.raises(ValueError, match="preference must be one of none, dirichlet"):
        gfn.Config(preference="uniform")
    with pytest.raises(ValueError, match="preference_alpha must be a finite float"):
        gfn.Config(preference="dirichlet", preference_alpha=0.0)
    with pytest.raises(ValueError, match="do not go together"):
        gfn.Config(preference="dirichlet", replay_size=32, replay_batch=8)


# a learning check (about 18 s in the CI run): with --exhaustive; the
# Pareto comparison itself is benchmarks/gfn_pareto.py
@pytest.mark.exhaustive
def test_short_run_moves_mass_to_the_pareto_front():
    """PC-TB with beta = 4 on the 6 x 6 Branin-Currin grid (7 front cells;
    a uniform policy puts 0.295 on them): after 40 iterations of 16 the
    mixture over 8 fixed preferences puts 0.44 there (measured)."""
    config = gfn.Config(preference="dirichlet", num_iterations=40, eval_every=40,
                        batch_size=16, hidden_size=16, pareto_samples=16,
                        preference_eval=8, use_learned_backward=False)  # fmt: skip
    hparams = gfn.HParams(lr=1e-2, beta_low=4.0, beta_high=4.0)
    out = jax.jit(gfn.make_train(config, ENV, REWARD))(jax.random.key(0), hparams)
    enum = gfn.enumerate_states(ENV, REWARD)
    uniform = gfn.terminating_log_probs(ENV, enum, jnp.zeros((36, 3)))
    uniform_mass = float(jnp.sum(jnp.where(enum.is_mode, jnp.exp(uniform), 0.0)))
    assert uniform_mass == pytest.approx(0.295, abs=1e-3)
    assert float(out.metrics.pareto.mass[-1]) > uniform_mass + 0.05
    # the policy's and log Z's first layers take [w, beta] (K + 1 = 3 more
    # inputs than the 2 * 6 one-hot observation)
    params = out.state.params
    assert params.net["params"]["forward_net"]["Dense_0"]["kernel"].shape[0] == 15
    assert params.log_z["params"]["Dense_0"]["kernel"].shape[0] == 3
    for leaf in jax.tree.leaves((out.metrics, out.state.params)):
        assert np.isfinite(np.asarray(leaf)).all()
