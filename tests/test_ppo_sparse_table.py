"""The exploration table's rule for a solved seed: the smoothed success rate
counts only once enough episodes back it."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def ppo_sparse():
    sys.path.insert(0, str(BENCHMARKS))  # the script imports its sibling common
    try:
        spec = importlib.util.spec_from_file_location(
            "ppo_sparse", BENCHMARKS / "ppo_sparse.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_a_lucky_first_update_is_not_a_solved_seed(ppo_sparse):
    """Five episodes, all successful, in the first update: too few to count
    (the window holds one update, not five); the seed is solved once twenty
    episodes back a success rate of at least the threshold."""
    updates = 8
    curves = {
        "success_rate": np.array([[1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]]),
        "num_episodes": np.array([[5, 5, 5, 5, 20, 20, 20, 20]]),
        "env_steps": np.arange(1, updates + 1)[None] * 1000,
    }
    smoothed = ppo_sparse.smoothed_success(curves)
    assert np.isnan(smoothed[0, :3]).all()  # 5, 10, 15 episodes so far
    assert smoothed[0, 3] == pytest.approx(0.25)  # 20 episodes, 5 successes
    reach = ppo_sparse.steps_to_threshold(curves, 0.8)
    # windows of five updates: 25 of 40 successes at the fifth, 40 of 55 at
    # the sixth, 60 of 70 (0.86) at the seventh
    np.testing.assert_array_equal(reach, [7000.0])
