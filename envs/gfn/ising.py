"""The Ising model as a GFlowNet environment (Zhang et al., 2022, EB-GFN,
arXiv 2202.01361): spins set one at a time on an ``L x L`` periodic lattice.

Energy (the reward is kept apart, in :class:`IsingReward`):
``E(x) = -x^T J x - h * sum_i x_i`` with ``J = sigma * A``, ``A`` the 0/1
adjacency matrix of the periodic square lattice, and ``log R(x) = -E(x)``.
``x^T J x`` counts every bond twice (``A`` is symmetric), as in EB-GFN's
``J = sigma A``.
"""

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.envs.gfn.base import GFNEnvironment
from jaxrl.envs.gfn.hypergrid import MAX_ENUMERABLE_STATES

# is_mode finds the largest log R by listing all 2**(L*L) configurations;
# beyond this many sites that list is refused.
MAX_MODE_SEARCH_SITES = 20


def _check_size(owner: str, size) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 2:
        raise ValueError(f"{owner}.size must be an int >= 2 (the lattice side), "
                         f"got {size!r}")  # fmt: skip


@struct.dataclass
class IsingState:
    """A partial spin assignment, and whether the trajectory has stopped."""

    spins: jax.Array  # (L*L,) int8: -1 or +1 when set, 0 when unset; row-major
    is_terminal: jax.Array  # () bool: the exit action was taken


class Ising(GFNEnvironment):
    """Spin assignments on an ``size x size`` lattice as a GFlowNet DAG.

    States are partial assignments in ``{-1, 0, +1}^(L*L)`` (0: unset),
    ``s0`` has every spin unset, and the objects are the complete
    configurations ``x in {-1, +1}^(L*L)``; site ``i`` is row ``i // L``,
    column ``i % L``.

    Observation: ``(3 * L*L,)`` float32, the one-hot code of each site's
        value (-1, unset, +1), concatenated.
    Action: ``2 * L*L + 1`` forward actions: ``i < L*L`` sets site ``i`` to
        -1, ``L*L + i`` sets it to +1 (both valid while site ``i`` is unset);
        ``2 * L*L`` exits (valid once every spin is set, and only then).
        Backward action ``a`` unsets the site that forward ``a`` set (valid
        where that site holds that value); backward ``2 * L*L`` undoes the
        exit. Each set spin thus has exactly one backward action.
    Reward: none here; see :class:`IsingReward` (kept apart, swappable).
    Termination: the exit action, from a complete configuration.
    Truncation: none; every trajectory has ``L*L + 1`` steps, the exit
        included (``max_length``).
    State: :class:`IsingState`.
    Static args: ``size`` (it sets every shape).
    Params: none.

    Enumerable while ``3 ** (L*L)`` states fit in ``MAX_ENUMERABLE_STATES``
    (``L = 2``: 81 states, ``L = 3``: 19,683; ``L = 4`` is not); a state's
    level is its number of set spins.

    Example::

        env = Ising(size=3)
        s = env.step(env.initial_state(), jnp.int32(9 + 4))  # centre to +1
        env.backward_mask(s)[9 + 4]  # True: the one way back
    """

    def __init__(self, size: int = 3):
        _check_size("Ising", size)
        self.size = size  # static: shapes depend on it
        self.num_sites = size * size
        self.num_actions = 2 * self.num_sites + 1
        self.max_length = self.num_sites + 1
        self.observation_size = 3 * self.num_sites
        self.num_levels = self.num_sites + 1
        self.num_states = 3**self.num_sites
        self.is_enumerable = self.num_states <= MAX_ENUMERABLE_STATES

    def __repr__(self) -> str:
        return f"Ising(size={self.size})"

    def initial_state(self) -> IsingState:
        return IsingState(
            spins=jnp.zeros((self.num_sites,), jnp.int8), is_terminal=jnp.bool_(False)
        )

    def _site_move(self, state: IsingState, action: jax.Array) -> jax.Array:
        """``(L*L,)`` bool: the site that ``action`` sets (or unsets), if any."""
        sets = (action < 2 * self.num_sites) & ~state.is_terminal
        return (jnp.arange(self.num_sites) == action % self.num_sites) & sets

    def step(self, state: IsingState, action: jax.Array) -> IsingState:
        # WARN: the action is not checked against forward_mask (no Python
        # branch on traced values); setting a set spin overwrites it.
        value = jnp.where(action < self.num_sites, -1, 1).astype(jnp.int8)
        live = ~state.is_terminal
        return IsingState(
            spins=jnp.where(self._site_move(state, action), value, state.spins),
            is_terminal=state.is_terminal | (live & (action == self.exit_action)),
        )

    def backward_step(self, state: IsingState, action: jax.Array) -> IsingState:
        unset = jnp.zeros_like(state.spins)
        return IsingState(
            spins=jnp.where(self._site_move(state, action), unset, state.spins),
            is_terminal=state.is_terminal & (action != self.exit_action),
        )

    def forward_mask(self, state: IsingState) -> jax.Array:
        unset = state.spins == 0
        is_complete = ~jnp.any(unset)
        mask = jnp.concatenate([unset, unset, is_complete[None]])
        return mask & ~state.is_terminal

    def backward_mask(self, state: IsingState) -> jax.Array:
        live = ~state.is_terminal
        return jnp.concatenate(
            [(state.spins == -1) & live, (state.spins == 1) & live,
             state.is_terminal[None]]
        )  # fmt: skip

    def is_terminal(self, state: IsingState) -> jax.Array:
        return state.is_terminal

    def is_initial(self, state: IsingState) -> jax.Array:
        return jnp.all(state.spins == 0) & ~state.is_terminal

    def observe(self, state: IsingState) -> jax.Array:
        value = state.spins.astype(jnp.int32) + 1  # 0, 1, 2: -1, unset, +1
        one_hot = jax.nn.one_hot(value, 3, dtype=jnp.float32)
        return one_hot.reshape(self.observation_size)

    def all_states(self) -> IsingState:
        index = jnp.arange(self.num_states, dtype=jnp.int32)
        digits = jnp.stack(
            [(index // stride) % 3 for stride in self._strides], axis=-1
        )  # (N, L*L) in {0, 1, 2}: value + 1
        return IsingState(
            spins=(digits - 1).astype(jnp.int8),
            is_terminal=jnp.zeros((self.num_states,), bool),
        )

    def state_index(self, state: IsingState) -> jax.Array:
        strides = jnp.asarray(self._strides, jnp.int32)
        return jnp.sum((state.spins.astype(jnp.int32) + 1) * strides).astype(jnp.int32)

    def level(self, state: IsingState) -> jax.Array:
        return jnp.sum(state.spins != 0, dtype=jnp.int32)

    @property
    def _strides(self) -> tuple[int, ...]:
        """Base-3 strides: site 0 varies slowest."""
        n = self.num_sites
        return tuple(3 ** (n - 1 - i) for i in range(n))


def lattice_adjacency(size: int) -> np.ndarray:
    """``(L*L, L*L)`` float64 0/1 adjacency of the ``size x size`` periodic
    square lattice (site ``i`` is row ``i // L``, column ``i % L``).

    Entries are 0 or 1: on a lattice of side 2 a site's left and right
    neighbours are the same site, and that pair is one bond, not two (so
    each site has 2 neighbours there, 4 from side 3 on).
    """
    _check_size("lattice_adjacency", size)
    n = size * size
    adjacency = np.zeros((n, n))
    for row in range(size):
        for col in range(size):
            site = row * size + col
            for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                other = ((row + dr) % size) * size + (col + dc) % size
                adjacency[site, other] = 1.0
    return adjacency


@dataclasses.dataclass(frozen=True)
class IsingReward:
    """The Ising reward ``log R(x) = -E(x) = x^T J x + h * sum_i x_i`` with
    ``J = sigma * A`` (``A``: :func:`lattice_adjacency`).

    Settings found for EB-GFN's Ising task (gfnx's reproduction,
    baselines/configs/tb_ising.yaml): a lattice of side 10 with sigma = 0.1
    (and inverse temperature 1). The paper's own list of sigma values was
    not found. jaxrl's choices: ``sigma = 0.1`` by default, a lattice of
    side 3 in the registry (side 10 has ``3**100`` states and cannot be
    enumerated), and the external field ``h`` (default 0; EB-GFN's setting
    as found, and torchgfn's Ising example, have none).

    On a partial assignment unset spins count as 0, so ``log_reward`` is the
    set spins' share; the objects (complete configurations) are the only
    states that may exit, and the objectives use log R there only.

    ``is_mode`` marks the configurations of largest reward (for sigma > 0
    and h = 0: all spins up, all spins down). It finds that largest value by
    listing all ``2**(L*L)`` configurations once, so it is refused beyond
    ``MAX_MODE_SEARCH_SITES`` sites.

    Attributes:
        size: the lattice side ``L`` (static).
        sigma: coupling strength; > 0 ferromagnetic, < 0 antiferromagnetic.
        field: external field ``h`` on every site.
    """

    size: int = 3
    sigma: float = 0.1
    field: float = 0.0

    def __post_init__(self):
        _check_size("IsingReward", self.size)
        for name in ("sigma", "field"):
            value = getattr(self, name)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not (ok and math.isfinite(value)):
                raise ValueError(
                    f"IsingReward.{name} must be a finite float, got {value!r}"
                )

    @property
    def coupling(self) -> np.ndarray:
        """``(L*L, L*L)`` float64: ``J = sigma * A``."""
        return self.sigma * lattice_adjacency(self.size)

    def log_reward(self, state: IsingState) -> jax.Array:
        """() float32: ``x^T J x + h sum_i x_i`` (unset spins count as 0)."""
        x = state.spins.astype(jnp.float32)
        coupling = jnp.asarray(self.coupling, jnp.float32)
        return x @ coupling @ x + jnp.float32(self.field) * jnp.sum(x)

    def energy(self, state: IsingState) -> jax.Array:
        """() float32: ``E(x) = -log R(x)``."""
        return -self.log_reward(state)

    def is_mode(self, state: IsingState) -> jax.Array:
        """() bool: a complete configuration of the largest log R."""
        best = self._max_log_reward
        is_complete = jnp.all(state.spins != 0)
        tolerance = 1e-4 * max(1.0, abs(best))
        return is_complete & (self.log_reward(state) >= best - tolerance)

    @functools.cached_property
    def _max_log_reward(self) -> float:
        n = self.size * self.size
        if n > MAX_MODE_SEARCH_SITES:
            raise ValueError(
                f"IsingReward.is_mode lists all 2**{n} configurations; it allows "
                f"at most {MAX_MODE_SEARCH_SITES} sites (size <= 4), got size "
                f"{self.size}"
            )
        bits = (np.arange(2**n)[:, None] >> np.arange(n)[None, :]) & 1
        x = 2.0 * bits - 1.0  # every configuration, (2**n, n)
        log_r = np.einsum("bi,ij,bj->b", x, self.coupling, x) + self.field * x.sum(1)
        return float(log_r.max())
