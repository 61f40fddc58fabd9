"""jaxrl.threefry gives jax.random's numbers bit for bit, without a hash loop."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxrl
from jaxrl import threefry


def _data(keys):
    """Raw key words of typed or raw keys, as NumPy."""
    if jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        keys = jax.random.key_data(keys)
    return np.asarray(keys)


@pytest.mark.parametrize("seed", [0, 12345])
def test_typed_keys_match_jax_random(seed):
    key = jax.random.key(seed)
    for count in (1, 2, 3, 7):
        np.testing.assert_array_equal(
            threefry.bits(key, count), jax.random.bits(key, (count,), jnp.uint32)
        )
        np.testing.assert_array_equal(
            _data(threefry.split(key, count)), _data(jax.random.split(key, count))
        )
        # bit patterns: equal floats could still differ in sign of zero
        np.testing.assert_array_equal(
            np.asarray(threefry.uniform(key, count)).view(np.uint32),
            np.asarray(jax.random.uniform(key, (count,))).view(np.uint32),
        )
    for data in (0, 1, 77, 2**32 - 1):
        np.testing.assert_array_equal(
            _data(threefry.fold_in(key, data)), _data(jax.random.fold_in(key, data))
        )
    assert threefry.split(key).dtype == key.dtype  # typed keys stay typed


def test_raw_keys_and_traced_data_under_jit_and_vmap():
    raw = jax.random.PRNGKey(3)
    np.testing.assert_array_equal(threefry.split(raw), jax.random.split(raw))
    np.testing.assert_array_equal(
        threefry.bits(raw, 5), jax.random.bits(raw, (5,), jnp.uint32)
    )
    keys = jax.random.split(jax.random.key(4), 6)

    def ours(key, data):
        return threefry.bits(threefry.fold_in(key, data), 3)

    def reference(key, data):
        return jax.random.bits(jax.random.fold_in(key, data), (3,), jnp.uint32)

    data = jnp.arange(6, dtype=jnp.int32)
    np.testing.assert_array_equal(
        jax.jit(jax.vmap(ours))(keys, data), jax.vmap(reference)(keys, data)
    )


def test_other_implementations_and_legacy_layout_fall_back():
    rbg = jax.random.key(5, impl="rbg")
    np.testing.assert_array_equal(
        threefry.bits(rbg, 4), jax.random.bits(rbg, (4,), jnp.uint32)
    )
    np.testing.assert_array_equal(
        threefry.uniform(rbg, 4), jax.random.uniform(rbg, (4,))
    )
    assert threefry.split(rbg).dtype == rbg.dtype
    key = jax.random.key(6)
    with jax.threefry_partitionable(False):
        np.testing.assert_array_equal(
            threefry.bits(key, 5), jax.random.bits(key, (5,), jnp.uint32)
        )
        np.testing.assert_array_equal(
            _data(threefry.split(key, 3)), _data(jax.random.split(key, 3))
        )


def test_gridworld_step_lowers_without_a_loop():
    """A stochastic gridworld's step (split, ball moves, level draw) holds no
    while loop once lowered for CPU: the hashes are unrolled."""
    env, params = jaxrl.make("Dynamic-Obstacles-8x8")
    _, state = env.reset(jax.random.key(0), params)
    lowered = jax.jit(env.step).lower(jax.random.key(1), state, 2, params)
    assert "while" not in lowered.as_text()
