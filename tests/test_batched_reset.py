"""The optimistic batched auto-reset against gymnax's exact one."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import jaxrl
from jaxrl import batched_reset as BR
from jaxrl.wrappers import EpisodeStatistics, Wrapper

NUM_ENVS = 32


def _play(stepper, params, key, num_steps):
    """Random actions through ``stepper``: the per-step outputs ``(T, B, ...)``
    and the batch state after every step (leaves ``(T, ...)``)."""
    num_actions = stepper.env.action_space(params).n

    def one(state, key):
        k_action, k_step = jax.random.split(key)
        action = jax.random.randint(k_action, (stepper.num_envs,), 0, num_actions)
        out = stepper.step(k_step, state, action, params)
        return out[1], (out, out[1])

    _, state = stepper.reset(key, params)
    _, (outs, states) = jax.lax.scan(one, state, jax.random.split(key, num_steps))
    return outs, states


@pytest.fixture(scope="module")
def doorkey():
    env, params = jaxrl.make("DoorKey-8x8", max_steps_in_episode=4)
    return EpisodeStatistics(env), params


def _door_cells(grid) -> np.ndarray:
    """Flat index of the door in each grid ``(N, W, H, 3)``: the level feature
    compared (DoorKey-8x8 draws the wall column and the door row)."""
    door = np.asarray(grid)[..., 0] == jaxrl.envs.gridworld.constants.DOOR
    return door.reshape(door.shape[0], -1).argmax(1)


@pytest.fixture(scope="module")
def optimistic_run(doorkey):
    env, params = doorkey
    stepper = BR.OptimisticReset(env, NUM_ENVS, num_resets=8)  # stock 32 + 16
    play = jax.jit(lambda key: _play(stepper, params, key, 40))
    return stepper, play, play(jax.random.key(0))


def test_levels_handed_out_follow_the_reset_distribution(doorkey, optimistic_run):
    """The levels finishing environments start are distributed as
    independent resets (chi-square on the door cell, 10 episodes x 32 envs)."""
    env, params = doorkey
    _, _, (outs, states) = optimistic_run
    done = np.asarray(outs[3] | outs[4])
    started = states.env_state.env_state.grid  # (T, B, W, H, 3) after each step
    handed = _door_cells(np.asarray(started)[done])
    assert len(handed) >= 300
    assert int(states.shared_resets[-1]) == 0
    keys = jax.random.split(jax.random.key(7), len(handed))
    independent = jax.vmap(env.unwrapped.initial_state, in_axes=(0, None))(keys, params)
    fresh = _door_cells(independent.grid)
    cells = np.union1d(handed, fresh)
    table = (
        np.stack([(handed == c).sum() for c in cells]),
        np.stack([(fresh == c).sum() for c in cells]),
    )
    assert len(cells) >= 12  # the feature does vary
    assert stats.chi2_contingency(np.array(table)).pvalue > 1e-3


def test_levels_started_together_are_distinct_unless_counted_shared(doorkey):
    """A whole batch truncating at once with a stock of 4: the next levels
    handed out in a step repeat exactly as often as ``shared_resets`` says."""
    env, params = doorkey
    stepper = BR.OptimisticReset(env, NUM_ENVS, num_resets=2, stock_size=4)
    outs, states = jax.jit(lambda key: _play(stepper, params, key, 9))(
        jax.random.key(1)
    )
    done = np.asarray(outs[3] | outs[4])
    shared = np.diff(np.asarray(states.shared_resets), prepend=0)
    starts = np.asarray(jax.vmap(BR.next_levels)(states).grid).reshape(9, NUM_ENVS, -1)
    repeats = [
        done[t].sum() - len(np.unique(starts[t][done[t]], axis=0)) for t in range(9)
    ]
    assert done.sum() > 4 * 2  # two whole-batch truncations
    np.testing.assert_array_equal(repeats, shared)
    assert int(states.shared_resets[-1]) == done.sum() - 8


def test_same_key_same_numbers_and_other_key_other_levels(optimistic_run):
    _, play, first = optimistic_run
    again = play(jax.random.key(0))
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    other = play(jax.random.key(3))
    assert not np.array_equal(
        np.asarray(jax.vmap(BR.next_levels)(first[1]).grid),
        np.asarray(jax.vmap(BR.next_levels)(other[1]).grid),
    )


def test_runs_vmapped_on_the_named_axis_keep_the_skip_and_their_own_levels(
    optimistic_run,
):
    _, play, first = optimistic_run
    keys = jnp.stack([jax.random.key(0), jax.random.key(3)])
    runs = jax.jit(jax.vmap(play, axis_name=BR.RUNS_AXIS))(keys)
    # run 0 is the unvmapped run bit for bit (the draws a full stock drops
    # change nothing), and run 1 is its own key's run
    alone = (first, play(jax.random.key(3)))
    for i, expected in enumerate(alone):
        for a, b in zip(jax.tree.leaves(runs), jax.tree.leaves(expected), strict=True):
            np.testing.assert_array_equal(np.asarray(a)[i], np.asarray(b))
    # the draw stays a branch on the named axis; an unnamed vmap selects
    jaxpr = str(jax.make_jaxpr(jax.vmap(play, axis_name=BR.RUNS_AXIS))(keys))
    assert "cond[" in jaxpr and "pmax" in jaxpr
    assert "cond[" not in str(jax.make_jaxpr(jax.vmap(play))(keys))


def test_reset_mode_changes_only_the_levels_drawn(doorkey, optimistic_run):
    """Same key: both modes start from the same states and, until an
    environment's first episode ends, give the same transitions; after it,
    the optimistic one starts exactly the level it held for that env."""
    env, params = doorkey
    stepper, _, (outs, states) = optimistic_run
    exact = BR.ExactReset(env, NUM_ENVS)
    exact_outs, _ = jax.jit(lambda key: _play(exact, params, key, 40))(
        jax.random.key(0)
    )
    done = np.asarray(outs[3] | outs[4])
    first_end = int(done.argmax(0).min())  # all truncate at step 4 at the latest
    for i in (0, 2, 3, 4):  # observation, reward, terminated, truncated
        last = first_end if i == 0 else first_end + 1  # then observations differ
        for a, b in zip(
            jax.tree.leaves(outs[i]), jax.tree.leaves(exact_outs[i]), strict=True
        ):
            np.testing.assert_array_equal(np.asarray(a)[:last], np.asarray(b)[:last])
    # Each env that finished at t now plays the level it held after t - 1.
    held = np.asarray(jax.vmap(BR.next_levels)(states).grid)[:-1]
    started = np.asarray(states.env_state.env_state.grid)[1:]
    finished = done[1:]
    np.testing.assert_array_equal(started[finished], held[finished])


def test_auto_picks_optimistic_only_where_it_applies():
    grid, _ = jaxrl.make("Empty-5x5")
    cartpole, _ = jaxrl.make("CartPole-v1")
    assert isinstance(BR.batched(grid, 64), BR.OptimisticReset)
    assert isinstance(BR.batched(grid, 63), BR.ExactReset)
    assert isinstance(BR.batched(cartpole, 4096), BR.ExactReset)
    assert isinstance(BR.batched(grid, 8, "optimistic"), BR.OptimisticReset)
    assert BR.batched(grid, 4096, num_resets=None).resets_per_step == 256


class _StepEnvOnly(Wrapper):
    """A wrapper that never calls its environment's ``step``."""

    def step(self, key, state, action, params=None):
        obs, state, reward, terminated, info = self._env.step_env(
            key, state, action, params
        )
        return obs, state, reward, terminated, jnp.zeros_like(terminated), info


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_resets": 0}, "num_resets must be an int >= 1"),
        ({"num_resets": 9, "stock_size": 8}, "must be <= stock_size"),
        ({"stock_size": 2.0}, "stock_size must be an int"),
    ],
)
def test_bad_sizes_are_refused(kwargs, message):
    env, _ = jaxrl.make("Empty-5x5")
    with pytest.raises(ValueError, match=message):
        BR.OptimisticReset(env, 16, **kwargs)


def test_environments_that_cannot_take_the_reset_are_refused_before_running():
    cartpole, _ = jaxrl.make("CartPole-v1")
    with pytest.raises(ValueError, match="CartPole.*use the exact reset"):
        BR.batched(cartpole, 64, "optimistic")
    with pytest.raises(ValueError, match="reset must be one of"):
        BR.batched(cartpole, 64, "lazy")
    env, params = jaxrl.make("Empty-5x5")
    stepper = BR.OptimisticReset(_StepEnvOnly(env), 4)
    with pytest.raises(ValueError, match="never took the injected reset"):
        jax.eval_shape(lambda k: _play(stepper, params, k, 2), jax.random.key(0))


def test_ppo_trains_through_the_optimistic_reset():
    """A tiny PPO run with ``reset="optimistic"``: the batch state is the
    optimistic one, levels are counted, and nothing is shared at this size."""
    from jaxrl.algos import ppo

    config = ppo.Config(
        total_steps=2 * 8 * 16, num_envs=8, num_steps=16, num_minibatches=2,
        update_epochs=1, hidden_size=16, reset="optimistic", num_resets=2,
    )  # fmt: skip
    env, params = jaxrl.make("Empty-5x5", max_steps_in_episode=6)
    out = jax.jit(ppo.make_train(config, env, params))(jax.random.key(0), ppo.HParams())
    batch = out.state.env_state
    assert isinstance(batch, BR.OptimisticState)
    assert int(batch.resets) >= 8 * 4
    assert int(batch.shared_resets) == 0
    np.testing.assert_array_equal(out.metrics.shared_resets, [0, 0])
    assert np.isfinite(np.asarray(out.metrics.episode_return)).all()


# two MultiRoom generators compiled (about 17 s in the CI run); --exhaustive
@pytest.mark.exhaustive
def test_pooled_multiroom_levels_follow_the_per_level_distribution():
    """MultiRoom's ``initial_states`` pools chain tries across the batch; its
    levels match ``initial_state``'s (shapes, dtypes, and chi-square on where
    the agent starts and how many wall cells the rooms take)."""
    env, params = jaxrl.make("MultiRoom-N4-S5")
    pooled = jax.jit(lambda k: env.initial_states(k, 600, params))(jax.random.key(0))
    keys = jax.random.split(jax.random.key(1), 600)
    single = jax.jit(jax.vmap(env.initial_state, in_axes=(0, None)))(keys, params)
    assert jax.tree.map(lambda x: (x.shape, x.dtype), pooled) == jax.tree.map(
        lambda x: (x.shape, x.dtype), single
    )
    wall = jaxrl.envs.gridworld.constants.WALL
    features = {
        "agent x": lambda s: np.asarray(s.agent_pos[:, 0]),
        "walls": lambda s: (np.asarray(s.grid[..., 0]) == wall).sum((1, 2)) // 4,
    }
    for name, feature in features.items():
        a, b = feature(pooled), feature(single)
        values = np.union1d(a, b)
        table = np.array(
            [[(a == v).sum() for v in values], [(b == v).sum() for v in values]]
        )
        table = table[:, table.sum(0) >= 10]
        assert table.shape[1] >= 4, name
        assert stats.chi2_contingency(table).pvalue > 1e-3, name


def test_batched_reset_draws_first_levels_in_bulk_and_leaves_reset_alone(doorkey):
    """Both modes start from the same bulk-drawn levels; afterwards the
    environment's own (jitted) reset still draws its level from the key."""
    env, params = doorkey
    key = jax.random.key(4)
    _, exact = jax.jit(lambda k: BR.ExactReset(env, 8).reset(k, params))(key)
    _, optimistic = jax.jit(lambda k: BR.OptimisticReset(env, 8).reset(k, params))(key)
    np.testing.assert_array_equal(
        exact.env_state.grid, optimistic.env_state.env_state.grid
    )
    inner = env.unwrapped
    _, alone = inner.reset(key, params)
    np.testing.assert_array_equal(alone.grid, inner.initial_state(key, params).grid)
