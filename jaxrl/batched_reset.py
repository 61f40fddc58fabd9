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
  (drawn in advance), and each step draws only ``num_resets = K`` new levels
  into a stock of ``stock_size`` unused ones. Environments whose episode ended
  take their replacement next level from the stock, in batch order (a
  cumulative sum over ``done``). Every level is an independent draw from the
  environment's own reset, and which environment gets which level never
  depends on the level, so each environment sees exactly the distribution of
  independent resets.

  When more episodes end in one step than the stock holds, the overflowing
  environments share next levels with others that ended in the same step:
  two environments then play the same level (from their own policy's
  actions). Each such reset is counted in ``state.shared_resets``, next to
  ``state.resets``; the default stock (``B`` levels, refilled ``K = B/16``
  per step) absorbs a whole batch truncating at once, and overflows only
  when episodes end faster than ``K`` per step on average.

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

RESET_MODES = ("auto", "exact", "optimistic")
MIN_OPTIMISTIC_BATCH = 64  # "auto" picks the optimistic reset from this batch up

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
        keys = jax.random.split(key, self.num_envs)
        if not supports_injected_reset(self.env):
            return jax.vmap(self.env.reset, in_axes=(0, None))(keys, params)
        first = innermost(self.env).initial_states(
            jax.random.fold_in(key, 2), self.num_envs, params
        )
        return jax.vmap(self._reset_one, in_axes=(0, 0, None))(keys, first, params)

    def _reset_one(self, key, first, params):
        return _with_injected(first, self.env, "reset", key, params)

    def step(self, key, state, action, params):
        keys = jax.random.split(key, self.num_envs)
        return jax.vmap(self.env.step, in_axes=(0, 0, 0, None))(
            keys, state, action, params
        )


class OptimisticState(NamedTuple):
    """The batch's state under :class:`OptimisticReset`.

    Attributes:
        env_state: the (wrapped) environments' states, leaves ``(B, ...)``.
        next_start: the innermost state each environment starts its next
            episode from, leaves ``(B, ...)``.
        stock: fresh innermost states not yet handed out, leaves ``(S, ...)``;
            the first ``stock_count`` are unused.
        stock_count: () int32.
        resets: () int32, episodes started since ``reset`` (not counting the
            first ``B``).
        shared_resets: () int32, of those, how many start from a level that
            another environment also starts from (stock overflow).
    """

    env_state: Any
    next_start: Any
    stock: Any
    stock_count: jax.Array
    resets: jax.Array
    shared_resets: jax.Array


@dataclasses.dataclass(frozen=True)
class OptimisticReset:
    """``num_envs`` copies of ``env`` drawing ``num_resets`` levels per step.

    Attributes:
        env: a gymnax environment (possibly wrapped) whose innermost
            environment takes injected resets (:func:`supports_injected_reset`).
        num_envs: ``B``.
        num_resets: ``K``, levels drawn per step; ``None``: ``max(1, B // 16)``.
        stock_size: ``S``, unused levels kept; ``None``: ``B``.
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
        return self.stock_size or self.num_envs

    def _draw(self, key: jax.Array, count: int, params) -> Any:
        return innermost(self.env).initial_states(key, count, params)

    def reset(self, key: jax.Array, params) -> tuple[Any, OptimisticState]:
        obs, env_state = ExactReset(self.env, self.num_envs).reset(key, params)
        key_next, key_stock = jax.random.split(jax.random.fold_in(key, 1))
        state = OptimisticState(
            env_state=env_state,
            next_start=self._draw(key_next, self.num_envs, params),
            stock=self._draw(key_stock, self.stock_capacity, params),
            stock_count=jnp.int32(self.stock_capacity),
            resets=jnp.int32(0),
            shared_resets=jnp.int32(0),
        )
        return obs, state

    def step(self, key, state: OptimisticState, action, params):
        keys = jax.random.split(key, self.num_envs)
        out = jax.vmap(self._step_one, in_axes=(0, 0, 0, 0, None))(
            keys, state.env_state, action, state.next_start, params
        )
        obs, env_state, reward, terminated, truncated, info = out
        fresh = self._draw(jax.random.fold_in(key, 1), self.resets_per_step, params)
        state = _restock(state._replace(env_state=env_state), fresh)
        state = _hand_out(state, terminated | truncated)
        return obs, state, reward, terminated, truncated, info

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


def _restock(state: OptimisticState, fresh: Any) -> OptimisticState:
    """Append ``fresh`` (leaves ``(K, ...)``) after the unused stock; what
    does not fit is dropped."""
    capacity = jax.tree.leaves(state.stock)[0].shape[0]
    num_fresh = jax.tree.leaves(fresh)[0].shape[0]
    slots = state.stock_count + jnp.arange(num_fresh, dtype=jnp.int32)
    stock = jax.tree.map(
        lambda s, f: s.at[slots].set(f, mode="drop"), state.stock, fresh
    )
    count = jnp.minimum(state.stock_count + num_fresh, capacity)
    return state._replace(stock=stock, stock_count=count)


def _hand_out(state: OptimisticState, done: jax.Array) -> OptimisticState:
    """Give each environment whose episode ended (``done``, ``(B,)`` bool) a
    new next level: the ``r``-th of them takes the ``r``-th unused level from
    the top of the stock; past the stock's count, levels repeat (shared)."""
    rank = jnp.cumsum(done, dtype=jnp.int32) - 1
    count = state.stock_count
    slot = jnp.mod(count - 1 - rank, jnp.maximum(count, 1))

    def take(next_start, stock):
        chosen = stock[slot]
        mask = done.reshape(done.shape + (1,) * (chosen.ndim - 1))
        return jnp.where(mask, chosen, next_start)

    next_start = jax.tree.map(take, state.next_start, state.stock)
    num_done = jnp.sum(done, dtype=jnp.int32)
    return state._replace(
        next_start=next_start,
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
