"""RGB rendering against Farama MiniGrid's own pictures.

The tiles are drawn with the same float arithmetic as Farama's renderer
(supersampling, highlight, 3x3 averaging and uint8 truncation), so pictures
are compared for exact equality, pixel for pixel.
"""

import gymnasium as gym
import jax
import jax.numpy as jnp
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np
import pytest
from minigrid.core.constants import IDX_TO_COLOR
from minigrid.core.grid import Grid
from minigrid.core.world_object import Goal, WorldObj
from minigrid.wrappers import RGBImgPartialObsWrapper

import jaxrl
from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import from_minigrid
from jaxrl.envs.gridworld import render as R


def _farama_tile(code, agent_dir, highlight, tile_size):
    obj, color, _ = code
    # Farama's decode forgets a goal's color
    goal = obj == C.GOAL
    thing = Goal(IDX_TO_COLOR[color]) if goal else WorldObj.decode(*code)
    Grid.tile_cache.clear()
    tile = Grid.render_tile(thing, agent_dir, highlight, tile_size)
    return tile.astype(np.uint8)  # Farama returns floats; its grids hold uint8


@pytest.mark.parametrize("tile_size", [5, 8])
def test_every_tile_equals_farama(tile_size):
    atlas = R.tile_atlas(tile_size)
    drawings, _ = R._drawings()
    for k, code in enumerate(drawings):
        for agent in range(5):
            for lit in (0, 1):
                expected = _farama_tile(
                    code, None if agent == 0 else agent - 1, bool(lit), tile_size
                )
                tile = atlas[(k * 5 + agent) * 2 + lit]
                np.testing.assert_array_equal(tile, expected, f"{code} {agent} {lit}")


def _walk(farama, rng, num_steps):
    for _ in range(num_steps):
        _, _, terminated, truncated, _ = farama.step(int(rng.integers(0, 6)))
        if terminated or truncated:
            break


@pytest.mark.parametrize(
    "farama_id,tile_size",
    [
        ("MiniGrid-DoorKey-5x5-v0", 32),
        ("MiniGrid-DoorKey-8x8-v0", 8),
        ("MiniGrid-LavaGapS5-v0", 32),
        ("MiniGrid-ObstructedMaze-1Dlhb-v0", 8),  # box, ball, key, locked door
        ("MiniGrid-Empty-6x6-v0", 8),  # sees through walls
    ],
)
def test_full_picture_and_agent_view_equal_farama(farama_id, tile_size):
    """``render_state`` with ``visible_cells`` highlighted equals Farama's
    ``get_frame()``; ``render_view`` of the observation equals Farama's
    ``RGBImgPartialObsWrapper`` image; on reset levels and after random
    steps (keys carried, doors opened)."""
    wrapped = RGBImgPartialObsWrapper(gym.make(farama_id), tile_size=tile_size)
    farama = wrapped.unwrapped
    rng = np.random.default_rng(0)
    for seed in range(2):
        farama_obs, _ = wrapped.reset(seed=seed)
        if seed:
            _walk(farama, rng, 30)
            farama_obs = wrapped.observation(farama.gen_obs())
        env, params, state = from_minigrid(farama)
        seen = R.visible_cells(state, env.view_size, env.see_through_walls)
        picture = R.render_state(state, tile_size, highlight=seen)
        expected = farama.get_frame(highlight=True, tile_size=tile_size)
        assert picture.shape == expected.shape and picture.dtype == jnp.uint8
        np.testing.assert_array_equal(picture, expected, f"{farama_id} {seed}")

        image = env.observe(None, state, None, params).image
        view = R.render_view(image, tile_size)
        np.testing.assert_array_equal(view, farama_obs["image"], farama_id)


def test_shapes_and_orientation_on_a_non_square_grid():
    """Rows of the picture are y, columns x: a wall at (x=4, y=0) of a
    5-wide, 3-high grid is the top-right tile."""
    grid = np.zeros((5, 3, 3), np.uint8)
    grid[..., 0] = C.EMPTY
    grid[4, 0] = C.WALL_CELL
    picture = R.render_grid(jnp.asarray(grid), tile_size=8)
    assert picture.shape == (24, 40, 3) and picture.dtype == jnp.uint8
    np.testing.assert_array_equal(picture[:8, 32:], 100)  # all grey
    assert int(picture[8:, :32].max()) < 100  # elsewhere: black, faint grid lines
    view = R.render_view(jnp.asarray(np.ones((7, 7, 3), np.uint8)), tile_size=4)
    assert view.shape == (28, 28, 3) and view.dtype == jnp.uint8


def test_box_contents_do_not_change_the_picture():
    grid = np.zeros((3, 3, 3), np.uint8)
    grid[..., 0] = C.EMPTY
    grid[1, 1] = (C.BOX, C.PURPLE, 0)
    full = grid.copy()
    full[1, 1, 2] = C.KEY * 16 + C.RED  # contents in the state byte
    pictures = [
        R.render_grid(jnp.asarray(g), jnp.array([0, 0]), jnp.int32(1), 8)
        for g in (grid, full)
    ]
    np.testing.assert_array_equal(*pictures)


def test_vmap_equals_one_by_one_and_compiles_once():
    env, params = jaxrl.make("DoorKey-5x5")
    keys = jax.random.split(jax.random.key(0), 6)
    _, states = jax.vmap(env.reset, in_axes=(0, None))(keys, params)

    def picture(state):
        seen = R.visible_cells(state, env.view_size, env.see_through_walls)
        return R.render_state(state, 8, seen)

    traces = []  # appended at trace time only
    batched = jax.jit(jax.vmap(lambda s: (traces.append(1), picture(s))[1]))
    pictures = batched(states)
    assert pictures.shape == (6, 40, 40, 3) and pictures.dtype == jnp.uint8
    for i in range(6):
        one = jax.tree.map(lambda x, i=i: x[i], states)
        np.testing.assert_array_equal(pictures[i], picture(one))
    _, other = jax.vmap(env.reset, in_axes=(0, None))(keys[::-1], params)
    np.testing.assert_array_equal(batched(other), pictures[::-1])
    assert len(traces) == 1


@pytest.mark.parametrize("bad", [0, 3, 129, 8.0, True, "8", None])
def test_bad_tile_sizes_raise(bad):
    grid = jnp.ones((3, 3, 3), jnp.uint8)
    with pytest.raises(ValueError, match="tile_size must be an int from 4 to 128"):
        R.render_grid(grid, tile_size=bad)
    with pytest.raises(ValueError, match="tile_size"):
        R.render_view(grid, tile_size=bad)
