"""``jax.random.split``, ``bits`` and ``uniform``, bit for bit, without
XLA:CPU's loop.

On CPU, JAX lowers every Threefry-2x32 hash (each ``split``, ``bits``,
``fold_in``) to a ``while`` loop of five iterations, four rounds each. For one
environment that loop, not the arithmetic, is the cost: about a microsecond a
call, several calls a step, against a few microseconds for the whole rest of
a gridworld step. Here the twenty rounds are written out, so XLA fuses the
hash into the code around it. The numbers are JAX's own (Salmon et al. 2011,
"Parallel random numbers: as easy as 1, 2, 3", Threefry-2x32 with 20 rounds;
counters as ``jax_threefry_partitionable`` lays them out), so every level and
every move drawn from a key is unchanged.

Keys of another implementation (``rbg``, ``unsafe_rbg``), or the legacy
counter layout (``jax_threefry_partitionable=False``), go to ``jax.random``.
"""

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))  # Threefry-2x32's R_{r mod 8}
_PARITY = np.uint32(0x1BD11BDA)  # Threefish's key-schedule constant C240


def _rotate_left(x: jax.Array, bits: int) -> jax.Array:
    return (x << np.uint32(bits)) | (x >> np.uint32(32 - bits))


def hash_2x32(
    key: tuple[jax.Array, jax.Array], x0: jax.Array, x1: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Threefry-2x32 (20 rounds) of the counter pairs ``(x0, x1)`` under
    ``key`` ``(k0, k1)``, all uint32 (the counters broadcast together)."""
    schedule = (key[0], key[1], key[0] ^ key[1] ^ _PARITY)
    x0, x1 = x0 + schedule[0], x1 + schedule[1]
    for block in range(5):
        for bits in _ROTATIONS[block % 2]:
            x0 = x0 + x1
            x1 = _rotate_left(x1, bits) ^ x0
        x0 = x0 + schedule[(block + 1) % 3]
        x1 = x1 + schedule[(block + 2) % 3] + np.uint32(block + 1)
    return x0, x1


def _unrolled_form(key: jax.Array) -> str | None:
    """``"typed"`` or ``"raw"`` where ``key`` is one Threefry key this module
    reproduces ``jax.random`` on, else None."""
    if not jax.config.jax_threefry_partitionable:
        return None
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        typed = key.shape == () and str(jax.random.key_impl(key)) == "threefry2x32"
        return "typed" if typed else None
    raw = key.shape == (2,) and key.dtype == jnp.uint32
    return "raw" if raw and jax.config.jax_default_prng_impl == "threefry2x32" else None


def _key_words(key: jax.Array, form: str) -> tuple[jax.Array, jax.Array]:
    data = jax.random.key_data(key) if form == "typed" else key
    return data[0], data[1]


def bits(key: jax.Array, count: int) -> jax.Array:
    """``jax.random.bits(key, (count,), jnp.uint32)``: ``(count,)`` uint32."""
    form = _unrolled_form(key)
    if form is None:
        return jax.random.bits(key, (count,), jnp.uint32)
    high, low = hash_2x32(
        _key_words(key, form),
        jnp.zeros((count,), jnp.uint32),
        jnp.arange(count, dtype=jnp.uint32),
    )
    return high ^ low


def uniform(key: jax.Array, count: int) -> jax.Array:
    """``jax.random.uniform(key, (count,))``: ``(count,)`` float32 in [0, 1),
    the top 23 bits of :func:`bits` as the mantissa of a float in [1, 2),
    minus 1."""
    if _unrolled_form(key) is None:
        return jax.random.uniform(key, (count,), jnp.float32)
    mantissa = bits(key, count) >> np.uint32(9)
    one_to_two = jax.lax.bitcast_convert_type(mantissa | np.uint32(0x3F800000),
                                              jnp.float32)  # fmt: skip
    return one_to_two - np.float32(1.0)


def split(key: jax.Array, num: int = 2) -> jax.Array:
    """``jax.random.split(key, num)``: ``num`` keys of ``key``'s kind."""
    form = _unrolled_form(key)
    if form is None:
        return jax.random.split(key, num)
    high, low = hash_2x32(
        _key_words(key, form),
        jnp.zeros((num,), jnp.uint32),
        jnp.arange(num, dtype=jnp.uint32),
    )
    data = jnp.stack([high, low], axis=-1)
    if form == "raw":
        return data
    return jax.random.wrap_key_data(data, impl="threefry2x32")


def fold_in(key: jax.Array, data) -> jax.Array:
    """``jax.random.fold_in(key, data)``: one key of ``key``'s kind; ``data``
    a () integer below ``2**32``, the counter pair ``(0, data)``."""
    form = _unrolled_form(key)
    if form is None:
        return jax.random.fold_in(key, data)
    counter = jnp.asarray(data, dtype=jnp.uint32)
    high, low = hash_2x32(_key_words(key, form), jnp.zeros((), jnp.uint32), counter)
    data_out = jnp.stack([high, low])
    if form == "raw":
        return data_out
    return jax.random.wrap_key_data(data_out, impl="threefry2x32")
