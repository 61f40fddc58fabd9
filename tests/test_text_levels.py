"""Levels from text: parsing, errors naming the place, and playing a set."""

import jax
import numpy as np
import pytest

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld.text_levels import (
    LevelTextError,
    TextLevels,
    level_to_text,
    parse_level,
)

DOORKEY = """
    ##########
    ##>...####
    ##Ky..LyGG
    ##....####
    ##########
"""
OTHER = """
    ##########
    ##....####
    ##..v.dbGG
    ##~~Ab####
    ##########
"""


def test_parse_cells_agent_and_round_trip():
    level = parse_level(DOORKEY, require_goal=True)
    grid = level.grid
    assert grid.shape == (5, 5, 3) and grid.dtype == np.uint8
    assert level.agent_pos.tolist() == [1, 1] and int(level.agent_dir) == 0
    assert tuple(grid[1, 2]) == (C.KEY, C.YELLOW, 0)
    assert tuple(grid[3, 2]) == (C.DOOR, C.YELLOW, C.LOCKED)
    assert tuple(grid[4, 2]) == C.GOAL_CELL and tuple(grid[0, 0]) == C.WALL_CELL
    assert tuple(grid[1, 1]) == C.EMPTY_CELL  # under the agent
    other = parse_level(OTHER)
    assert tuple(other.grid[1, 3]) == (C.LAVA, C.RED, 0)
    assert tuple(other.grid[3, 2]) == (C.DOOR, C.BLUE, C.OPEN)
    assert int(other.agent_dir) == 1
    for level in (parse_level(DOORKEY), other):
        again = parse_level(level_to_text(level))
        np.testing.assert_array_equal(again.grid, level.grid)
        assert again.agent_pos.tolist() == level.agent_pos.tolist()


@pytest.mark.parametrize(
    "text, message",
    [
        ("####\n##..\n", "no agent"),
        (">.>.\n....\n", "2 agents (row 1 column 1, row 1 column 2)"),
        (">.Qx\n....\n", "row 1, column 2: unknown cell 'Qx'"),
        (">...\n......\n", "row 2 has 3 cells"),
        (">..\n", "row 1 has 3 characters"),
        (
            "######\n##>.##\n######\n####GG\n",
            "no goal reachable from the agent at row 2, column 2",
        ),
    ],
)
def test_bad_levels_name_what_and_where(text, message):
    with pytest.raises(
        LevelTextError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        parse_level(text, require_goal=True)


def test_level_set_samples_levels_and_swaps_without_recompiling():
    env = TextLevels([DOORKEY], capacity=4)
    params = env.default_params
    traces = []
    reset = jax.jit(lambda k, p: (traces.append(1), env.reset(k, p))[1])
    keys = jax.random.split(jax.random.key(0), 16)
    obs, state = reset(keys[0], params)
    np.testing.assert_array_equal(state.grid, parse_level(DOORKEY).grid)
    assert env.observation_space(params).contains(obs)
    two = env.params_for([DOORKEY, OTHER])
    starts = {tuple(np.asarray(reset(k, two)[1].agent_pos)) for k in keys}
    assert starts == {(1, 1), (2, 2)}
    assert len(traces) == 1  # a new list of the same capacity: same program
    _, state, reward, terminated, _, _ = jax.jit(env.step)(keys[1], state, 2, params)
    assert state.agent_pos.tolist() == [2, 1] and not bool(terminated)


def test_level_set_rejects_wrong_sizes_and_counts():
    env = TextLevels(DOORKEY, capacity=2)
    with pytest.raises(ValueError, match="this env holds 1 to 2"):
        env.params_for([DOORKEY] * 3)
    with pytest.raises(LevelTextError, match="level 1 is 2x2 cells"):
        env.params_for([DOORKEY, ">.GG\n....\n"])
    with pytest.raises(ValueError, match="capacity must be"):
        TextLevels([DOORKEY, OTHER], capacity=1)
