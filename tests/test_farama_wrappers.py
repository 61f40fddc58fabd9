"""Farama's own wrappers (``minigrid.wrappers``) on jaxrl's gymnasium gridworlds.

Each task's level is the one Farama generates for the seed, copied into jaxrl
with ``from_minigrid`` (jaxrl draws its levels from a JAX key, so a seed does
not give Farama's level by itself); the converted environment's reset returns
to it. Both environments, wrapped alike, reset with that seed and take the
same random actions: observations, rewards and flags must be equal at every
step (an episode that ends starts again). The wrappers read jaxrl's state
only through ``env.unwrapped``, the read-only Farama surface
(``jaxrl.farama_surface``).
"""

import inspect
import re

import gymnasium as gym
import jax
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import minigrid.wrappers as farama_wrappers
import numpy as np
import pytest
from env_ids import one_per_task

import jaxrl
from jaxrl.envs.gridworld import from_minigrid
from jaxrl.farama_surface import ReadOnlyViewError
from jaxrl.gymnasium_adapter import GymnasiumEnv

NUM_STEPS = 10
# forward, pickup and toggle more often than turning (as the differential
# test), so that walks pick keys and balls up and reach lava
ACTION_WEIGHTS = np.array([2, 2, 4, 2, 1, 2, 1], float) / 14

# One jaxrl id per task class (tests/env_ids.py's choice) -> seed; every
# class has a Farama counterpart. Seeds 24, 11, 19, 14 and 4 give walks that
# reach the goal, carry the key, step into lava, fetch the right object and
# open a door; the others are the first level. benchmarks/farama_equality.py
# runs every id, with more seeds and steps.
TASKS = {
    "Empty-5x5": 24, "DoorKey-5x5": 11, "FourRooms": 0, "Unlock": 0,
    "UnlockPickup": 0, "BlockedUnlockPickup": 0, "KeyCorridorS3R1": 0,
    "LavaGapS5": 19, "LavaCrossingS9N1": 0, "DistShift1": 0, "GoToDoor-5x5": 4,
    "GoToObject-6x6-N2": 0, "Fetch-5x5-N2": 14, "PutNear-6x6-N2": 0,
    "RedBlueDoors-6x6": 0, "LockedRoom": 0, "Playground": 0, "MemoryS7": 0,
    "MultiRoom-N2-S4": 0, "ObstructedMaze-1Dl": 0,
}  # fmt: skip
# WARN: Dynamic-Obstacles moves its balls at random every step (Farama draws
# from NumPy, jaxrl from its JAX key), so no two walks agree past the reset.
# The benchmark compares its resets; tests/test_farama_stochastic.py its
# rules step by step and its ball moves by their distribution.
RESET_ONLY_PREFIXES = ("Dynamic-Obstacles",)

W = farama_wrappers
# Every wrapper class of minigrid.wrappers, with the arguments tested.
WRAPPERS = {
    "ReseedWrapper": lambda env, seed: W.ReseedWrapper(env, seeds=[seed]),
    "ActionBonus": lambda env, seed: W.ActionBonus(env),
    "PositionBonus": lambda env, seed: W.PositionBonus(env, scale=0.5),
    "ImgObsWrapper": lambda env, seed: W.ImgObsWrapper(env),
    "OneHotPartialObsWrapper": lambda env, seed: W.OneHotPartialObsWrapper(env),
    "RGBImgObsWrapper": lambda env, seed: W.RGBImgObsWrapper(env, tile_size=4),
    "RGBImgPartialObsWrapper": lambda env, seed: W.RGBImgPartialObsWrapper(env, 4),
    "FullyObsWrapper": lambda env, seed: W.FullyObsWrapper(env),
    "DictObservationSpaceWrapper": lambda env, seed: W.DictObservationSpaceWrapper(env),
    "FlatObsWrapper": lambda env, seed: W.FlatObsWrapper(env),
    "ViewSizeWrapper": lambda env, seed: W.ViewSizeWrapper(env, agent_view_size=5),
    "DirectionObsWrapper": lambda env, seed: W.DirectionObsWrapper(
        env, type=("slope", "angle", "angle_atan2")[seed % 3]
    ),
    "SymbolicObsWrapper": lambda env, seed: W.SymbolicObsWrapper(env),
    "StochasticActionWrapper": lambda env, seed: W.StochasticActionWrapper(
        env, prob=0.5
    ),
    "NoDeath": lambda env, seed: W.NoDeath(env, ("lava",), death_cost=-0.5),
}


def farama_id(env_id: str) -> str:
    """Farama's gymnasium id of a jaxrl id (``-v0`` unless it has a version)."""
    name, _, version = env_id.rpartition("-v")
    return f"MiniGrid-{env_id}" + ("" if name and version.isdigit() else "-v0")


def _level_free_key(env_id, env, params) -> tuple:
    """What a converted environment's compiled functions depend on: its
    static fields and the shapes of its params (which hold the level). The
    task's rules are built from Farama's attributes, so only levels of one
    id share a task; levels with the base rules share across ids."""
    shapes = tuple((np.shape(x), np.asarray(x).dtype) for x in jax.tree.leaves(params))
    task = None if env.task is None else env_id
    return task, env.width, env.height, env.view_size, env.see_through_walls, shapes


def make_pair(
    env_id: str, seed: int, made: dict | None = None
) -> tuple[gym.Env, GymnasiumEnv]:
    """Farama's env reset with ``seed``, and jaxrl's on that same level.

    ``made`` (a dict kept by the caller) lets levels with the same compiled
    functions share one jaxrl environment: the level goes in as params.
    """
    farama = gym.make(farama_id(env_id))
    farama.reset(seed=seed)
    env, params, _ = from_minigrid(farama)
    if made is not None:
        env = made.setdefault(_level_free_key(env_id, env, params), env)
    return farama, GymnasiumEnv(env, params)


@pytest.fixture(scope="module")
def pairs():
    """jaxrl id -> (Farama env, jaxrl env on the same level), made once."""
    made = {}
    return {env_id: make_pair(env_id, seed, made) for env_id, seed in TASKS.items()}


def _assert_same(ours, theirs, context):
    if isinstance(theirs, dict):
        assert ours.keys() == theirs.keys(), context
        for name, value in theirs.items():
            np.testing.assert_array_equal(ours[name], value, f"{context} {name}")
    else:
        np.testing.assert_array_equal(ours, theirs, context)


def _assert_same_step(ours, theirs, context):
    """``(obs, reward, terminated, truncated, info)`` alike (info aside)."""
    _assert_same(ours[0], theirs[0], context)
    assert ours[1] == pytest.approx(theirs[1], abs=1e-6), context
    assert (ours[2], ours[3]) == (theirs[2], theirs[3]), context


def _assert_same_space(ours, theirs, context):
    """Same keys, shapes and dtypes (Farama's image bounds are 0..255, ours
    the codes' ranges; its mission space is a MissionSpace, ours Text)."""
    if isinstance(theirs, gym.spaces.Dict):
        assert ours.spaces.keys() == theirs.spaces.keys(), context
        for name in theirs.spaces:
            if name != "mission":
                _assert_same_space(ours[name], theirs[name], f"{context} {name}")
    else:
        assert (ours.shape, ours.dtype) == (theirs.shape, theirs.dtype), context


def _reset(wrapped, seed):
    if isinstance(wrapped, W.ReseedWrapper):  # it brings its own seed
        return wrapped.reset()
    obs, info = wrapped.reset(seed=seed)
    wrapped.unwrapped.np_random = np.random.default_rng(seed)  # same draws
    return obs, info


def _reset_both(ours, theirs, seed, context):
    """Reset both; an error Farama raises (DirectionObsWrapper without a
    goal) must be raised alike. Returns both observations, or None."""
    try:
        theirs_obs, _ = _reset(theirs, seed)
    except Exception as error:  # noqa: BLE001  (whatever Farama raises)
        with pytest.raises(type(error), match=re.escape(str(error))):
            _reset(ours, seed)
        return None
    ours_obs, _ = _reset(ours, seed)
    _assert_same(ours_obs, theirs_obs, f"{context} reset")
    return ours_obs, theirs_obs


def walk(farama, ours, wrapper_name: str, seed: int, num_steps: int) -> int:
    """Wrap both environments alike, reset with ``seed`` and take the same
    ``num_steps`` random actions (an episode that ends starts again).

    Returns:
        How many steps were compared (0 when both refused the reset alike).

    Raises:
        AssertionError: the first difference (space, observation, reward or
            flags), with the step it happened at.
    """
    theirs_wrapped = WRAPPERS[wrapper_name](farama, seed)
    ours_wrapped = WRAPPERS[wrapper_name](ours, seed)
    context = f"{farama.spec.id} seed {seed} {wrapper_name}"
    _assert_same_space(
        ours_wrapped.observation_space, theirs_wrapped.observation_space, context
    )
    if _reset_both(ours_wrapped, theirs_wrapped, seed, context) is None:
        return 0
    rng = np.random.default_rng(seed)
    num_actions = farama.action_space.n
    weights = ACTION_WEIGHTS if num_actions == len(ACTION_WEIGHTS) else None
    for t in range(num_steps):
        action = int(rng.choice(num_actions, p=weights))
        theirs = theirs_wrapped.step(action)
        _assert_same_step(ours_wrapped.step(action), theirs, f"{context} step {t}")
        if theirs[2] or theirs[3]:  # both start the level again
            _reset_both(ours_wrapped, theirs_wrapped, seed, f"{context} step {t}")
    return num_steps


def steps_for(env_id: str, num_steps: int) -> int:
    """``num_steps``, or 0 for the tasks compared at reset only."""
    return 0 if env_id.startswith(RESET_ONLY_PREFIXES) else num_steps


@pytest.mark.parametrize("wrapper_name", list(WRAPPERS))
def test_wrapped_like_farama_step_for_step(wrapper_name, pairs):
    for env_id, seed in TASKS.items():
        farama, ours = pairs[env_id]
        walk(farama, ours, wrapper_name, seed, NUM_STEPS)


def test_one_task_of_every_class_is_compared():
    """TASKS holds one id of each gridworld class (as tests/env_ids.py picks),
    but the one compared at reset only."""
    expected = [i for i in one_per_task() if not i.startswith(RESET_ONLY_PREFIXES)]
    assert sorted(TASKS) == sorted(expected)
    assert len(expected) == len(one_per_task()) - 1


def test_every_farama_wrapper_is_covered():
    classes = {
        name
        for name, value in inspect.getmembers(farama_wrappers, inspect.isclass)
        if issubclass(value, gym.Wrapper) and value.__module__ == W.__name__
    }
    assert classes == set(WRAPPERS)


def test_no_death_continues_past_lava_as_farama_does(pairs):
    """Walk LavaGap until the agent stands in lava: NoDeath charges the cost,
    the episode goes on (jaxrl steps on from the lava as Farama does) and
    both keep agreeing."""
    env_id = "LavaGapS5"
    farama, ours = pairs[env_id]
    wrapped = [W.NoDeath(env, ("lava",), death_cost=-0.5) for env in (farama, ours)]
    for env in wrapped:
        env.reset(seed=TASKS[env_id])
    rng = np.random.default_rng(0)
    in_lava = 0
    for t in range(300):
        action = int(rng.choice(7, p=ACTION_WEIGHTS))
        theirs, mine = (env.step(action) for env in wrapped)
        _assert_same_step(mine, theirs, f"step {t}")
        cell = ours.unwrapped.grid.get(*ours.unwrapped.agent_pos)
        if cell is not None and cell.type == "lava":
            in_lava += 1
            if in_lava > 3:
                break
        if mine[2] or mine[3]:  # the goal or the step limit: a new episode
            for env in wrapped:
                env.reset(seed=TASKS[env_id])
    assert in_lava > 3, "the walk never stood in lava"


def test_goal_positions_and_no_goal_as_farama(pairs):
    """Farama's task attributes for the goal cell (LavaGap's ``goal_pos``),
    and DirectionObsWrapper's error where there is no goal (Fetch)."""
    farama, ours = pairs["LavaGapS5"]
    for env in (farama, ours):
        env.reset(seed=TASKS["LavaGapS5"])
    goal = tuple(int(v) for v in farama.unwrapped.goal_pos)
    assert ours.unwrapped.goal_pos == ours.unwrapped.goal_position == goal
    farama, ours = pairs["Fetch-5x5-N2"]
    ours.reset(seed=TASKS["Fetch-5x5-N2"])
    assert not hasattr(ours.unwrapped, "goal_pos")
    for env in (farama, ours):
        with pytest.raises(ValueError, match="Goal"):
            W.DirectionObsWrapper(env).reset(seed=TASKS["Fetch-5x5-N2"])


def test_surface_matches_farama_and_the_jax_observation(pairs):
    """The attributes themselves, after a few steps of DoorKey."""
    farama, ours = pairs["DoorKey-5x5"]
    seed = TASKS["DoorKey-5x5"]
    obs, _ = ours.reset(seed=seed)
    farama.reset(seed=seed)
    theirs, mine = farama.unwrapped, ours.unwrapped
    for action in (1, 2, 0, 3, 5):
        obs = ours.step(action)[0]
        farama.step(action)
        assert mine.agent_pos == tuple(int(v) for v in theirs.agent_pos)
        assert (mine.agent_dir, mine.step_count) == (
            theirs.agent_dir,
            theirs.step_count,
        )
        np.testing.assert_array_equal(mine.front_pos, theirs.front_pos)
        assert mine.grid == theirs.grid  # Farama's Grid.__eq__: encodings
        assert mine.pprint_grid() == theirs.pprint_grid()
        assert (mine.carrying is None) == (theirs.carrying is None)
        if mine.carrying is not None:
            assert mine.carrying.encode() == theirs.carrying.encode()
        np.testing.assert_array_equal(mine.gen_obs()["image"], obs["image"])
        for x, y in ((1, 1), (2, 2), (3, 3)):
            if theirs.grid.get(x, y) is not None:
                assert mine.agent_sees(x, y) == theirs.agent_sees(x, y)
    assert (mine.width, mine.height, mine.max_steps, mine.mission) == (
        theirs.width, theirs.height, theirs.max_steps, theirs.mission,
    )  # fmt: skip
    assert mine.actions is theirs.actions
    np.testing.assert_array_equal(
        mine.get_frame(tile_size=4), theirs.get_frame(tile_size=4)
    )


def test_full_observation_equals_jaxrl_full_mode():
    """On jaxrl's own levels (a registry id), FullyObsWrapper over the surface
    gives jaxrl's compiled ``observation="full"`` image."""
    wrapped = W.FullyObsWrapper(jaxrl.to_gymnasium("DoorKey-5x5"))
    full = jaxrl.to_gymnasium("DoorKey-5x5", observation="full")
    rng = np.random.default_rng(0)
    for seed in (0, 1):
        _assert_same(wrapped.reset(seed=seed)[0], full.reset(seed=seed)[0], "reset")
        for _ in range(8):
            action = int(rng.choice(7, p=ACTION_WEIGHTS))
            _assert_same(wrapped.step(action)[0], full.step(action)[0], "step")


def test_the_surface_refuses_changes(pairs):
    _, ours = pairs["DoorKey-5x5"]
    ours.reset(seed=TASKS["DoorKey-5x5"])
    env = ours.unwrapped
    grid = env.grid
    for change in (
        lambda: setattr(env, "agent_pos", (1, 1)),
        lambda: setattr(env, "agent_dir", 0),
        lambda: setattr(env, "carrying", None),
        lambda: setattr(env, "mission", "reach the goal"),
        lambda: setattr(env, "step_count", 0),
        lambda: setattr(env, "max_steps", 5),
        lambda: grid.set(1, 1, None),
        lambda: grid.grid.__setitem__(0, None),
        lambda: setattr(grid, "grid", []),
        lambda: setattr(grid.get(0, 0), "color", "red"),
        lambda: grid.horz_wall(0, 1),
    ):
        with pytest.raises(ReadOnlyViewError, match="JAX state, which is the truth"):
            change()
    copy = grid.copy()  # an ordinary Farama Grid to edit
    assert copy == grid
    copy.set(1, 1, None)
    assert env.grid.encode().tolist() == grid.encode().tolist()


def test_only_gridworlds_have_the_surface():
    cartpole = jaxrl.to_gymnasium("CartPole-v1")
    assert not hasattr(cartpole.unwrapped, "grid")
    assert not hasattr(cartpole.unwrapped, "agent_pos")
    cartpole.reset(seed=0)
    assert isinstance(cartpole.reset(seed=0)[0], np.ndarray)
    fresh = jaxrl.to_gymnasium("Empty-5x5")  # not reset yet
    assert fresh.unwrapped.width == 5  # static attributes need no state
    assert fresh.unwrapped.agent_pos is None  # as Farama's before a reset
    with pytest.raises(RuntimeError, match="call reset"):
        fresh.unwrapped.step_count  # noqa: B018


def test_boxes_hold_what_farama_boxes_hold():
    """ObstructedMaze-1Dlh hides the key in a box: the surface's box holds a
    key of the same color (jaxrl keeps it in the box cell's state byte)."""
    farama = gym.make("MiniGrid-ObstructedMaze-1Dlh-v0")
    farama.reset(seed=0)
    ours = GymnasiumEnv(*from_minigrid(farama)[:2])
    ours.reset(seed=0)
    theirs, mine = farama.unwrapped.grid, ours.unwrapped.grid
    boxes = [i for i, obj in enumerate(theirs.grid) if obj and obj.type == "box"]
    assert any(theirs.grid[i].contains is not None for i in boxes)
    for i in boxes:
        expected = theirs.grid[i].contains
        got = mine.grid[i].contains
        assert (got is None) == (expected is None)
        if expected is not None:
            assert got.encode() == expected.encode()
    assert mine == theirs
    np.testing.assert_array_equal(mine.encode(), theirs.encode())


def test_task_attributes_as_farama(pairs):
    """Farama's task attributes (Fetch's targetType, GoToDoor's target_pos,
    Memory's ends...) read from the converted level and from a registry
    environment's state alike; other tasks lack them, and they are read-only."""
    names = {
        "Fetch-5x5-N2": ("targetType", "targetColor"),
        "GoToDoor-5x5": ("target_pos", "target_color"),
        "GoToObject-6x6-N2": ("target_pos", "target_color", "targetType"),
        "PutNear-6x6-N2": ("target_pos", "target_color", "target_type",
                           "move_pos", "moveColor", "move_type"),
        "MemoryS7": ("success_pos", "failure_pos"),
    }  # fmt: skip
    for env_id, attributes in names.items():
        farama, ours = pairs[env_id]
        for env in (farama, ours):
            env.reset(seed=TASKS[env_id])
        registered = GymnasiumEnv(*jaxrl.make(env_id))  # the task class itself
        registered.__dict__["_state"] = ours.__dict__["_state"]  # nothing compiled
        for name in attributes:
            expected = getattr(farama.unwrapped, name)
            if isinstance(expected, tuple):
                expected = tuple(int(v) for v in expected)
            assert getattr(ours.unwrapped, name) == expected, (env_id, name)
            assert getattr(registered, name) == expected, (env_id, name)
            with pytest.raises(ReadOnlyViewError):
                setattr(ours.unwrapped, name, expected)
    _, empty = pairs["Empty-5x5"]
    empty.reset(seed=0)
    assert not hasattr(empty.unwrapped, "target_pos")
    assert not hasattr(pairs["GoToDoor-5x5"][1].unwrapped, "targetType")
