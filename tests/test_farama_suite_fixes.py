"""What Farama MiniGrid's own tests (benchmarks/farama_suite.py) showed
missing on jaxrl's gridworlds: the surface before the first reset, and
FourRooms' fixed start and goal (``agent_pos``, ``goal_pos``)."""

import re

import gymnasium as gym
import jax
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np
import pytest
from minigrid.envs import FourRoomsEnv

import jaxrl
from jaxrl.envs.gridworld import constants as C
from jaxrl.gymnasium_adapter import GymnasiumEnv


def test_before_reset_as_farama():
    farama = gym.make("MiniGrid-Empty-5x5-v0").unwrapped
    ours = GymnasiumEnv(*jaxrl.make("Empty-5x5"))  # no reset: nothing compiled
    for name in ("agent_pos", "agent_dir", "carrying"):
        assert getattr(ours, name) is None is getattr(farama, name)
    assert ours.grid == farama.grid  # Grid(5, 5), empty
    assert ours.grid.width == farama.grid.width == 5
    with pytest.raises(ValueError) as theirs:
        farama.pprint_grid()
    with pytest.raises(ValueError, match=re.escape(str(theirs.value))):
        ours.pprint_grid()
    with pytest.raises(RuntimeError, match="reset"):
        ours.mission  # noqa: B018  (Farama's is a random sample: none here)


def test_fourrooms_fixed_start_and_goal_as_farama():
    # (9, 2) is on the inner wall x = 9 unless a gap is drawn there: as in
    # Farama, the start cell is cleared whatever the level put there.
    start, goal = (9, 2), (3, 3)
    env, params = jaxrl.make("FourRooms", agent_pos=start, goal_pos=goal)
    keys = jax.random.split(jax.random.key(0), 8)
    _, states = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    farama = FourRoomsEnv(agent_pos=start, goal_pos=goal)
    for seed in range(8):
        farama.reset(seed=seed)
        state = jax.tree.map(lambda x, i=seed: np.asarray(x[i]), states)
        assert tuple(state.agent_pos) == tuple(farama.agent_pos) == start
        assert farama.grid.get(*start) is None
        assert state.grid[start[0], start[1], 0] == C.EMPTY
        assert farama.grid.get(*goal).type == "goal"
        assert state.grid[goal[0], goal[1], 0] == C.GOAL
        assert (state.grid[..., 0] == C.GOAL).sum() == 1
    # the direction stays random, as in Farama
    assert len(set(np.asarray(states.agent_dir).tolist())) > 1


@pytest.mark.parametrize("bad", [(19, 1), (1,), ("a", 1), (True, 1), 5])
def test_fourrooms_refuses_a_cell_outside_the_grid(bad):
    with pytest.raises(ValueError, match="agent_pos"):
        jaxrl.make("FourRooms", agent_pos=bad)


def test_putnear_marks_the_moved_objects_start():
    """PutNear's second mark (Farama's ``move_pos``) is the cell of the object
    the mission names to move, as its first (``target_pos``) is the target's;
    tests/test_farama_wrappers.py compares both with Farama's on its level."""
    env, params = jaxrl.make("PutNear-8x8-N3")
    keys = jax.random.split(jax.random.key(1), 8)
    _, states = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(keys, params)
    for i in range(8):
        surface = GymnasiumEnv(env, params)
        surface.__dict__["_state"] = jax.tree.map(lambda x, i=i: x[i], states)
        for cell, color, kind in (
            (surface.move_pos, surface.moveColor, surface.move_type),
            (surface.target_pos, surface.target_color, surface.target_type),
        ):
            obj = surface.grid.get(*cell)
            assert (obj.color, obj.type) == (color, kind)
        assert surface.move_pos != surface.target_pos
