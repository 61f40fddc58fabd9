"""Count-based exploration with SimHash (Tang et al., 2017) as a pure module.

An observation ``x`` (flattened to ``D`` floats) is hashed to ``k`` bits,
``sign(A x)`` with a fixed ``(k, D)`` Gaussian matrix ``A``, and its bonus is
``1 / sqrt(n)`` where ``n`` counts that code.

* ``lifelong`` counts every code seen in the run, in a count-min sketch as in
  OpenAI's EPG reference: the bits are read as a binary number reduced modulo
  ``num_tables`` different primes, one count table per prime, and ``n`` is
  the least of the code's entries. A rollout's codes are counted before its
  bonuses are read, so ``n >= 1``.
* ``episodic`` counts the code within the current episode of each
  environment: every environment keeps the codes of its last
  ``episodic_memory`` steps (cleared when its episode ends) and ``n`` is one
  plus the matches among them, so the first visit in an episode pays 1.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.algos.intrinsic.observations import flatten_batch

COUNT_MODES = ("lifelong", "episodic")


@struct.dataclass
class CountState:
    projection: jax.Array  # (k, D) float32, fixed
    tables: jax.Array  # (num_tables, max prime) int32 counts; (0, 0) if episodic
    memory: jax.Array  # (B, L, num_tables) int32 codes; (B, 0, 0) if lifelong
    filled: jax.Array  # (B, L) bool, slot holds a code of this episode
    cursor: jax.Array  # (B,) int32, next slot to write


@dataclasses.dataclass(frozen=True)
class SimHashCounts:
    """Bonus ``1 / sqrt(count)`` of hashed observations.

    Attributes:
        mode: ``"lifelong"`` or ``"episodic"``.
        key_bits: ``k``, bits per code (EPG's reference uses 128).
        table_size: the primes of the count tables are the largest below this.
        num_tables: count tables of the sketch (EPG uses 6).
        episodic_memory: steps of each episode remembered (episodic mode).
    """

    mode: str = "lifelong"
    key_bits: int = 128
    table_size: int = 1_000_000
    num_tables: int = 6
    episodic_memory: int = 1024

    def __post_init__(self):
        if self.mode not in COUNT_MODES:
            raise ValueError(
                f"count mode must be one of {', '.join(COUNT_MODES)}, got {self.mode!r}"
            )
        for name in ("key_bits", "table_size", "num_tables", "episodic_memory"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.table_size * self.key_bits >= 2**31:
            raise ValueError(
                f"table_size * key_bits must stay below 2**31 (int32 hashing), got "
                f"{self.table_size} * {self.key_bits}"
            )
        if len(self.primes) < self.num_tables:
            raise ValueError(
                f"there are fewer than {self.num_tables} primes below table_size "
                f"{self.table_size}; raise table_size or lower num_tables"
            )

    @property
    def is_episodic(self) -> bool:
        return self.mode == "episodic"

    @functools.cached_property
    def primes(self) -> tuple[int, ...]:
        """The ``num_tables`` largest primes below ``table_size``, descending."""
        return tuple(_primes_below(self.table_size, self.num_tables))

    def init(self, key: jax.Array, obs_example) -> CountState:
        """``obs_example``: one batch of observations, leaves ``(B, ...)``."""
        x = flatten_batch(obs_example, 1)
        num_envs, size = x.shape
        projection = jax.random.normal(key, (self.key_bits, size), jnp.float32)
        episodic, lifelong = self.is_episodic, not self.is_episodic
        tables = jnp.zeros(
            (self.num_tables, max(self.primes)) if lifelong else (0, 0), jnp.int32
        )
        memory_len = self.episodic_memory if episodic else 0
        return CountState(
            projection=projection,
            tables=tables,
            memory=jnp.zeros((num_envs, memory_len, self.num_tables), jnp.int32),
            filled=jnp.zeros((num_envs, memory_len), bool),
            cursor=jnp.zeros((num_envs,), jnp.int32),
        )

    def codes(self, state: CountState, x: jax.Array) -> jax.Array:
        """``(..., num_tables)`` int32 table indices of flattened ``x``
        ``(..., D)``: the sign bits read in binary, modulo each prime."""
        bits = (x @ state.projection.T > 0).astype(jnp.int32)  # (..., k)
        powers = jnp.asarray(_powers_mod(self.key_bits, self.primes), jnp.int32)
        sums = bits @ powers.T  # each term < prime, so the sum fits in int32
        return sums % jnp.asarray(self.primes, jnp.int32)

    def reward(self, state: CountState, next_obs, done: jax.Array):
        """Count a rollout's reached observations and pay their bonuses.

        Args:
            next_obs: observations reached, leaves ``(T, B, ...)``.
            done: ``(T, B)`` bool, the episode ended on that step.

        Returns:
            ``(state, bonus)``: counts updated, and ``(T, B)`` float32
            bonuses ``1 / sqrt(n)``.
        """
        codes = self.codes(state, flatten_batch(next_obs, 2))  # (T, B, M)
        if self.is_episodic:
            return _episodic_counts(state, codes, done)
        flat = codes.reshape(-1, self.num_tables)
        table_ids = jnp.arange(self.num_tables)[None, :]
        tables = state.tables.at[table_ids, flat].add(1)
        counts = jnp.min(tables[table_ids, flat], axis=-1).reshape(done.shape)
        state = state.replace(tables=tables)
        return state, jax.lax.rsqrt(counts.astype(jnp.float32))

    def update(self, state: CountState, next_obs, key: jax.Array, lr: jax.Array):
        """Nothing to learn: counts change in :meth:`reward`."""
        return state, jnp.float32(0.0)


def _episodic_counts(state: CountState, codes: jax.Array, done: jax.Array):
    memory_len = state.memory.shape[1]

    def one_step(carry, inputs):
        memory, filled, cursor = carry
        code, ended = inputs  # (B, M), (B,)
        same = jnp.all(memory == code[:, None, :], axis=-1) & filled  # (B, L)
        count = 1 + jnp.sum(same, axis=-1, dtype=jnp.int32)
        rows = jnp.arange(memory.shape[0])
        memory = memory.at[rows, cursor].set(code)
        filled = filled.at[rows, cursor].set(True)
        cursor = (cursor + 1) % memory_len
        filled = filled & ~ended[:, None]
        cursor = jnp.where(ended, 0, cursor)
        return (memory, filled, cursor), count

    carry = (state.memory, state.filled, state.cursor)
    (memory, filled, cursor), counts = jax.lax.scan(one_step, carry, (codes, done))
    state = state.replace(memory=memory, filled=filled, cursor=cursor)
    return state, jax.lax.rsqrt(counts.astype(jnp.float32))


def _powers_mod(num_bits: int, primes: tuple[int, ...]) -> np.ndarray:
    """``(len(primes), num_bits)``: ``2**j mod p`` for each prime ``p``."""
    out = np.zeros((len(primes), num_bits), np.int64)
    for i, p in enumerate(primes):
        value = 1
        for j in range(num_bits):
            out[i, j] = value
            value = value * 2 % p
    return out


def _primes_below(limit: int, count: int) -> list[int]:
    """Up to ``count`` largest primes ``< limit``, descending."""
    found = []
    candidate = limit - 1
    while candidate >= 2 and len(found) < count:
        if all(candidate % d for d in range(2, int(candidate**0.5) + 1)):
            found.append(candidate)
        candidate -= 1
    return found
