"""Bad actions and environment parameters: refused when tracing where the
shape or dtype is wrong, turned into errors by jaxrl.checked otherwise."""

import jax
import jax.numpy as jnp
import pytest
from jax.experimental import checkify

import jaxrl


@pytest.fixture(scope="module")
def empty():
    env, params = jaxrl.make("Empty-5x5")
    _, state = env.reset(jax.random.key(0), params)
    return env, params, state


@pytest.mark.parametrize("action", [jnp.float32(2.0), jnp.array([1, 2]), 2.0])
def test_actions_of_the_wrong_shape_or_dtype_are_refused(empty, action):
    env, params, state = empty
    with pytest.raises(TypeError, match=r"action must be a \(\) integer array in"):
        env.step(jax.random.key(1), state, action, params)


def test_checked_env_turns_an_out_of_range_action_into_an_error(empty):
    env, params, state = empty
    step = checkify.checkify(jax.jit(jaxrl.checked(env).step))
    err, _ = step(jax.random.key(1), state, jnp.int32(9), params)
    with pytest.raises(checkify.JaxRuntimeError, match="action 9 is outside"):
        err.throw()
    err, out = step(jax.random.key(1), state, jnp.int32(2), params)
    assert err.get() is None and int(out[1].time) == 1


def test_a_step_limit_below_one_is_refused():
    with pytest.raises(ValueError, match="max_steps_in_episode must be >= 1, got 0"):
        jaxrl.make("Empty-5x5", max_steps_in_episode=0)
