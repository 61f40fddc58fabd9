"""The hard maze: geometry by hand, walls that hold, the exit, the gymnax
contract, dtypes, and the QD task's shapes and bounds."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.envs import qd
from jaxrl.envs.qd import maze

FORWARD = jnp.array([0.5, 1.0], jnp.float32)  # no turn, speed +0.5 a step


def _drive(robot, action, num_steps):
    """Positions over ``num_steps`` steps of one fixed action."""

    def step(robot, _):
        robot = maze.move(robot, action)
        return robot, robot.pos

    return jax.lax.scan(step, robot, None, length=num_steps)


def test_sensors_at_the_start_by_hand():
    # Start (36, 184), heading 0. Rangefinder at 0 degrees (+x): the wall
    # (77, 200)-(108, 164) crosses y = 184 at x = 77 + 31 * 16 / 36 = 90.78,
    # 54.78 away. At 90 degrees (+y): the border y = 200, 16 away. At -180
    # (-x): the border x = 5, 31 away. At -90 (-y) the first wall is
    # (5, 49)-(57, 53) at y = 49 + 4 * 31 / 52 = 51.4, 132.6 away: beyond the
    # range, so it reads 100.
    readings = np.asarray(maze.rangefinders(maze.start_robot()))
    along = {angle: readings[i] for i, angle in enumerate(maze.RANGEFINDER_ANGLES)}
    np.testing.assert_allclose(along[0.0], 77 + 31 * 16 / 36 - 36, rtol=1e-5)
    np.testing.assert_allclose(along[90.0], 16.0, rtol=1e-5)
    np.testing.assert_allclose(along[-180.0], 31.0, rtol=1e-5)
    np.testing.assert_allclose(along[-90.0], 100.0, rtol=1e-6)
    # 45 degrees: the border y = 200 at (52, 200), 16 sqrt(2) away
    np.testing.assert_allclose(along[45.0], 16 * math.sqrt(2), rtol=1e-5)
    # The exit (31, 20) from (36, 184) is at atan2(-164, -5) = 268.3 degrees:
    # the 225-315 slice. Turned by 90 degrees, the bearing is 178.3: 135-225.
    np.testing.assert_array_equal(maze.radar(maze.start_robot()), [0, 0, 0, 1])
    turned = maze.start_robot().replace(heading=jnp.float32(90.0))
    np.testing.assert_array_equal(maze.radar(turned), [0, 0, 1, 0])


def test_walls_stop_the_robot():
    # Full throttle along +x from the start: the wall (77, 200)-(108, 164)
    # lies 54.8 ahead. The robot's centre never comes within 8 of any wall,
    # it stops within one step (speed 3) of that, and stays stopped.
    _, path = jax.jit(_drive, static_argnums=2)(maze.start_robot(), FORWARD, 60)
    gaps = np.asarray(jax.vmap(maze.wall_distance)(path))
    assert gaps.min() >= maze.RADIUS
    assert maze.RADIUS <= gaps[-1] < maze.RADIUS + maze.MAX_SPEED
    np.testing.assert_array_equal(path[-1], path[-10])
    assert 70.0 < float(path[-1, 0]) < 90.78 and float(path[-1, 1]) == 184.0
    # Into the border y = 200 (16 ahead at heading 90): stops at y <= 192.
    up = maze.start_robot().replace(heading=jnp.float32(90.0))
    _, path = _drive(up, FORWARD, 30)
    assert float(path[:, 1].max()) <= 200.0 - maze.RADIUS
    assert float(path[-1, 1]) > 200.0 - maze.RADIUS - maze.MAX_SPEED


def test_reaching_the_exit_terminates_with_reward_one():
    # Placed at (31, 30) facing -y (270 degrees), 10 from the exit (31, 20):
    # speeds 0.5, 1, 1.5, 2, 2.5 cover 0.5, 1.5, 3, 5, 7.5, so the fifth step
    # ends 2.5 from the exit, inside the 5.0 radius; the fourth ends 5 away.
    env = maze.HardMaze()
    params = env.default_params
    _, state = env.reset(jax.random.key(0), params)
    robot = state.robot.replace(
        pos=jnp.array([31.0, 30.0], jnp.float32), heading=jnp.float32(270.0)
    )
    state = state.replace(robot=robot)
    step = jax.jit(env.step)
    for t in range(5):
        obs, state, reward, terminated, truncated, info = step(
            jax.random.key(t), state, FORWARD, params
        )
        assert bool(terminated) == (t == 4) and not bool(truncated)
        assert float(reward) == (1.0 if t == 4 else 0.0)
    np.testing.assert_allclose(info["pos"], [31.0, 22.5], atol=1e-4)
    # auto-reset on the same step; final_observation is the exit's
    np.testing.assert_allclose(state.robot.pos, maze.START)
    assert int(state.time) == 0
    chex.assert_trees_all_equal(obs, env.reset(jax.random.key(9), params)[0])
    assert not np.array_equal(info["final_observation"], obs)


# Through the maze by hand: around the first diagonal, along the bottom, up
# the right-hand corridor, round the end of the wall at (87, 91), over the top
# and left along the top border to the exit.
WAYPOINTS = jnp.array(
    [(70, 176), (115, 148), (140, 182), (182, 182), (178, 150), (80, 100),
     (70, 75), (110, 62), (160, 58), (165, 18), (31, 18)],
    jnp.float32,
)  # fmt: skip


def _steer(robot, target):
    """Outputs that turn toward ``target`` and speed up once facing it."""
    to_target = target - robot.pos
    want = jnp.rad2deg(jnp.arctan2(to_target[1], to_target[0]))
    error = jnp.mod(want - robot.heading + 180.0, 360.0) - 180.0
    turn = jnp.clip(0.5 * error, -3.0, 3.0)
    speed = jnp.where(jnp.abs(error) < 20.0, 3.0, 0.5)
    return jnp.stack([turn - robot.angular_velocity, speed - robot.speed]) + 0.5


def test_a_hand_written_controller_solves_the_maze():
    # The controller reads the true position (not the sensors): it shows the
    # exit can be reached within 400 steps and that doing so is one reward of
    # 1 and a termination, with no truncation before it.
    env = maze.HardMaze()
    params = env.default_params
    _, state = env.reset(jax.random.key(0), params)

    def step(carry, key):
        state, i = carry
        action = _steer(state.robot, WAYPOINTS[i])
        _, state, reward, terminated, truncated, info = env.step(
            key, state, action, params
        )
        reached = jnp.linalg.norm(info["pos"] - WAYPOINTS[i]) < 6.0
        i = jnp.minimum(i + reached, len(WAYPOINTS) - 1)
        return (state, i), (reward, terminated, truncated, info["pos"])

    keys = jax.random.split(jax.random.key(1), maze.NUM_STEPS)
    _, (reward, terminated, truncated, path) = jax.jit(
        lambda s: jax.lax.scan(step, (s, jnp.int32(0)), keys)
    )(state)
    assert bool(terminated.any()) and not bool(truncated.any())
    end = int(np.argmax(np.asarray(terminated)))
    assert float(reward.sum()) == 1.0 and float(reward[end]) == 1.0
    assert float(maze.exit_distance(path[end])) < maze.EXIT_RADIUS
    gaps = jax.vmap(maze.wall_distance)(path[: end + 1])
    assert float(gaps.min()) >= maze.RADIUS


def test_gymnax_contract_one_trace_determinism_and_dtypes():
    env = maze.HardMaze()
    params = env.default_params.replace(max_steps_in_episode=3)
    k_reset, k_act, key = jax.random.split(jax.random.key(0), 3)
    obs, state = env.reset(k_reset, params)
    assert env.observation_space(params).contains(obs)
    assert obs.shape == (maze.NUM_INPUTS,) and obs.dtype == jnp.float32
    action = env.action_space(params).sample(k_act)
    assert env.action_space(params).contains(action) and action.shape == (2,)
    traces = []
    step = jax.jit(lambda k, s, a: (traces.append(1), env.step(k, s, a, params))[1])
    first = step(key, state, action)
    step(jax.random.key(1), state, action * 0.5)
    assert len(traces) == 1
    chex.assert_trees_all_equal(first, step(key, state, action))
    _, state2, reward, terminated, truncated, info = first
    assert reward.shape == () and reward.dtype == jnp.float32
    assert terminated.dtype == jnp.bool_ and truncated.dtype == jnp.bool_
    assert {"terminated", "truncated", "final_observation", "pos"} <= set(info)
    chex.assert_trees_all_equal_shapes_and_dtypes(state2, state)
    # third step hits the limit: truncated, not terminated, reset to the start
    state3 = step(key, step(key, state2, action)[1], action)
    assert bool(state3[4]) and not bool(state3[3]) and int(state3[1].time) == 0
    # no float64 anywhere, even with x64 on
    with jax.enable_x64(True):
        out = jax.eval_shape(env.step, key, state, action, params)
        scored = jax.eval_shape(maze.hard_maze_score, jnp.zeros((2, 67)), None)
    for leaf in jax.tree.leaves((out, scored)):
        assert leaf.dtype in (jnp.float32, jnp.int32, jnp.bool_), leaf.dtype


def test_vmapped_steps_equal_single_steps():
    env = maze.HardMaze()
    params = env.default_params
    keys = jax.random.split(jax.random.key(3), 3)
    _, states = jax.vmap(env.reset, in_axes=(0, None))(keys, params)
    actions = jnp.array([[0.5, 1.0], [1.0, 1.0], [0.0, 0.2]], jnp.float32)
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    for _ in range(3):
        out = step(keys, states, actions, params)
        for i in range(3):
            row = jax.tree.map(lambda x, i=i: x[i], (keys, states, actions))
            single = env.step(*row, params)
            chex.assert_trees_all_close(
                jax.tree.map(lambda x, i=i: x[i], out), single, atol=1e-5
            )
        states = out[1]
    assert len({tuple(np.asarray(p)) for p in states.robot.pos}) == 3


def test_task_shapes_bounds_and_determinism():
    task = qd.make_task("hard-maze")
    assert task.genotype_dim == 67 and task.genotype_bounds == (-5.0, 5.0)
    genotypes = jax.random.uniform(jax.random.key(1), (16, 67), minval=-5, maxval=5)
    score = jax.jit(task.score_fn)
    fitness, descriptors, extras = score(genotypes, jax.random.key(0))
    assert fitness.shape == (16,) and descriptors.shape == (16, 2)
    assert fitness.dtype == descriptors.dtype == jnp.float32
    assert extras["is_solved"].shape == (16,) and extras["is_solved"].dtype == bool
    assert float(fitness.min()) >= task.min_fitness and float(fitness.max()) <= 1.0
    inner = (maze.RADIUS + 5.0, 200.0 - maze.RADIUS)  # inside the border walls
    assert float(descriptors.min()) >= inner[0] and float(descriptors.max()) <= inner[1]
    # the fitness is the final position's progress toward the exit
    progress = 1.0 - maze.exit_distance(descriptors) / maze.INITIAL_DISTANCE
    np.testing.assert_allclose(fitness, np.maximum(progress, 0.01), rtol=1e-5)
    assert len({tuple(np.asarray(d)) for d in descriptors}) > 8  # they differ
    chex.assert_trees_all_equal(
        (fitness, descriptors, extras), score(genotypes, jax.random.key(5))
    )


def test_a_controller_that_stands_still_scores_the_floor():
    # All weights 0: both outputs are sigmoid(0) = 0.5 and change nothing, so
    # the robot stays at the start: d = d0, and the fitness is floored to 0.01.
    genotype = jnp.zeros((1, 67))
    fitness, descriptors, extras = maze.hard_maze_score(genotype)
    np.testing.assert_allclose(descriptors, [maze.START])
    np.testing.assert_allclose(fitness, [0.01])
    assert not bool(extras["is_solved"][0])


@pytest.mark.parametrize("bad", [66, 100, 2, 0, 67.0, True])
def test_task_rejects_a_genotype_size_no_mlp_has(bad):
    with pytest.raises(ValueError, match="genotype_dim must be 13 \\* h \\+ 2"):
        qd.make_task("hard-maze", genotype_dim=bad)
    assert qd.make_task("hard-maze", genotype_dim=15).genotype_dim == 15


def test_plot_maze_writes_a_figure(tmp_path):
    path = tmp_path / "maze.png"
    maze.plot_maze(np.array([[36.0, 184.0], [100.0, 50.0]]), path)
    assert path.stat().st_size > 1000


# two QD programs compiled on the maze (about 11 s in the CI run; both
# algorithms' own run tests stay in the default run): --exhaustive
@pytest.mark.exhaustive
def test_map_elites_and_novelty_search_run_on_the_task():
    from jaxrl.algos import map_elites, novelty_search

    task = qd.make_task("hard-maze", genotype_dim=15)
    sizes = {"genotype_dim": 15, "batch_size": 8, "num_iterations": 2}
    me_config = map_elites.Config(**sizes, grid_cells=10)
    # the port's threshold archive in maze units: 6.0 at first, floor 0.25
    ns_config = novelty_search.Config(
        **sizes, population_size=8, insertion="threshold", num_neighbours=4
    )
    ns_hparams = novelty_search.HParams(novelty_threshold=6.0, threshold_floor=0.25)
    runs = {
        "map-elites": (map_elites.make_run(me_config, task), map_elites.HParams()),
        "novelty-search": (novelty_search.make_run(ns_config, task), ns_hparams),
    }
    for name, (run, hparams) in runs.items():
        out = jax.jit(run)(jax.random.key(0), hparams)
        coverage = np.asarray(out.metrics.coverage)
        assert coverage.shape == (2,) and 0 < coverage[-1] <= 1, name
        best = np.asarray(out.metrics.max_fitness)[-1]
        assert 0.0099 < best <= 1.0, name
