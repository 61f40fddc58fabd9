"""Multi-objective HyperGrid (Chen & Mauch, 2024, Order-Preserving GFlowNets,
arXiv 2310.00386, section on multi-objective HyperGrid): a 2-D grid whose
cells score on several of the Branin, Currin, Shubert and Beale functions.

The functions and their normalising constants are the OP-GFN code's
(``multi/grid_cond_gfn.py``): each is divided by about its maximum over the
domain, so the objectives are of order 1, and all are maximised. A cell
``s in {0..H-1}^2`` maps to ``x = 2 s / (H - 1) - 1 in [-1, 1]^2``, and each
function maps ``x`` to its own domain:

- Branin: ``u = 15 (x_0/2 + 1/2) - 5``, ``v = 15 (x_1/2 + 1/2)``;
  ``1 - ((v - 5.1 u^2/(4 pi^2) + 5 u/pi - 6)^2 + 10 (1 - 1/(8 pi)) cos u
  + 10) / 308.13``.
- Currin: ``u = x_0/2 + 1/2``, ``v = x_1/2 + 1/2``; ``(1 - exp(-1/(2 v)))
  (2300 u^3 + 1900 u^2 + 2092 u + 60) / (100 u^3 + 500 u^2 + 4 u + 20)
  / 13.77`` (the first factor is 1 at ``v = 0``, its limit).
- Shubert: ``y_i = -1.5 x_i``; ``(prod_i sum_{k=1..5} k cos((k+1) y_i + k)
  + 186.8) / 397``.
- Beale (on ``x`` itself): ``((1.5 - x_0 + x_0 x_1)^2 + (2.25 - x_0 +
  x_0 x_1^2)^2 + (2.625 - x_0 + x_0 x_1^3)^2) / 38.8``.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp

from jaxrl.envs.gfn.hypergrid import HyperGrid, HyperGridState


def branin(x: jax.Array) -> jax.Array:
    """Normalised Branin of ``x (..., 2)`` in ``[-1, 1]^2`` (maximised)."""
    u = 15.0 * (x[..., 0] / 2 + 0.5) - 5.0
    v = 15.0 * (x[..., 1] / 2 + 0.5)
    t1 = v - 5.1 / (4 * math.pi**2) * u**2 + 5.0 / math.pi * u - 6.0
    t2 = 10.0 * (1 - 1 / (8 * math.pi)) * jnp.cos(u)
    return 1.0 - (t1**2 + t2 + 10.0) / 308.13


def currin(x: jax.Array) -> jax.Array:
    """Normalised Currin of ``x (..., 2)`` in ``[-1, 1]^2``."""
    u = x[..., 0] / 2 + 0.5
    v = x[..., 1] / 2 + 0.5
    safe_v = jnp.where(v > 0, v, 1.0)
    first = jnp.where(v > 0, 1.0 - jnp.exp(-1.0 / (2.0 * safe_v)), 1.0)
    numerator = 2300 * u**3 + 1900 * u**2 + 2092 * u + 60
    denominator = 100 * u**3 + 500 * u**2 + 4 * u + 20
    return first * numerator / denominator / 13.77


def shubert(x: jax.Array) -> jax.Array:
    """Normalised 2-D Shubert of ``x (..., 2)`` in ``[-1, 1]^2``."""
    y = -1.5 * x
    k = jnp.arange(1, 6, dtype=x.dtype)
    sums = jnp.sum(k * jnp.cos((k + 1) * y[..., None] + k), axis=-1)  # (..., 2)
    return (sums[..., 0] * sums[..., 1] + 186.8) / 397.0


def beale(x: jax.Array) -> jax.Array:
    """Normalised Beale of ``x (..., 2)`` in ``[-1, 1]^2``."""
    x0, x1 = x[..., 0], x[..., 1]
    return (
        (1.5 - x0 + x0 * x1) ** 2
        + (2.25 - x0 + x0 * x1**2) ** 2
        + (2.625 - x0 + x0 * x1**3) ** 2
    ) / 38.8


OBJECTIVES = {"branin": branin, "currin": currin, "shubert": shubert, "beale": beale}


class MOHyperGrid(HyperGrid):
    """The 2-D grid of the OP-GFN multi-objective experiments: as
    :class:`HyperGrid`, except that a trajectory must stop as soon as a
    coordinate reaches ``height - 1`` (only the exit is allowed there), so a
    cell with both coordinates at ``height - 1`` is never reached.

    Observation: ``(2 * height,)`` float32, one-hot per coordinate.
    Action: 3 forward actions: add 1 to coordinate 0 or 1 (valid while both
        coordinates are below ``height - 1``), or exit.
    Reward: none here; see :class:`MOHyperGridReward`.
    Termination: the exit action (forced on the border).
    Truncation: none; at most ``2 (height - 1) + 1`` steps (a bound).
    State: :class:`~jaxrl.envs.gfn.hypergrid.HyperGridState`.
    Static args: ``height``.
    Params: none.

    Example::

        env = MOHyperGrid(height=4)
        s = env.step(env.initial_state(), jnp.int32(0))  # coords (1, 0)
        env.forward_mask(env.step(env.step(s, 0), 0))  # (3, 0): exit only
    """

    has_exit_everywhere = False  # the unreachable corner cannot exit

    def __init__(self, height: int = 32):
        super().__init__(ndim=2, height=height)

    def __repr__(self) -> str:
        return f"MOHyperGrid(height={self.height})"

    def _on_border(self, coords: jax.Array) -> jax.Array:
        """(ndim,) bool: each coordinate is at ``height - 1``."""
        return coords == self.height - 1

    def is_reachable(self, state: HyperGridState) -> jax.Array:
        """() bool: at most one coordinate is at ``height - 1``."""
        return jnp.sum(self._on_border(state.coords)) <= 1

    def forward_mask(self, state: HyperGridState) -> jax.Array:
        border = jnp.any(self._on_border(state.coords))
        grow = jnp.broadcast_to(~border, (self.ndim,))
        mask = jnp.concatenate([grow, self.is_reachable(state)[None]])
        return mask & ~state.is_terminal

    def backward_mask(self, state: HyperGridState) -> jax.Array:
        # the parent by coordinate d has no other coordinate on the border
        border = self._on_border(state.coords)
        others_free = (jnp.sum(border) - border) == 0
        shrink = (state.coords > 0) & others_free & ~state.is_terminal
        return jnp.concatenate([shrink, state.is_terminal[None]])


@dataclasses.dataclass(frozen=True)
class MOHyperGridReward:
    """Several objectives of a 2-D grid's cells (maximised); see the module's
    docstring for the functions and the cell-to-domain map.

    There is no scalar reward: ``objectives`` is what order-preserving
    training labels with. ``log_reward`` is 0 everywhere (every object is a
    valid, finite-reward object), so the scalar exact metrics (l1, kl, jsd)
    compare the learned distribution with the uniform one; the Pareto
    metrics are the ones that matter. ``is_mode`` marks the reachable cells
    on the true Pareto front.

    Attributes:
        height: the grid's ``height`` (static).
        names: the objectives, 2 or more of branin, currin, shubert, beale.
        reference_point: the hypervolume's reference point, the same in
            every objective (0, the OP-GFN code's default).
    """

    height: int = 32
    names: tuple[str, ...] = ("branin", "currin")
    reference_point: float = 0.0

    def __post_init__(self):
        if not isinstance(self.height, int) or isinstance(self.height, bool):
            raise ValueError(f"MOHyperGridReward.height must be an int, got "
                             f"{self.height!r}")  # fmt: skip
        if self.height < 2:
            raise ValueError(
                f"MOHyperGridReward.height must be >= 2, got {self.height}"
            )
        names = self.names
        if (
            not isinstance(names, tuple)
            or len(names) < 2
            or len(set(names)) != len(names)
            or not set(names) <= set(OBJECTIVES)
        ):
            raise ValueError(
                f"MOHyperGridReward.names must be a tuple of 2 or more distinct "
                f"names from {', '.join(OBJECTIVES)}; got {names!r}"
            )
        point = self.reference_point
        ok = isinstance(point, int | float) and not isinstance(point, bool)
        if not (ok and math.isfinite(point)):
            raise ValueError(f"MOHyperGridReward.reference_point must be a "
                             f"finite float, got {point!r}")  # fmt: skip

    @property
    def num_objectives(self) -> int:
        return len(self.names)

    def objectives_of_coords(self, coords: jax.Array) -> jax.Array:
        """``(..., K)`` float32 objectives of cells ``coords (..., 2)``."""
        x = 2.0 * coords.astype(jnp.float32) / (self.height - 1) - 1.0
        return jnp.stack([OBJECTIVES[name](x) for name in self.names], axis=-1)

    def objectives(self, state: HyperGridState) -> jax.Array:
        """``(K,)`` float32: the objectives of the state's cell."""
        return self.objectives_of_coords(state.coords)

    def log_reward(self, state: HyperGridState) -> jax.Array:
        """() float32: 0 (no scalar reward; see the class docstring)."""
        return jnp.zeros((), jnp.float32)

    def is_mode(self, state: HyperGridState) -> jax.Array:
        """() bool: the cell is reachable and no reachable cell dominates it."""
        cells = jnp.stack(
            jnp.meshgrid(jnp.arange(self.height), jnp.arange(self.height),
                         indexing="ij"), -1,
        ).reshape(-1, 2)  # fmt: skip
        reachable = jnp.sum(cells == self.height - 1, axis=-1) <= 1
        every = self.objectives_of_coords(cells)
        mine = self.objectives(state)
        beats = jnp.all(every >= mine, -1) & jnp.any(every > mine, -1) & reachable
        mine_reachable = jnp.sum(state.coords == self.height - 1) <= 1
        return mine_reachable & ~jnp.any(beats)
