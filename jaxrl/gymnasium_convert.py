"""Conversions between JAX environments and gymnasium: spaces, observations,
actions and seeds."""

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from gymnasium import spaces as gym_spaces
from gymnax.environments import spaces

WORD = 2**32  # seeds and key words are below this


def gymnasium_space(space: spaces.Space) -> gym_spaces.Space:
    """The gymnasium space equal to a gymnax space (Box, Discrete, Dict, Tuple).

    ``Box`` bounds are broadcast to full arrays of the space's dtype;
    ``Discrete`` becomes gymnasium's default ``int64`` ``Discrete``.

    Raises:
        TypeError: a space type with no gymnasium counterpart here.
    """
    if isinstance(space, spaces.Discrete):
        return gym_spaces.Discrete(int(space.n))
    if isinstance(space, spaces.Box):
        dtype = np.dtype(space.dtype)
        shape = tuple(space.shape)
        low = np.broadcast_to(np.asarray(space.low, dtype), shape)
        high = np.broadcast_to(np.asarray(space.high, dtype), shape)
        return gym_spaces.Box(low, high, shape, dtype)
    if isinstance(space, spaces.Dict):
        return gym_spaces.Dict({k: gymnasium_space(s) for k, s in space.spaces.items()})
    if isinstance(space, spaces.Tuple):
        return gym_spaces.Tuple([gymnasium_space(s) for s in space.spaces])
    raise TypeError(f"cannot convert {type(space).__name__} to a gymnasium space")


def to_numpy(x: Any, space: gym_spaces.Space) -> Any:
    """Host values ``x`` (a pytree) as members of ``space``.

    NamedTuples, dataclasses and mappings become dicts in the space's key
    order; ``Discrete`` leaves become ``np.int64`` scalars (what check_env
    expects), other leaves arrays of exactly the space's dtype.
    """
    if isinstance(space, gym_spaces.Dict):
        get = x.__getitem__ if isinstance(x, Mapping) else functools.partial(getattr, x)
        return {k: to_numpy(get(k), s) for k, s in space.spaces.items()}
    if isinstance(space, gym_spaces.Tuple):
        return tuple(to_numpy(v, s) for v, s in zip(x, space.spaces, strict=True))
    if isinstance(space, gym_spaces.Discrete):
        return space.dtype.type(x)
    return np.asarray(x, dtype=space.dtype)


def action_dtype(space: spaces.Space) -> np.dtype:
    """The dtype the JAX env takes actions in; only Discrete and Box are handled."""
    if not isinstance(space, spaces.Discrete | spaces.Box):
        raise TypeError(
            f"only Discrete and Box action spaces are supported, got {space!r}"
        )
    return np.dtype(space.dtype)


def to_action(action: Any, space: gym_spaces.Space, jax_dtype: np.dtype) -> np.ndarray:
    """``action`` checked against the (possibly batched) gymnasium ``space``.

    Raises:
        ValueError: the action is not in the space (nothing is clipped).
    """
    x = np.asarray(action)
    if isinstance(space, gym_spaces.Box) and np.issubdtype(x.dtype, np.number):
        x = x.astype(space.dtype)
    if x not in space:
        raise ValueError(f"action {action!r} is not in the action space {space}")
    return x.astype(jax_dtype)


def _key_from_words(words: jax.Array) -> jax.Array:
    """A typed key from a seed's 32-bit words, lowest first.

    A seed below 2**32 gives exactly ``jax.random.key(seed)``; each higher
    non-zero part is folded in, so large seeds do not collide.
    """
    key = jax.random.key(words[0])
    for i in range(1, words.shape[0]):
        has_higher = jnp.any(words[i:] != 0)
        key = jax.lax.select(has_higher, jax.random.fold_in(key, words[i]), key)
    return key


_keys_from_words = jax.jit(jax.vmap(_key_from_words))


def keys_from_seeds(seeds: Sequence[int]) -> jax.Array:
    """One typed key a seed, shape ``(len(seeds),)``."""
    num_words = max(1, (max(seeds).bit_length() + 31) // 32)
    words = [[(s >> (32 * i)) % WORD for i in range(num_words)] for s in seeds]
    return _keys_from_words(np.asarray(words, np.uint32))
