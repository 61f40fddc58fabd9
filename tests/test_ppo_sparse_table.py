"""The exploration table's rule for a solved seed: the smoothed success rate
counts only once enough episodes back it."""

import numpy as np
import pytest
from benchmark_scripts import load


@pytest.fixture(scope="module")
def ppo_sparse():
    return load("ppo_sparse")


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
