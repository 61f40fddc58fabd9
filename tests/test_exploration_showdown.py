"""The exploration showdown's bookkeeping: first success, the fraction of
seeds at the goal, and each QD method's budget in env steps."""

import numpy as np
import pytest
from benchmark_scripts import load


@pytest.fixture(scope="module")
def showdown():
    return load("exploration_showdown")


def test_first_success_is_the_first_solved_step_per_seed(showdown):
    solved = np.array(
        [
            [False, False, True, True],  # from step 2
            [False, False, False, False],  # never
            [True, False, True, False],  # step 0 (PPO's flag is per update)
        ]
    )
    steps = np.array([100, 200, 300, 400])
    first = showdown.first_success(solved, steps)
    np.testing.assert_array_equal(first[[0, 2]], [300.0, 100.0])
    assert np.isnan(first[1])
    # per-run step counts (R, T) are read row by row
    per_run = np.array([[10, 20, 30, 40], [1, 2, 3, 4], [5, 6, 7, 8]])
    np.testing.assert_array_equal(
        showdown.first_success(solved, per_run)[[0, 2]], [30.0, 5.0]
    )


def test_fraction_reached_counts_seeds_at_or_before_each_step(showdown):
    first = np.array([300.0, np.nan, 100.0, 300.0])
    grid = np.array([0.0, 100.0, 299.0, 300.0, 1000.0])
    np.testing.assert_allclose(
        showdown.fraction_reached(first, grid), [0.0, 0.25, 0.25, 0.75, 0.75]
    )


@pytest.mark.parametrize("method", ["novelty-search", "serene"])
def test_qd_budget_is_whole_batches_within_the_env_steps(showdown, method):
    task = showdown.make_showdown_task(showdown.MAZE)
    qd_task = task.make_qd_task()

    class Args:
        qd_batch, sigma = 64, 0.05

    budget = 1_000_000  # 2,500 maze evaluations of 400 steps
    _, config, hparams = showdown.qd_config(method, task, qd_task, budget, Args)
    used = config.population_size + config.batch_size * config.num_iterations
    assert used * task.steps_per_evaluation <= budget
    assert (used + config.batch_size) * task.steps_per_evaluation > budget
    assert hparams.mutation_sigma == pytest.approx(0.05)
    with pytest.raises(ValueError, match="fewer than the first population"):
        showdown.qd_config(method, task, qd_task, 400 * 100, Args)
