"""Bad input to GFlowNet training is refused with a clear error; a masked
logsumexp stays finite."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.algos import gflownet as gfn
from jaxrl.algos.gflownet.checks import check_actions, check_log_rewards, check_state
from jaxrl.envs.gfn import HyperGrid, HyperGridState, make_gfn_env

ENV = HyperGrid(ndim=2, height=3)


class CellReward:
    """R(x) = ``value`` at cell (1, 1), 1 elsewhere."""

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"CellReward({self.value})"

    def log_reward(self, state):
        hit = jnp.all(state.coords == 1)
        return jnp.log(jnp.where(hit, jnp.float32(self.value), 1.0))


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
def test_reward_without_finite_log_is_refused_at_configuration(value):
    with pytest.raises(ValueError, match="rewards must be positive and finite"):
        check_log_rewards(ENV, CellReward(value))
    with pytest.raises(ValueError, match=r"coords=array\(\[1, 1\]"):
        gfn.make_program(gfn.Config(num_iterations=2, eval_every=1), ENV,
                         CellReward(value))  # fmt: skip


def test_positive_reward_passes():
    check_log_rewards(ENV, CellReward(0.5))
    env, reward = make_gfn_env("hypergrid-small")
    check_log_rewards(env, reward)


def batch(coords):
    coords = jnp.asarray(coords, jnp.int32)
    return HyperGridState(coords=coords, is_terminal=jnp.zeros(len(coords), bool))


def test_action_outside_mask_or_range_is_refused():
    states = batch([[0, 0], [2, 0]])
    check_actions(ENV, states, np.array([0, 1], np.int32))
    not_allowed = r"action 0 at index 1 is not allowed.*\[1, 2\]"
    with pytest.raises(ValueError, match=not_allowed):
        check_actions(ENV, states, np.array([0, 0], np.int32))
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        check_actions(ENV, states, np.array([3, 0], np.int32))
    terminal = states.replace(is_terminal=jnp.array([True, False]))
    with pytest.raises(ValueError, match="not allowed"):
        check_actions(ENV, terminal, np.array([2, 1], np.int32))


def test_wrong_state_shape_is_refused():
    check_state(ENV, ENV.initial_state())
    check_state(ENV, batch([[0, 0]]))
    with pytest.raises(ValueError, match=r"leaf 0 has shape \(3,\).*\(2,\)"):
        check_state(ENV, HyperGridState(jnp.zeros(3, jnp.int32), jnp.bool_(False)))
    with pytest.raises(ValueError, match="dtype"):
        check_state(ENV, HyperGridState(jnp.zeros(2, jnp.float32), jnp.bool_(False)))
    with pytest.raises(ValueError, match="structure"):
        check_state(ENV, jnp.zeros(2, jnp.int32))


def test_masked_logsumexp_never_nan():
    x = jnp.array([[jnp.nan, -jnp.inf, jnp.inf], [1.0, jnp.nan, 2.0]])
    none = jnp.zeros((2, 3), bool)
    some = jnp.array([[False, False, False], [True, False, True]])
    assert np.all(np.isfinite(gfn.masked_logsumexp(x, none)))
    out = gfn.masked_logsumexp(x, some)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[1], np.logaddexp(1.0, 2.0), rtol=1e-6)
    grad = jax.grad(lambda v: gfn.masked_logsumexp(v, some).sum())(x)
    assert np.isfinite(grad).all()
    assert np.isfinite(gfn.masked_log_softmax(x, some)[1, [0, 2]]).all()
