"""The view and line-of-sight code against direct transcriptions of Farama."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnax.environments import environment

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import view


def _reference_view(grid, pos, direction, v):
    """Cell by cell through Farama's slice/rotate offsets; walls outside."""
    out = np.empty((v, v, 3), np.uint8)
    offsets = view.view_offsets(v)[direction]
    for i in range(v):
        for j in range(v):
            x, y = pos + offsets[i, j]
            inside = 0 <= x < grid.shape[0] and 0 <= y < grid.shape[1]
            out[i, j] = grid[x, y] if inside else C.WALL_CELL
    return out


@pytest.mark.parametrize(
    "width,height,v", [(5, 5, 7), (8, 8, 7), (19, 19, 7), (6, 9, 3)]
)
def test_both_view_methods_match_reference(width, height, v):
    rng = np.random.default_rng(width * height + v)
    grid = rng.integers(0, 200, (width, height, 3)).astype(np.uint8)
    sliced = jax.jit(view._sliced_view, static_argnums=3)
    gathered = jax.jit(view._gathered_view, static_argnums=3)
    for _ in range(20):
        pos = np.array([rng.integers(0, width), rng.integers(0, height)])
        d = int(rng.integers(0, 4))
        expected = _reference_view(grid, pos, d, v)
        args = (jnp.asarray(grid), jnp.asarray(pos, jnp.int32), jnp.int32(d), v)
        np.testing.assert_array_equal(sliced(*args), expected)
        np.testing.assert_array_equal(gathered(*args), expected)


@pytest.mark.parametrize("v", [3, 5, 7, 9, 11])  # 11 uses the bit-propagation path
def test_line_of_sight_matches_farama_row_rule(v):
    rng = np.random.default_rng(v)
    transparent = rng.random((200, v, v)) < 0.7
    got = np.asarray(jax.jit(jax.vmap(view.line_of_sight))(jnp.asarray(transparent)))
    for mask, seen in zip(transparent, got, strict=True):
        rows = [sum(1 << i for i in range(v) if mask[i, j]) for j in range(v)]
        lit, expected = 1 << (v // 2), np.zeros((v, v), bool)
        for j in reversed(range(v)):
            row_seen, lit = view.farama_row_pass(lit, rows[j], v)
            expected[:, j] = [(row_seen >> i) & 1 for i in range(v)]
        np.testing.assert_array_equal(seen, expected)


@pytest.mark.parametrize("env_id", ["Empty-Random-5x5", "DoorKey-5x5", "FourRooms"])
def test_step_equals_gymnax_default_step(env_id, shared_env):
    """The observe-once auto-reset returns exactly what gymnax's would."""
    shared = shared_env(env_id)  # its batched step is compiled once a session
    env, params = shared.env, shared.params.replace(max_steps_in_episode=5)
    ours = shared.step_batch
    default_step = functools.partial(environment.Environment.step, env)
    theirs = jax.jit(jax.vmap(default_step, in_axes=(0, 0, 0, None)))
    _, state = jax.vmap(env.reset, in_axes=(0, None))(
        jax.random.split(jax.random.key(0), 16), params
    )
    for t in range(12):  # crosses truncation resets at steps 5 and 10
        keys = jax.random.split(jax.random.key(t + 1), 16)
        actions = jax.random.randint(jax.random.key(100 + t), (16,), 0, 7)
        mine = ours(keys, state, actions, params)
        chex.assert_trees_all_equal(mine, theirs(keys, state, actions, params))
        state = mine[1]
