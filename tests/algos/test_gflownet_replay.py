"""The GFlowNet replay buffer: ring insertion, drawing, and training with it."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.algos import gflownet as gfn
from jaxrl.algos.gflownet import replay
from jaxrl.algos.gflownet.trajectories import Trajectories
from jaxrl.envs.gfn import make_gfn_env


def _batch(first_id: int, size: int) -> Trajectories:
    """Fake trajectories whose every entry holds the trajectory's id."""
    ids = jnp.arange(first_id, first_id + size, dtype=jnp.int32)
    return Trajectories(
        states=jnp.broadcast_to(ids, (3, size))[..., None],  # (T+1, B, 1)
        actions=jnp.broadcast_to(ids, (2, size)),
        is_valid=jnp.ones((2, size), bool),
    )


def test_ring_keeps_the_newest_and_draws_only_filled_slots():
    buffer = replay.init_buffer(_batch(0, 1), capacity=4)
    buffer = replay.add(buffer, _batch(0, 3), jnp.zeros(3))
    assert int(buffer.size) == 3 and int(buffer.cursor) == 3
    drawn = replay.draw(buffer, jax.random.key(0), 500, "uniform")
    assert set(np.unique(drawn.actions[0]).tolist()) == {0, 1, 2}  # never slot 3
    buffer = replay.add(buffer, _batch(10, 3), jnp.log(jnp.array([1.0, 2.0, 5.0])))
    assert int(buffer.size) == 4 and int(buffer.cursor) == 2
    # ids 10, 11 overwrote slots 3 and 0; 12 went to slot 1
    np.testing.assert_array_equal(buffer.trajectories.actions[0], [11, 12, 2, 10])
    np.testing.assert_array_equal(buffer.trajectories.states[2, :, 0], [11, 12, 2, 10])


def test_reward_priority_draws_in_proportion_to_reward():
    buffer = replay.init_buffer(_batch(0, 1), capacity=4)
    rewards = jnp.array([1.0, 2.0, 5.0, 0.5])
    buffer = replay.add(buffer, _batch(0, 4), jnp.log(rewards))
    drawn = replay.draw(buffer, jax.random.key(1), 20_000, "reward")
    counts = np.bincount(np.asarray(drawn.actions[0]), minlength=4) / 20_000
    np.testing.assert_allclose(counts, rewards / rewards.sum(), atol=0.01)
    with pytest.raises(ValueError, match="priority must be one of"):
        replay.draw(buffer, jax.random.key(1), 4, "greedy")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"replay_size": 64}, "both 0"),
        ({"replay_size": 8, "replay_batch": 4}, "hold at least one batch"),
        ({"replay_size": 64, "replay_batch": 4, "replay_priority": "x"}, "uniform or"),
        ({"replay_size": -1, "replay_batch": 4}, "replay_size must be an int >= 0"),
    ],
)
def test_bad_replay_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gfn.Config(batch_size=16, **kwargs)


@pytest.mark.parametrize("priority", ["uniform", "reward"])
def test_training_with_replay_fills_the_buffer_and_learns(priority):
    env, reward = make_gfn_env("hypergrid:ndim=2,height=4")
    config = gfn.Config(
        num_iterations=60, eval_every=20, batch_size=8, hidden_size=32,
        replay_size=64, replay_batch=8, replay_priority=priority,
    )  # fmt: skip
    out = jax.jit(gfn.make_train(config, env, reward))(jax.random.key(0), gfn.HParams())
    assert int(out.state.replay.size) == 64
    l1 = np.asarray(out.metrics.l1)
    assert np.isfinite(l1).all() and l1[-1] < l1[0]
