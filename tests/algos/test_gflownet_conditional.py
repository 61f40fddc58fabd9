"""A conditional GFlowNet over the reward exponent beta."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.algos import gflownet as gfn
from jaxrl.algos.gflownet import train as T
from jaxrl.envs.gfn import make_gfn_env

ENV, REWARD = make_gfn_env("hypergrid", ndim=2, height=4)


def _distribution_at(out, config, beta: float) -> np.ndarray:
    """The trained forward policy's exact terminating distribution at beta."""
    enum = gfn.enumerate_states(ENV, REWARD)
    policy = gfn.GFNPolicy(ENV.num_actions, config.hidden_size, True, False, False)
    obs = T.conditioned(enum.obs, jnp.full(enum.obs.shape[:1], beta))
    logits = policy.apply(
        out.state.params.net, obs, method=gfn.GFNPolicy.forward_logits
    )
    return np.exp(np.asarray(gfn.terminating_log_probs(ENV, enum, logits)))


def test_one_network_learns_each_beta_s_distribution():
    """Trained on beta in [1, 3], the policy at beta = 1 is nearer R / Z
    and at beta = 3 nearer R**3 / Z_3 (the two targets differ by ~0.6 in L1)."""
    config = gfn.Config(num_iterations=600, eval_every=300, batch_size=16,
                        hidden_size=64, conditional=True)  # fmt: skip
    hparams = gfn.HParams(beta_low=1.0, beta_high=3.0, lr=3e-3)
    out = jax.jit(gfn.make_train(config, ENV, REWARD))(jax.random.key(0), hparams)
    reward = np.exp(np.asarray(jax.vmap(REWARD.log_reward)(ENV.all_states())))
    targets = {b: reward**b / (reward**b).sum() for b in (1.0, 3.0)}
    assert np.abs(targets[1.0] - targets[3.0]).sum() > 0.5
    for beta, own in targets.items():
        other = targets[4.0 - beta]
        learned = _distribution_at(out, config, beta)
        assert np.abs(learned - own).sum() < 0.5 * np.abs(learned - other).sum(), beta
    assert float(out.metrics.l1[-1]) < float(out.metrics.l1[0])  # evaluated at 1
    assert np.isfinite(np.asarray(out.metrics.logz_error)).all()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss": "vargrad"}, "does not take that"),
        ({"loss": "op-tb"}, "does not take that"),
        ({"replay_size": 64, "replay_batch": 8}, "do not go together"),
    ],
)
def test_conditional_settings_that_cannot_work_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gfn.Config(conditional=True, **kwargs)


def test_beta_range_must_be_ordered():
    with pytest.raises(ValueError, match="beta_low .* must not exceed"):
        gfn.check_hparams(gfn.HParams(beta_low=3.0, beta_high=2.0))
    with pytest.raises(ValueError, match="beta_low must be in"):
        gfn.check_hparams(gfn.HParams(beta_low=0.0))
