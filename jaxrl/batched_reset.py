"""Stepping a batch of environments with auto-reset: exact or optimistic.

Under ``vmap`` a conditional reset becomes a select, so gymnax's same-step
auto-reset generates a fresh level for every environment at every step, used
or not. For tasks whose level generation costs much more than a step, that
reset is most of the work. Two batched steppers share one interface,
``reset(key, params) -> (obs, state)`` and
``step(key, state, action, params) -> (obs, state, reward, terminated,
truncated, info)`` on leaves ``(B, ...)``:

- :class:`ExactReset`: ``vmap(env.step)``, each environment drawing its own
  fresh level every step (gymnax's behaviour, any environment).
- :class:`OptimisticReset`: each environment holds the level it starts next
  (drawn in advance) and a stock of ``stock_size`` levels is kept, a ring;
  each step in which the stock has room for ``num_resets = K`` more draws
  that many new levels (a full stock draws nothing, so the levels drawn
  follow the episodes that end, not the step count). Environments whose
  episode ended take their replacement next level from the stock, in batch
  order (a cumulative sum over ``done``); the level is moved at the
  beginning of the next step, before it can be needed. Every level is an
  independent draw from the environment's own reset, and which environment
  gets which level never depends on the level, so each environment sees
  exactly the distribution of independent resets.

  When more episodes end in one step than the stock holds, the overflowing
  environments share next levels with others that ended in the same step:
  two environments then play the same level (from their own policy's
  actions). Each such reset is counted in ``state.shared_resets``, next to
  ``state.resets``; the default stock (``B + 2K`` levels, refilled ``K =
  B/16`` at a time) absorbs a whole batch truncating at once, and overflows
  only when episodes end faster than ``K`` per step on average.

Under ``vmap`` over runs (seeds, hyperparameters) the stock's "has room"
test is per run, so ``lax.cond`` would become a select and the draw would
run every step. Where that ``vmap`` names its axis :data:`RUNS_AXIS` (the
engine's does), the draw runs when any run's stock has room (``lax.pmax``
over the axis, which leaves the predicate unbatched, so it stays a branch);
runs whose stock is full drop what was drawn, so every run's levels are
those it would draw alone.

The optimistic stepper needs an innermost environment that takes its reset
state from :func:`injected_reset` and draws fresh states in bulk with
``initial_states(key, count, params)`` (the gridworlds do both), and wrappers
that pass ``step`` through to it once; a wrapper chain that never consumes
the injected state is refused when tracing.
"""

import contextlib
import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

# jax.random's split and fold_in, the same keys, without XLA:CPU's hash loop
from jaxrl import threefry

RESET_MODES = ("auto", "exact", "optimistic")
MIN_OPTIMISTIC_BATCH = 64  # "auto" picks the optimistic reset from this batch up
# Name of the vmap axis over runs; the engine's chunk function uses it.
RUNS_AXIS = "jaxrl_runs"

_injected: list["_Injection"] = []


@dataclasses.dataclass
class _Injection:
    state: Any
    consumed: bool = False


@contextlib.contextmanager
def injected_reset(state: Any):
    """Within the block, :func:`take_injected_reset` returns ``state``.

    Used while tracing one environment's ``step``: the innermost environment
    starts its next episode from ``state`` instead of drawing a level. The
    yielded object's ``consumed`` says whether it did.
    """
    injection = _Injection(state)
    _injected.append(injection)
    try:
        yield injection
    finally:
        _injected.pop()


def take_injected_reset() -> Any | None:
    """The state injected by the innermost open :func:`injected_reset`, or None.

    An environment's ``step`` calls this where it would draw the state of its
    next episode; a returned state replaces that draw.
    """
    if not _injected:
        return None
    injection = _injected[-1]
    injection.consumed = True
    return injection.state


def innermost(env):
    """The environment under all of ``env``'s wrappers."""
    return getattr(env, "unwrapped", env)


def injection_pending() -> bool:
    """Whether an :func:`injected_reset` block is open (and not yet taken)."""
    return bool(_injected) and not _injected[-1].consumed


def supports_injected_reset(env) -> bool:
    """Whether ``env`` (through its wrappers) can take an injected reset."""
    return bool(getattr(type(innermost(env)), "takes_injected_reset", False))


@dataclasses.dataclass(frozen=True)
class ExactReset:
    """``num_envs`` copies of ``env`` under ``vmap``, gymnax's own reset.

    ``step`` splits ``key`` into one key per environment, so a rollout driven
    through it draws the same numbers as ``vmap(env.step)`` on those keys.
    """

    env: Any
    num_envs: int

    def reset(self, key: jax.Array, params) -> tuple[Any, Any]:
        """Fresh episodes: an environment that takes injected resets gets
        its first levels drawn in bulk (``initial_states``), as the optimistic
        reset does, so both modes start from the same states."""
        keys = threefry.split(key, self.num_envs)
        if not supports_injected_reset(self.env):
            return jax.vmap(self.env.reset, in_axes=(0, None))(keys, params)
        first = innermost(self.env).initial_states(
            threefry.fold_in(key, 2), self.num_envs, params
        )
        return jax.vmap(self._reset_one, in_axes=(0, 0, None))(keys, first, params)

    def _reset_one(self, key, first, params):
        return _with_injected(first, self.env, "reset", key, params)

    def step(self, key, state, action, params):
        keys = threefry.split(key, self.num_envs)
        return jax.vmap(self.env.step, in_axes=(0, 0, 0, None))(
            keys, state, action, params
        )


class OptimisticState(NamedTuple):
    """The batch's state under :class:`OptimisticReset`.

    Attributes:
        env_state: the (wrapped) environments' states, leaves ``(B, ...)``.
        next_start: the innermost state each environment starts its next
            episode from, leaves ``(B, ...)``, except where ``pending`` names
            a stock row (see :func:`next_levels`).
        stock: a ring of ``S`` innermost states, leaves ``(S, ...)``: rows
            ``stock_head`` to ``stock_head + stock_count - 1`` (mod ``S``)
            are fresh and unused.
        stock_head: () int32.
        stock_count: () int32.
        pending: ``(B,)`` int32, the stock row whose level becomes the
            environment's next start at the beginning of the next step (its
            episode ended in the last step), or ``S`` for none.
        in_flight: () int32, how many rows just before ``stock_head`` are
            named by ``pending`` (not to be overwritten before they are read).
        resets: () int32, episodes started since ``reset`` (not counting the
            first ``B``).
        shared_resets: () int32, of those, how many start from a level that
            another environment also starts from (stock overflow).
    """

    env_state: Any
    next_start: Any
    stock: Any
    stock_head: jax.Array
    stock_count: jax.Array
    pending: jax.Array
    in_flight: jax.Array
    resets: jax.Array
    shared_resets: jax.Array


def next_levels(state: OptimisticState) -> Any:
    """The level each environment starts its next episode from, leaves
    ``(B, ...)``: ``next_start`` with the pending stock rows taken."""
    return _take_pending(state).next_start


def _take_pending(state: OptimisticState) -> OptimisticState:
    """Move the pending stock rows into ``next_start``.

    Done at the beginning of a step, before the environments read
    ``next_start``: written first and read after, the buffer is updated in
    place, where a hand-out after the step (read first, then written) makes
    XLA copy the whole batch's next levels every step.
    """
    capacity = jax.tree.leaves(state.stock)[0].shape[0]
    take = state.pending < capacity
    rows = jnp.minimum(state.pending, capacity - 1)

    def put(next_start, stock):
        mask = take.reshape(take.shape + (1,) * (next_start.ndim - 1))
        return jnp.where(mask, stock[rows], next_start)

    next_start = jax.tree.map(put, state.next_start, state.stock)
    return state._replace(
        next_start=next_start,
        pending=jnp.full_like(state.pending, capacity),
        in_flight=jnp.int32(0),
    )


@dataclasses.dataclass(frozen=True)
class OptimisticReset:
    """``num_envs`` copies of ``env`` drawing ``num_resets`` levels at a time.

    Attributes:
        env: a gymnax environment (possibly wrapped) whose innermost
            environment takes injected resets (:func:`supports_injected_reset`).
        num_envs: ``B``.
        num_resets: ``K``, levels drawn per step; ``None``: ``max(1, B // 16)``.
        stock_size: ``S``, levels kept (unused, or handed out and not yet
            moved); ``None``: ``B + 2K`` (a stock that skips a draw for want
            of room still holds ``B`` unused levels while at most ``K`` are
            in flight).
    """

    env: Any
    num_envs: int
    num_resets: int | None = None
    stock_size: int | None = None

    def __post_init__(self):
        if not supports_injected_reset(self.env):
            inner = innermost(self.env)
            raise ValueError(
                f"the optimistic reset needs an environment that takes injected "
                f"resets (the gridworlds); {type(inner).__name__} does not: use "
                f"the exact reset"
            )
        for name in ("num_envs", "num_resets", "stock_size"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.resets_per_step > self.stock_capacity:
            raise ValueError(
                f"num_resets ({self.resets_per_step}) must be <= stock_size "
                f"({self.stock_capacity})"
            )

    @property
    def resets_per_step(self) -> int:
        return self.num_resets or max(1, self.num_envs // 16)

    @property
    def stock_capacity(self) -> int:
        return self.stock_size or self.num_envs + 2 * self.resets_per_step

    def _draw(self, key: jax.Array, count: int, params) -> Any:
        return innermost(self.env).initial_states(key, count, params)

    def reset(self, key: jax.Array, params) -> tuple[Any, OptimisticState]:
        obs, env_state = ExactReset(self.env, self.num_envs).reset(key, params)
        key_next, key_stock = threefry.split(threefry.fold_in(key, 1))
        capacity = self.stock_capacity
        state = OptimisticState(
            env_state=env_state,
            next_start=self._draw(key_next, self.num_envs, params),
            stock=self._draw(key_stock, capacity, params),
            stock_head=jnp.int32(0),
            stock_count=jnp.int32(capacity),
            pending=jnp.full((self.num_envs,), capacity, jnp.int32),
            in_flight=jnp.int32(0),
            resets=jnp.int32(0),
            shared_resets=jnp.int32(0),
        )
        return obs, state

    def step(self, key, state: OptimisticState, action, params):
        state = self._restock(state, key, params)
        state = _take_pending(state)
        keys = threefry.split(key, self.num_envs)
        out = jax.vmap(self._step_one, in_axes=(0, 0, 0, 0, None))(
            keys, state.env_state, action, state.next_start, params
        )
        obs, env_state, reward, terminated, truncated, info = out
        state = _hand_out(state._replace(env_state=env_state), terminated | truncated)
        return obs, state, reward, terminated, truncated, info

    def _restock(self, state: OptimisticState, key, params) -> OptimisticState:
        """Draw ``K`` levels into the stock if it has room for all of them
        (rows neither unused nor pending).

        A full stock would drop what is drawn, so nothing is drawn then: the
        levels drawn per step follow the episodes that end (about ``B`` over
        the episode length), not ``K``. Outside ``vmap`` the ``cond`` skips
        the draw; under a ``vmap`` whose axis is :data:`RUNS_AXIS` it skips
        when no run has room; under any other ``vmap`` both branches run,
        which costs what drawing every step does.
        """
        num_fresh, capacity = self.resets_per_step, self.stock_capacity
        room = state.stock_count + state.in_flight + num_fresh <= capacity
        any_room = jax.lax.pmax(room, RUNS_AXIS) if _runs_axis_bound() else room

        def draw(key):
            return self._draw(threefry.fold_in(key, 1), num_fresh, params)

        shapes = jax.eval_shape(draw, key)

        def skip(key):
            return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

        fresh = jax.lax.cond(any_room, draw, skip, key)
        tail = state.stock_head + state.stock_count
        slots = jnp.mod(tail + jnp.arange(num_fresh, dtype=jnp.int32), capacity)
        slots = jnp.where(room, slots, capacity)  # out of range: dropped
        stock = jax.tree.map(
            lambda s, f: s.at[slots].set(f, mode="drop"), state.stock, fresh
        )
        count = state.stock_count + jnp.where(room, num_fresh, 0)
        return state._replace(stock=stock, stock_count=count)

    def _step_one(self, key, env_state, action, next_start, params):
        return _with_injected(next_start, self.env, "step", key, env_state, action,
                              params)  # fmt: skip


def _with_injected(state: Any, env, method: str, *args):
    """``env.<method>(*args)`` with ``state`` injected; refused (when
    tracing) if no environment under the wrappers took it."""
    with injected_reset(state) as injection:
        out = getattr(env, method)(*args)
    if not injection.consumed:
        raise ValueError(
            f"{type(env).__name__}.{method} never took the injected reset state: "
            f"some wrapper does not pass {method} through to the environment; "
            f"use the exact reset"
        )
    return out


def _hand_out(state: OptimisticState, done: jax.Array) -> OptimisticState:
    """Give each environment whose episode ended (``done``, ``(B,)`` bool) a
    new next level: the ``r``-th of them takes the ``r``-th unused level of
    the stock; past the stock's count, levels repeat (shared). Only the rows
    are noted here (``pending``); :func:`_take_pending` moves the levels."""
    capacity = jax.tree.leaves(state.stock)[0].shape[0]
    rank = jnp.cumsum(done, dtype=jnp.int32) - 1
    count, head = state.stock_count, state.stock_head
    row = jnp.mod(head + jnp.mod(rank, jnp.maximum(count, 1)), capacity)
    num_done = jnp.sum(done, dtype=jnp.int32)
    # Rows named: the first num_done unused ones, or the row at the head
    # (handed out before: shared) when the stock is empty.
    taken = jnp.minimum(num_done, jnp.maximum(count, 1))
    return state._replace(
        pending=jnp.where(done, row, capacity),
        in_flight=taken,
        stock_head=jnp.mod(head + taken, capacity),
        stock_count=jnp.maximum(count - num_done, 0),
        resets=state.resets + num_done,
        shared_resets=state.shared_resets + jnp.maximum(num_done - count, 0),
    )


def batched(
    env,
    num_envs: int,
    reset: str = "auto",
    num_resets: int | None = None,
    stock_size: int | None = None,
) -> ExactReset | OptimisticReset:
    """The batched stepper for ``reset``: ``"exact"``, ``"optimistic"``, or
    ``"auto"`` (optimistic for environments that take injected resets at
    ``num_envs >= 64``, exact otherwise)."""
    if reset not in RESET_MODES:
        raise ValueError(f"reset must be one of {RESET_MODES}, got {reset!r}")
    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
    if reset == "auto":
        large = num_envs >= MIN_OPTIMISTIC_BATCH
        reset = "optimistic" if large and supports_injected_reset(env) else "exact"
    if reset == "exact":
        return ExactReset(env, num_envs)
    return OptimisticReset(env, num_envs, num_resets, stock_size)


def _runs_axis_bound() -> bool:
    """Whether the code being traced sits inside a ``vmap`` (or other
    mapping) whose axis is :data:`RUNS_AXIS`."""
    try:
        jax.lax.axis_index(RUNS_AXIS)
    except NameError:
        return False
    return True
