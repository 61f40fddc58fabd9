"""Checks of what a user hands to GFlowNet training: rewards, states, actions.

Training itself never checks traced values (no host syncs in the compiled
loop); these run before compilation, on concrete arrays, and raise a
``ValueError`` naming what was wrong and what is allowed.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.algos.gflownet.trajectories import map_states


def check_log_rewards(env, reward) -> None:
    """Every object of an enumerable ``env`` has a finite ``log R``.

    A reward that is zero, negative or NaN has no finite logarithm; the
    objectives would turn it into infinite losses and NaN parameters.

    Raises:
        ValueError: naming the first such state, its ``log R`` and the rule.
    """
    states = env.all_states()
    log_r = np.asarray(jax.jit(lambda s: map_states(reward.log_reward, s, 1))(states))
    can_exit = np.asarray(
        jax.jit(lambda s: map_states(env.forward_mask, s, 1))(states)
    )[:, env.exit_action]
    bad = np.flatnonzero(can_exit & ~np.isfinite(log_r))
    if bad.size:
        first = jax.tree.map(lambda x: np.asarray(x)[bad[0]], states)
        raise ValueError(
            f"{reward!r} gives log R = {log_r[bad[0]]} at state {first} of {env!r} "
            f"({bad.size} objects in all); rewards must be positive and finite "
            "(log R finite) for GFlowNet objectives"
        )


def check_state(env, state) -> None:
    """``state`` (one state, or a batch with leading axes) has the leaf shapes
    and dtypes of ``env.initial_state()`` in its trailing axes.

    Raises:
        ValueError: naming the leaf, its shape and the expected one.
    """
    expected = jax.eval_shape(env.initial_state)
    want, tree = jax.tree.flatten(expected)
    got, got_tree = jax.tree.flatten(state)
    if got_tree != tree:
        raise ValueError(f"state has structure {got_tree}; {env!r} expects {tree}")
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        g = jnp.asarray(g)
        if (
            g.shape[g.ndim - w.ndim :] != w.shape
            or g.dtype != w.dtype
            or (g.ndim < w.ndim)
        ):
            raise ValueError(
                f"state leaf {i} has shape {g.shape} and dtype {g.dtype}; {env!r} "
                f"expects trailing shape {w.shape} and dtype {w.dtype}"
            )


def check_actions(env, states, actions) -> None:
    """Every action is a valid forward action of its state.

    Args:
        states: a batch of states, leaves ``(B, ...)``.
        actions: ``(B,)`` integer forward actions.

    Raises:
        ValueError: naming the first action outside ``[0, num_actions)`` or
            outside its state's forward mask.
    """
    check_state(env, states)
    actions = np.asarray(actions)
    if actions.ndim != 1 or not np.issubdtype(actions.dtype, np.integer):
        raise ValueError(f"actions must be a 1-D integer array, got "
                         f"{actions.dtype} of shape {actions.shape}")  # fmt: skip
    out_of_range = np.flatnonzero((actions < 0) | (actions >= env.num_actions))
    if out_of_range.size:
        i = out_of_range[0]
        raise ValueError(f"action {actions[i]} at index {i} is outside "
                         f"[0, {env.num_actions}) for {env!r}")  # fmt: skip
    mask = np.asarray(map_states(env.forward_mask, states, 1))
    invalid = np.flatnonzero(~mask[np.arange(len(actions)), actions])
    if invalid.size:
        i = invalid[0]
        allowed = np.flatnonzero(mask[i]).tolist()
        raise ValueError(f"action {actions[i]} at index {i} is not allowed by "
                         f"the forward mask there (allowed: {allowed})")  # fmt: skip
