"""HyperGrid (Bengio et al., 2021, arXiv 2106.04399) and its standard reward."""

import dataclasses
import math

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.envs.gfn.base import GFNEnvironment

# Enumeration lists every state; beyond this many, exact evaluation is refused.
MAX_ENUMERABLE_STATES = 2**22


@struct.dataclass
class HyperGridState:
    """A cell of the grid, and whether the trajectory has stopped there."""

    coords: jax.Array  # (ndim,) int32, each in [0, height - 1]
    is_terminal: jax.Array  # () bool: the exit action was taken


class HyperGrid(GFNEnvironment):
    """The ``ndim``-dimensional grid ``{0, ..., height-1}^ndim`` as a GFlowNet DAG.

    Observation: ``(ndim * height,)`` float32, the one-hot code of each
        coordinate, concatenated.
    Action: ``ndim + 1`` forward actions: ``d < ndim`` adds 1 to coordinate
        ``d`` (valid while it is below ``height - 1``); ``ndim`` exits (always
        valid). Backward action ``d`` subtracts 1 from coordinate ``d``
        (valid while it is above 0); backward ``ndim`` undoes the exit.
    Reward: none here; see :class:`HyperGridReward` (kept apart, swappable).
    Termination: the exit action; every cell can exit, so every cell is an
        object (``has_exit_everywhere``).
    Truncation: none; a trajectory has at most ``ndim * (height - 1) + 1``
        steps, the exit included (``max_length``).
    State: :class:`HyperGridState`.
    Static args: ``ndim``, ``height`` (they set every shape).
    Params: none.

    Example::

        env = HyperGrid(ndim=2, height=4)
        s = env.step(env.initial_state(), jnp.int32(0))  # coords (1, 0)
        s = env.step(s, jnp.int32(env.exit_action))  # terminal at (1, 0)
    """

    has_exit_everywhere = True

    def __init__(self, ndim: int = 4, height: int = 8):
        for name, value, low in (("ndim", ndim, 1), ("height", height, 2)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"HyperGrid {name} must be an int >= {low}, "
                                 f"got {value!r}")  # fmt: skip
        self.ndim = ndim  # static: shapes depend on it
        self.height = height  # static
        self.num_actions = ndim + 1
        self.max_length = ndim * (height - 1) + 1
        self.observation_size = ndim * height
        self.num_levels = ndim * (height - 1) + 1
        self.num_states = height**ndim
        self.is_enumerable = self.num_states <= MAX_ENUMERABLE_STATES

    def __repr__(self) -> str:
        return f"HyperGrid(ndim={self.ndim}, height={self.height})"

    def initial_state(self) -> HyperGridState:
        return HyperGridState(
            coords=jnp.zeros((self.ndim,), jnp.int32), is_terminal=jnp.bool_(False)
        )

    def step(self, state: HyperGridState, action: jax.Array) -> HyperGridState:
        # WARN: the action is not checked against forward_mask (no Python
        # branch on traced values); an invalid increment leaves the grid.
        live = ~state.is_terminal
        move = (jnp.arange(self.ndim) == action) & live
        return HyperGridState(
            coords=state.coords + move.astype(jnp.int32),
            is_terminal=state.is_terminal | (live & (action == self.exit_action)),
        )

    def backward_step(self, state: HyperGridState, action: jax.Array) -> HyperGridState:
        live = ~state.is_terminal
        move = (jnp.arange(self.ndim) == action) & live
        return HyperGridState(
            coords=state.coords - move.astype(jnp.int32),
            is_terminal=state.is_terminal & (action != self.exit_action),
        )

    def forward_mask(self, state: HyperGridState) -> jax.Array:
        grow = state.coords < self.height - 1
        mask = jnp.concatenate([grow, jnp.ones((1,), bool)])
        return mask & ~state.is_terminal

    def backward_mask(self, state: HyperGridState) -> jax.Array:
        shrink = (state.coords > 0) & ~state.is_terminal
        return jnp.concatenate([shrink, state.is_terminal[None]])

    def is_terminal(self, state: HyperGridState) -> jax.Array:
        return state.is_terminal

    def is_initial(self, state: HyperGridState) -> jax.Array:
        return jnp.all(state.coords == 0) & ~state.is_terminal

    def observe(self, state: HyperGridState) -> jax.Array:
        one_hot = jax.nn.one_hot(state.coords, self.height, dtype=jnp.float32)
        return one_hot.reshape(self.observation_size)

    def all_states(self) -> HyperGridState:
        index = jnp.arange(self.num_states, dtype=jnp.int32)
        coords = jnp.stack(
            [(index // self._strides[d]) % self.height for d in range(self.ndim)], -1
        )
        return HyperGridState(
            coords=coords, is_terminal=jnp.zeros((self.num_states,), bool)
        )

    def state_index(self, state: HyperGridState) -> jax.Array:
        strides = jnp.asarray(self._strides, jnp.int32)
        return jnp.sum(state.coords * strides).astype(jnp.int32)

    def level(self, state: HyperGridState) -> jax.Array:
        return jnp.sum(state.coords).astype(jnp.int32)

    @property
    def _strides(self) -> tuple[int, ...]:
        """Row-major strides: coordinate 0 varies slowest."""
        return tuple(self.height ** (self.ndim - 1 - d) for d in range(self.ndim))


@dataclasses.dataclass(frozen=True)
class HyperGridReward:
    """The standard HyperGrid reward (Bengio et al., 2021, arXiv 2106.04399):

    ``R(x) = R0 + R1 * prod_d 1[0.25 < |x_d/(H-1) - 0.5|]
    + R2 * prod_d 1[0.3 < |x_d/(H-1) - 0.5| < 0.4]``.

    The comparisons are done in integers (``|2 x_d - (H-1)|`` against
    multiples of ``H-1``), so cells on a threshold fall exactly as in the
    real-number definition, whatever the float rounding.

    Every cell is an object on HyperGrid, so ``log_reward`` is defined on
    every state (forward-looking DB uses it as each state's energy).
    ``is_mode`` marks the cells with the R2 bonus.

    Attributes:
        height: the grid's ``height`` (static).
        r0, r1, r2: the reward levels (static; the paper's defaults 0.1,
            0.5, 2; ``r0`` must be positive so that log R is finite).
    """

    height: int = 8
    r0: float = 0.1
    r1: float = 0.5
    r2: float = 2.0

    def __post_init__(self):
        if not isinstance(self.height, int) or isinstance(self.height, bool):
            raise ValueError(f"HyperGridReward.height must be an int, got "
                             f"{self.height!r}")  # fmt: skip
        if self.height < 2:
            raise ValueError(f"HyperGridReward.height must be >= 2, got {self.height}")
        for name in ("r0", "r1", "r2"):
            value = getattr(self, name)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not (ok and math.isfinite(value) and value >= 0):
                raise ValueError(
                    f"HyperGridReward.{name} must be a finite float >= 0, got {value!r}"
                )
        if self.r0 <= 0:
            raise ValueError(f"HyperGridReward.r0 must be > 0 (log R0 is the "
                             f"floor of log R), got {self.r0!r}")  # fmt: skip

    def _bands(self, coords: jax.Array) -> tuple[jax.Array, jax.Array]:
        span = self.height - 1
        # |x/(H-1) - 1/2| = u / (2 (H-1)) with u = |2x - (H-1)|
        u = jnp.abs(2 * coords - span)
        outer = jnp.all(2 * u > span)  # > 0.25
        ring = jnp.all((10 * u > 6 * span) & (10 * u < 8 * span))  # in (0.3, 0.4)
        return outer, ring

    def reward(self, state: HyperGridState) -> jax.Array:
        """() float32: R of the state's cell."""
        outer, ring = self._bands(state.coords)
        return jnp.float32(self.r0) + self.r1 * outer + self.r2 * ring

    def log_reward(self, state: HyperGridState) -> jax.Array:
        """() float32: log R of the state's cell."""
        return jnp.log(self.reward(state))

    def is_mode(self, state: HyperGridState) -> jax.Array:
        """() bool: the cell has the R2 bonus (a reward mode)."""
        return self._bands(state.coords)[1]
