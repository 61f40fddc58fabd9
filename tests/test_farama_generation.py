"""Level generation follows Farama's distributions (not its random numbers).

For each task, 300 levels from Farama MiniGrid and 300 of ours are compared:
for every cell and object kind, how often the cell holds that kind, and where
the agent starts (two-proportion z-tests per cell, |z| < 5: some 2,000 tests
per task, so a chance failure over the whole file is about 3%; the draws are
seeded, so a passing run stays passing); which way the agent faces, the colors
and door states of each kind of object (boxes: with what they hold), and the
missions (chi-square tests, p > 1e-4). An off-by-one in a placement range
moves a few percent of the mass into or out of a cell and fails the first
test.
"""

import gymnasium as gym
import jax
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np
import pytest
from scipy import stats

import jaxrl
from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import from_minigrid
from jaxrl.envs.gridworld.core import as_seen

NUM_LEVELS = 300
TASKS = [
    "Empty-Random-6x6", "FourRooms", "DoorKey-8x8", "Unlock", "UnlockPickup",
    "BlockedUnlockPickup", "KeyCorridorS3R3", "KeyCorridorS4R3", "LavaGapS6",
    "LavaCrossingS9N2", "SimpleCrossingS11N5", "DistShift1", "GoToDoor-8x8",
    "GoToObject-8x8-N2", "Fetch-8x8-N3", "PutNear-8x8-N3", "RedBlueDoors-8x8",
    "LockedRoom", "Playground", "MemoryS13Random", "Dynamic-Obstacles-Random-6x6",
    "MultiRoom-N4-S5", "MultiRoom-N6", "ObstructedMaze-1Dlhb",
    "ObstructedMaze-2Dlhb", "ObstructedMaze-Full", "ObstructedMaze-2Q-v1",
]  # fmt: skip
KINDS = (C.WALL, C.DOOR, C.KEY, C.BALL, C.BOX, C.GOAL, C.LAVA)


def _farama_levels(env_id):
    suffix = "" if env_id.endswith("-v1") else "-v0"
    farama = gym.make(f"MiniGrid-{env_id}{suffix}").unwrapped
    states = []
    for seed in range(NUM_LEVELS):
        farama.reset(seed=seed)
        states.append(from_minigrid(farama)[2])
    return jax.tree.map(lambda *xs: np.stack(xs), *states)


def _our_levels(env_id):
    env, params = jaxrl.make(env_id)
    keys = jax.random.split(jax.random.key(0), NUM_LEVELS)
    states = jax.jit(jax.vmap(env.initial_state, in_axes=(0, None)))(keys, params)
    return jax.tree.map(np.asarray, states)


def _assert_cells_agree(ours, theirs, what):
    """Per-cell frequencies (levels, W, H) bool agree by a z-test."""
    p1, p2 = theirs.mean(0), ours.mean(0)
    pooled = (p1 + p2) / 2
    spread = np.sqrt(np.maximum(pooled * (1 - pooled), 1e-12) * 2 / NUM_LEVELS)
    z = np.abs(p1 - p2) / spread
    worst = np.unravel_index(np.argmax(z), z.shape)
    assert z.max() < 5.0, (
        f"{what}: cell {worst} Farama {p1[worst]:.3f} vs ours {p2[worst]:.3f}"
    )


def _assert_counts_agree(ours, theirs, what):
    """Two samples of category labels come from one distribution (chi square)."""
    labels = np.union1d(ours, theirs)
    if len(labels) < 2:
        assert np.array_equal(np.unique(ours), np.unique(theirs)), what
        return
    table = np.array(
        [[np.sum(sample == v) for v in labels] for sample in (theirs, ours)]
    )
    p_value = stats.chi2_contingency(table).pvalue
    assert p_value > 1e-4, f"{what}: p = {p_value:.2g}\n{labels}\n{table}"


@pytest.mark.parametrize("env_id", TASKS)
def test_levels_follow_farama_distribution(env_id):
    theirs, ours = _farama_levels(env_id), _our_levels(env_id)
    grids = {"Farama": as_seen(theirs.grid), "ours": as_seen(ours.grid)}
    for kind in KINDS:
        name = C.OBJECT_NAMES[kind]
        is_kind = {source: grid[..., 0] == kind for source, grid in grids.items()}
        _assert_cells_agree(is_kind["ours"], is_kind["Farama"], f"{env_id} {name}")

        def labels(grid, kind=kind):
            cells = grid[grid[..., 0] == kind].astype(np.int32)
            return cells[:, 1] * 256 + cells[:, 2]  # color and state (contents)

        _assert_counts_agree(labels(ours.grid), labels(theirs.grid),
                             f"{env_id} {name} colors")  # fmt: skip
    width, height = ours.grid.shape[1:3]
    for name, state in (("ours", ours), ("Farama", theirs)):
        at = np.zeros((NUM_LEVELS, width, height), bool)
        at[np.arange(NUM_LEVELS), state.agent_pos[:, 0], state.agent_pos[:, 1]] = True
        grids[f"agent {name}"] = at
    _assert_cells_agree(grids["agent ours"], grids["agent Farama"], f"{env_id} agent")
    _assert_counts_agree(ours.agent_dir, theirs.agent_dir, f"{env_id} direction")
    _assert_counts_agree(ours.mission, theirs.mission, f"{env_id} mission")
