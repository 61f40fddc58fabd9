"""Bit sequences (Malkin et al., 2022, arXiv 2201.13259, section 5.3): the
mode-discovery task of n-bit strings built k bits at a time, rewarded by the
Hamming distance to a hidden set of modes."""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.envs.gfn.base import GFNEnvironment

# The blocks modes are made of (Malkin et al., 2022); a mode is n / 8 of them
# side by side, each drawn uniformly, whatever the word size k.
BLOCKS = (
    (0, 0, 0, 0, 0, 0, 0, 0),
    (1, 1, 1, 1, 1, 1, 1, 1),
    (1, 1, 1, 1, 0, 0, 0, 0),
    (0, 0, 0, 0, 1, 1, 1, 1),
    (0, 0, 1, 1, 1, 1, 0, 0),
)
BLOCK_SIZE = 8
# 2**k word actions a step: beyond 2**12 the policy's output layer dominates.
MAX_WORD_SIZE = 12
DISTANCE_NORMS = ("none", "length")


@struct.dataclass
class BitSequenceState:
    """The words written so far, left to right, and whether the sequence is done."""

    words: jax.Array  # (n // k,) int32 in [0, 2**k); 0 past `length`
    length: jax.Array  # () int32, words written, in [0, n // k]
    is_terminal: jax.Array  # () bool: the exit action was taken


def _check_int(owner: str, name: str, value, low: int, high: float = math.inf):
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if not (is_int and low <= value <= high):
        allowed = f">= {low}" if high == math.inf else f"in [{low}, {high}]"
        raise ValueError(f"{owner}.{name} must be an int {allowed}, got {value!r}")


def _check_sizes(owner: str, n: int, k: int) -> None:
    _check_int(owner, "k", k, 1, MAX_WORD_SIZE)
    _check_int(owner, "n", n, 1)
    if n % k:
        raise ValueError(f"{owner}.n ({n}) must be a multiple of the word size "
                         f"k ({k})")  # fmt: skip


class BitSequence(GFNEnvironment):
    """Sequences of ``n`` bits written one ``k``-bit word at a time, left to right.

    The generation process is the autoregressive one: each step appends a
    word after the last, so every state has exactly one parent (a tree-shaped
    DAG, ``is_tree``) and ``P_B = 1`` on every edge; log p(x) is the sum of
    log P_F along the object's unique path. (gflownet-rl's and gfnx's bitseq
    insert words at any empty position instead: a DAG with ``P_B < 1``.)

    Observation: ``(2 n,)`` float32: the ``n`` bits (0 where not yet
        written), then ``n`` indicators of the written bits.
    Action: ``2**k + 1`` forward actions: ``w < 2**k`` appends the word whose
        binary code, most significant bit first, is ``w`` (valid while the
        sequence is shorter than ``n`` bits); ``2**k`` exits (valid only
        once all ``n`` bits are written). Backward action ``w`` removes the
        last word, valid only where that word is ``w``; backward ``2**k``
        undoes the exit.
    Reward: none here; see :class:`BitSequenceReward` (kept apart, swappable).
    Termination: the exit action, after ``n // k`` words; only full
        sequences are objects.
    Truncation: none; every trajectory takes ``n // k + 1`` steps, the exit
        included (``max_length``).
    State: :class:`BitSequenceState`.
    Static args: ``n``, ``k`` (they set every shape).
    Params: none.

    Example::

        env = BitSequence(n=8, k=4)
        s = env.step(env.initial_state(), jnp.int32(0b1111))  # bits 1111....
        s = env.step(env.step(s, jnp.int32(0)), jnp.int32(env.exit_action))
    """

    is_tree = True  # one parent a state: log p(x) is exact along one path

    def __init__(self, n: int = 120, k: int = 8):
        _check_sizes("BitSequence", n, k)
        self.n = n  # static: shapes depend on it
        self.k = k  # static
        self.num_words = n // k
        self.num_actions = 2**k + 1
        self.max_length = self.num_words + 1
        self.observation_size = 2 * n

    def __repr__(self) -> str:
        return f"BitSequence(n={self.n}, k={self.k})"

    def initial_state(self) -> BitSequenceState:
        return BitSequenceState(
            words=jnp.zeros((self.num_words,), jnp.int32),
            length=jnp.int32(0),
            is_terminal=jnp.bool_(False),
        )

    def step(self, state: BitSequenceState, action: jax.Array) -> BitSequenceState:
        # WARN: the action is not checked against forward_mask (no Python
        # branch on traced values); a word at a full sequence is dropped.
        live = ~state.is_terminal
        is_exit = action == self.exit_action
        write = live & ~is_exit & (state.length < self.num_words)
        at = jnp.arange(self.num_words) == state.length
        return BitSequenceState(
            words=jnp.where(at & write, action, state.words).astype(jnp.int32),
            length=state.length + write.astype(jnp.int32),
            is_terminal=state.is_terminal | (live & is_exit),
        )

    def backward_step(self, state: BitSequenceState, action: jax.Array):
        live = ~state.is_terminal
        erase = live & (action != self.exit_action) & (state.length > 0)
        at = jnp.arange(self.num_words) == state.length - 1
        return BitSequenceState(
            words=jnp.where(at & erase, 0, state.words).astype(jnp.int32),
            length=state.length - erase.astype(jnp.int32),
            is_terminal=state.is_terminal & (action != self.exit_action),
        )

    def forward_mask(self, state: BitSequenceState) -> jax.Array:
        full = state.length == self.num_words
        is_word = jnp.arange(self.num_actions) < self.exit_action
        return jnp.where(is_word, ~full, full) & ~state.is_terminal

    def backward_mask(self, state: BitSequenceState) -> jax.Array:
        last = state.words[jnp.maximum(state.length - 1, 0)]
        index = jnp.arange(self.num_actions)
        undo_word = (index == last) & (state.length > 0) & ~state.is_terminal
        return undo_word | ((index == self.exit_action) & state.is_terminal)

    def is_terminal(self, state: BitSequenceState) -> jax.Array:
        return state.is_terminal

    def is_initial(self, state: BitSequenceState) -> jax.Array:
        return (state.length == 0) & ~state.is_terminal

    def observe(self, state: BitSequenceState) -> jax.Array:
        is_written = jnp.repeat(jnp.arange(self.num_words) < state.length, self.k)
        bits = self.bits(state).astype(jnp.float32) * is_written
        return jnp.concatenate([bits, is_written.astype(jnp.float32)])

    def bits(self, state: BitSequenceState) -> jax.Array:
        """``(n,)`` int32 bits of the words (0 where none is written yet)."""
        shifts = jnp.arange(self.k - 1, -1, -1, dtype=jnp.int32)
        return ((state.words[:, None] >> shifts) & 1).reshape(self.n)

    def from_bits(self, bits) -> BitSequenceState:
        """The terminal state holding ``bits`` (NumPy or JAX, ``(..., n)`` of
        0/1), with the leading axes of ``bits``."""
        bits = jnp.asarray(bits, jnp.int32)
        lead = bits.shape[:-1]
        powers = 2 ** jnp.arange(self.k - 1, -1, -1, dtype=jnp.int32)
        words = jnp.sum(bits.reshape(*lead, self.num_words, self.k) * powers, -1)
        return BitSequenceState(
            words=words.astype(jnp.int32),
            length=jnp.full(lead, self.num_words, jnp.int32),
            is_terminal=jnp.ones(lead, bool),
        )


@dataclasses.dataclass(frozen=True)
class BitSequenceReward:
    """``R(x) = exp(-beta * d(x))``, ``d(x) = min_m d_H(x, m)`` over the modes.

    The ``num_modes`` modes are drawn once, with NumPy's generator seeded by
    ``mode_seed``: each is ``n / 8`` blocks of :data:`BLOCKS` side by side,
    drawn uniformly and independently; a draw equal to an earlier mode is
    drawn again, so the modes are distinct (Malkin et al. allow repeats,
    which at n = 120 happen with probability about 6e-8).

    Defaults: n = 120, k = 8 and 60 modes are Malkin et al.'s task; ``d`` in
    bits with beta = 2 and the mode threshold 30 follow gflownet-rl's
    bitseq/run.py (Malkin et al.'s own beta is not recorded in the sources
    followed here; gflownet-rl's default word size is k = 4). gfnx's TB
    configuration divides ``d`` by ``n`` and uses beta = 3
    (``distance_norm="length", beta=3.0``).

    Attributes:
        n: bits per sequence, a multiple of 8 and of ``k`` (static).
        k: bits per word (static; the environment's).
        num_modes: modes, at most ``5 ** (n / 8)`` (static).
        beta: the reward exponent (> 0).
        distance_norm: ``"none"``: ``d`` in bits; ``"length"``: ``d / n``.
        mode_seed: seeds the draw of the modes and of the test set.
        mode_threshold: a mode counts as found once a sampled object is
            within this Hamming distance of it (``<=``; gflownet-rl's 30).
    """

    n: int = 120
    k: int = 8
    num_modes: int = 60
    beta: float = 2.0
    distance_norm: str = "none"
    mode_seed: int = 0
    mode_threshold: int = 30

    def __post_init__(self):
        _check_sizes("BitSequenceReward", self.n, self.k)
        if self.n % BLOCK_SIZE:
            raise ValueError(
                f"BitSequenceReward.n must be a multiple of {BLOCK_SIZE} (modes "
                f"are 8-bit blocks), got {self.n}"
            )
        most = len(BLOCKS) ** (self.n // BLOCK_SIZE)
        _check_int("BitSequenceReward", "num_modes", self.num_modes, 1, most)
        _check_int("BitSequenceReward", "mode_seed", self.mode_seed, 0)
        _check_int("BitSequenceReward", "mode_threshold", self.mode_threshold, 0)
        beta = self.beta
        if not (isinstance(beta, int | float) and not isinstance(beta, bool)
                and math.isfinite(beta) and beta > 0):  # fmt: skip
            raise ValueError(f"BitSequenceReward.beta must be a finite float > 0, "
                             f"got {beta!r}")  # fmt: skip
        if self.distance_norm not in DISTANCE_NORMS:
            raise ValueError(
                "BitSequenceReward.distance_norm must be one of "
                f"{', '.join(DISTANCE_NORMS)}, got {self.distance_norm!r}"
            )

    @functools.cached_property
    def modes(self) -> np.ndarray:
        """``(num_modes, n)`` uint8 bits of the modes (NumPy, drawn once)."""
        rng = np.random.default_rng(self.mode_seed)
        blocks = np.asarray(BLOCKS, np.uint8)
        found: dict[bytes, np.ndarray] = {}
        while len(found) < self.num_modes:
            mode = blocks[rng.integers(len(BLOCKS), size=self.n // BLOCK_SIZE)]
            found.setdefault(mode.tobytes(), mode.reshape(self.n))
        return np.stack(list(found.values()))

    @functools.cached_property
    def test_bits(self) -> np.ndarray:
        """``(num_modes * n, n)`` uint8: each mode, then for ``c = 1 .. n-1``
        a copy with ``c`` distinct bits flipped at random (the test set of
        Malkin et al. for the correlation of log p and log R)."""
        rng = np.random.default_rng([self.mode_seed, 1])
        rows = []
        for mode in self.modes:
            rows.append(mode)
            for count in range(1, self.n):
                flip = np.zeros(self.n, np.uint8)
                flip[rng.choice(self.n, size=count, replace=False)] = 1
                rows.append(mode ^ flip)
        return np.stack(rows)

    def test_objects(self) -> BitSequenceState:
        """The test set as terminal states, leaves ``(num_modes * n, ...)``
        (NumPy arrays: constants, also inside a trace)."""
        bits = self.test_bits.reshape(-1, self.n // self.k, self.k).astype(np.int32)
        powers = 2 ** np.arange(self.k - 1, -1, -1, dtype=np.int32)
        count = bits.shape[0]
        return BitSequenceState(
            words=(bits * powers).sum(-1, dtype=np.int32),
            length=np.full((count,), self.n // self.k, np.int32),
            is_terminal=np.ones((count,), bool),
        )

    def mode_distances(self, state: BitSequenceState) -> jax.Array:
        """``(num_modes,)`` int32 Hamming distance of the state's bits to
        each mode (unwritten bits count as 0)."""
        bits = BitSequence(self.n, self.k).bits(state)
        modes = jnp.asarray(self.modes, jnp.int32)
        return jnp.sum(bits[None, :] != modes, axis=-1, dtype=jnp.int32)

    def distance(self, state: BitSequenceState) -> jax.Array:
        """() int32: the Hamming distance to the nearest mode."""
        return jnp.min(self.mode_distances(state))

    def log_reward(self, state: BitSequenceState) -> jax.Array:
        """() float32: ``-beta * d`` (``d / n`` with ``distance_norm="length"``)."""
        d = self.distance(state).astype(jnp.float32)
        if self.distance_norm == "length":
            d = d / self.n
        return -jnp.float32(self.beta) * d

    def is_mode(self, state: BitSequenceState) -> jax.Array:
        """() bool: the state is within ``mode_threshold`` of a mode."""
        return self.distance(state) <= self.mode_threshold
