"""AURORA: container insertion and rebuilding by hand, the size control's
arithmetic and rebuild, the training and control schedules, coverage of NaN
descriptors, the tasks' observations, config checks, and one engine run (one
compilation, the training at init, the schedules and e_prev in the metrics,
members' codes equal to the trained encoder's codes of their observations);
with --exhaustive, a resumed run equal to the uninterrupted one."""

import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from compile_count import compilations, warm_up
from rich.console import Console

import jaxrl
from jaxrl.algos import aurora
from jaxrl.algos.map_elites.archive import grid_archive
from jaxrl.envs import qd

QUIET = Console(quiet=True)
insert = jax.jit(aurora.insert)
rebuild = jax.jit(aurora.rebuild)
size_control = jax.jit(aurora.size_control)


def _container(codes, fitness, capacity=6):
    """A container with 1-D codes ``codes`` in its first slots; a member's
    genotype, observation and task descriptor are its code."""
    n = len(codes)
    column = jnp.zeros((capacity, 1)).at[:n, 0].set(jnp.asarray(codes, jnp.float32))
    empty = aurora.empty_container(capacity, 1, 1, 1, 1)
    return empty.replace(
        descriptors=column,
        genotypes=column,
        observations=column,
        task_descriptors=column,
        fitness=jnp.full((capacity,), -jnp.inf).at[:n].set(jnp.asarray(fitness)),
        is_valid=jnp.arange(capacity) < n,
    )


def _insert(container, codes, fitness, observations=None, candidate=None, task=None):
    codes = jnp.asarray(codes, jnp.float32)[:, None]
    obs = codes if observations is None else jnp.asarray(observations)[:, None]
    task = codes if task is None else jnp.asarray(task, jnp.float32)[:, None]
    candidate = jnp.ones(len(codes), bool) if candidate is None else candidate
    return insert(
        container, codes, jnp.asarray(fitness, jnp.float32), codes, task, obs,
        0.3, jnp.asarray(candidate),
    )  # fmt: skip


# --------------------------------------------------------------------------
# the container


def test_insertion_rules_on_a_hand_built_batch():
    # members: A at 0 (f 1), B at 0.5 (f 1), C at 5 (f 2); slots 3-5 empty; l 0.3
    container = _container([0.0, 0.5, 5.0], [1.0, 1.0, 2.0])
    codes = [0.25, 5.2, 4.8, 10.0, 10.2, 20.0, -3.0, -3.2, -0.2, 30.0, 60.0]
    fitness = [9.0, 3.0, 2.5, 1.0, 2.0, jnp.nan, 0.5, 0.5, 0.5, 1.0, 1.0]
    obs = [*codes[:9], jnp.nan, 60.0]
    task = [*codes[:10], jnp.nan]
    # r0 at 0.25: A and B both 0.25 away, the second nearest within l: dropped
    # r1 at 5.2: C within l (0.2), the next far: competes, 3 > 2, replaces C
    # r2 at 4.8: C is its nearest too (0.4 from r1: no rival); r1 is fitter
    # r3 at 10, r4 at 10.2: 0.2 apart, r4 fitter knocks r3 out; new slot 3
    # r5: NaN fitness, r9: NaN observation, r10: NaN task descriptor (its
    # code and observation finite): never inserted, counted
    # r6 at -3, r7 at -3.2, equal fitness: the lower index wins; new slot 4
    # r8 at -0.2: A within l, B 0.7 away: competes with A, 0.5 < 1, loses
    out, done = _insert(container, codes, fitness, obs, task=task)
    np.testing.assert_array_equal(out.is_valid, [1, 1, 1, 1, 1, 0])
    np.testing.assert_allclose(out.descriptors[:5, 0], [0.0, 0.5, 5.2, 10.2, -3.0])
    np.testing.assert_array_equal(out.fitness, [1, 1, 3, 2, 0.5, -jnp.inf])
    np.testing.assert_allclose(out.observations[:5, 0], [0.0, 0.5, 5.2, 10.2, -3.0])
    assert not np.isnan(np.asarray(out.task_descriptors)).any()
    assert (int(done.num_inserted), int(done.num_overflow)) == (3, 0)
    assert int(done.num_rejected) == 3 and int(out.num_added) == 3
    # one slot left: q0 takes it, q1 (far from everyone) overflows; the rows
    # that are not candidates are neither inserted nor counted
    candidate = jnp.arange(11) < 2
    full, done = _insert(out, [40.0, 50.0] + [0.0] * 9, [1.0] * 11, None, candidate)
    np.testing.assert_array_equal(full.is_valid, np.ones(6, bool))
    assert float(full.descriptors[5, 0]) == 40.0
    assert (int(done.num_inserted), int(done.num_overflow), int(done.num_rejected)) == (
        1, 1, 0,
    )  # fmt: skip
    assert (int(full.num_added), int(full.num_overflow)) == (4, 1)


def test_rebuild_reinserts_every_member_with_new_codes():
    # members at 0, 1, 2, 3 with fitness 1, 4, 2, 3; new codes 0, 0.2, 5, 5.1:
    # slots 0 and 1 now within l (slot 1 fitter), slots 2 and 3 too (3 fitter)
    container = _container([0.0, 1.0, 2.0, 3.0], [1.0, 4.0, 2.0, 3.0])
    container = container.replace(num_added=jnp.int32(7), num_overflow=jnp.int32(2))
    codes = jnp.array([[0.0], [0.2], [5.0], [5.1], [0.0], [0.0]])
    out = rebuild(container, codes, 0.3)
    np.testing.assert_array_equal(out.is_valid, [1, 1, 0, 0, 0, 0])
    np.testing.assert_allclose(out.descriptors[:2, 0], [0.2, 5.1])
    np.testing.assert_allclose(out.observations[:2, 0], [1.0, 3.0])  # kept along
    np.testing.assert_array_equal(out.fitness[:2], [4.0, 3.0])
    assert (int(out.num_added), int(out.num_overflow)) == (7, 2)


def test_size_control_rebuilds_with_the_new_threshold():
    # members at 0, 0.35, 0.7, 5 (fitness 1, 3, 2, 1), l 0.3, target 2:
    # e = 2, e - e_prev = 2 - 0 = 2, l = 0.3 + 0.05 (2) + 0.05 (2) = 0.5: the
    # container is rebuilt at once, 0.35 (fitter) knocks out 0 and 0.7
    container = _container([0.0, 0.35, 0.7, 5.0], [1.0, 3.0, 2.0, 1.0])
    out, threshold, error = size_control(container, 0.3, 0.0, 2, 0.05)
    np.testing.assert_allclose(float(threshold), 0.5, rtol=1e-6)
    assert float(error) == 2.0
    np.testing.assert_array_equal(out.is_valid, [1, 1, 0, 0, 0, 0])
    np.testing.assert_allclose(out.descriptors[:2, 0], [0.35, 5.0])
    np.testing.assert_array_equal(out.fitness[:2], [3.0, 1.0])
    # l shrinking (e < 0) keeps every member
    out, threshold, _ = size_control(container, 0.3, 0.0, 6, 0.05)
    np.testing.assert_allclose(float(threshold), 0.1, rtol=1e-5)
    assert int(out.size) == 4


def test_coverage_skips_nan_descriptors():
    # a 2 x 2 grid on [0, 1]^2: a NaN descriptor and a -inf fitness reach
    # nothing; a descriptor outside the box counts in the edge cell
    grid = aurora.Aurora(
        container=None, model=None, emitter=None, batch_size=3,
        coverage_grid=grid_archive(1, (2, 2), (0.0, 0.0), (1.0, 1.0)),
    )  # fmt: skip
    reached = grid._reach(
        jnp.zeros((4,), bool),
        jnp.array([1.0, 1.0, -jnp.inf, 1.0]),
        jnp.array([[jnp.nan, 0.1], [0.1, 0.1], [0.9, 0.1], [jnp.inf, 0.9]]),
    )
    np.testing.assert_array_equal(reached, [True, False, False, True])


def test_size_control_arithmetic():
    # e = 30 - 50 = -20; e - e_prev = -20 - (-10) = -10;
    # l = 0.2 + 1e-3 (-20) + 1e-3 (-10) = 0.17
    threshold, error = aurora.control_threshold(0.2, -10.0, 30, 50, 1e-3)
    assert float(error) == -20.0
    np.testing.assert_allclose(float(threshold), 0.17, rtol=1e-6)
    # then 70 members: e = 20, e - e_prev = 40; l = 0.17 + 0.02 + 0.04 = 0.23
    threshold, error = aurora.control_threshold(threshold, error, 70, 50, 1e-3)
    np.testing.assert_allclose(float(threshold), 0.23, rtol=1e-6)
    assert float(error) == 20.0


def test_training_schedule_gaps_grow_linearly():
    # QDax: base 2, trainings after 2, 6, 12, 20 (gaps 2, 4, 6, 8)
    config = aurora.Config(schedule_base=2, num_iterations=25, genotype_dim=4)
    assert config.training_iterations == (2, 6, 12, 20)
    assert aurora.Config(num_iterations=100).training_iterations == (10, 30, 60, 100)
    # the traced schedule that the state carries gives the same iterations
    next_training, gap, seen = jnp.int32(2), jnp.int32(2), []
    for iteration in range(1, 26):
        if bool(aurora.is_training_iteration(iteration, next_training)):
            seen.append(iteration)
            next_training, gap = aurora.advance_schedule(next_training, gap, 2)
    assert seen == [2, 6, 12, 20]
    # QDax controls after scans 1, 3, 5, ... of 5 iterations and trains after
    # scans 2, 6, 12, ...: with the defaults they never meet
    default = aurora.Config(num_iterations=100)
    assert default.control_iterations == tuple(range(5, 100, 10))
    # where they meet, the iteration only trains
    config = aurora.Config(
        schedule_base=2, control_every=2, control_start=2, num_iterations=12,
        genotype_dim=4,
    )  # fmt: skip
    assert config.control_iterations == (4, 8, 10)
    # run_if: fn where the predicate holds, per run under vmap
    out = jax.vmap(lambda p, x: aurora.run_if(p, lambda y: y + 1, x))(
        jnp.array([True, False]), jnp.array([10, 20])
    )
    np.testing.assert_array_equal(out, [11, 20])


# --------------------------------------------------------------------------
# the autoencoder's training, as QDax's example


def test_training_rows_are_members_drawn_with_replacement():
    draw = jax.jit(aurora.training_rows, static_argnums=2)
    is_member = jnp.array([False, True, False, True, True, False])
    rows = np.asarray(draw(jax.random.key(0), is_member, 3000))
    counts = np.bincount(rows, minlength=6)
    assert counts[[0, 2, 5]].sum() == 0  # never an empty slot
    # uniform over the 3 members: 1000 each, std ~26
    assert (np.abs(counts[[1, 3, 4]] - 1000) < 130).all(), counts
    # with replacement: 6 rows from 3 members repeat some
    assert len(set(np.asarray(draw(jax.random.key(1), is_member, 6)))) <= 3
    np.testing.assert_array_equal(draw(jax.random.key(0), is_member & False, 4), 0)


def test_training_starts_from_the_initial_parameters():
    # QDax's example hands its initial model_params to every training: the
    # trained encoder must not depend on the current one (warm_start: it
    # does); a container without members trains nothing
    model = aurora.AutoEncoder(1, 1, 4, 0)
    params = model.init(jax.random.key(0), jnp.zeros((1, 1)))
    zero = jnp.int32(0)
    state = aurora.AuroraState(
        container=_container([0.1, 0.5, 0.9, 0.3], [0.0] * 4), encoder_params=params,
        initial_params=params, normaliser=aurora.Normaliser(jnp.zeros(1), 1.0),
        threshold=jnp.float32(0.01), previous_error=jnp.float32(0), iteration=zero,
        next_training=zero, training_gap=zero, num_trainings=zero,
        training_loss=jnp.float32(0), best_fitness=jnp.float32(0),
        best_genotype=jnp.zeros(1), is_reached=jnp.zeros(0, bool), emitter_state=(),
    )  # fmt: skip
    moved = state.replace(encoder_params=jax.tree.map(lambda x: x + 1.0, params))
    empty = moved.replace(container=_container([], []))
    batch = jax.tree.map(lambda *x: jnp.stack(x), state, moved, empty)
    hp = aurora.HParams(learning_rate=1e-2)
    fitted = {}
    for warm in (False, True):
        algorithm = aurora.Aurora(
            container=state.container, model=model, emitter=None, batch_size=4,
            train_batch_size=4, num_epochs=2, warm_start=warm,
        )  # fmt: skip
        fit = jax.jit(jax.vmap(algorithm._fit, in_axes=(None, 0, None)))
        out = fit(jax.random.key(1), batch, hp)
        fitted[warm] = jax.tree.map(lambda x: np.asarray(x[0] != x[1]),
                                    out.encoder_params)  # fmt: skip
        # no member: the parameters it started from, and a loss of 0
        start = moved.encoder_params if warm else params
        jax.tree.map(lambda x, y: np.testing.assert_array_equal(x[2], y),
                     out.encoder_params, start)  # fmt: skip
        assert float(out.training_loss[2]) == 0.0 < float(out.training_loss[0])
    assert not any(np.any(leaf) for leaf in jax.tree.leaves(fitted[False]))
    assert all(np.all(leaf) for leaf in jax.tree.leaves(fitted[True]))


# --------------------------------------------------------------------------
# observations and checks


def test_tasks_report_observations():
    # 2 joints at x = 0.5: theta = (0, 0), both links along +x, length 1/2
    # each: link ends (0.5, 0) and (1, 0), mapped to (0.75, 0.5) and (1, 0.5)
    _, descriptors, extras = qd.arm_score(jnp.array([[0.5, 0.5]]))
    np.testing.assert_allclose(extras["observation"], [[0.75, 0.5, 1.0, 0.5]])
    np.testing.assert_allclose(extras["observation"][:, -2:], descriptors)
    # the hard maze: 40 points (every 10th of 400 steps), is_solved kept
    maze = qd.make_task("hard-maze")
    shapes = jax.eval_shape(
        maze, jax.ShapeDtypeStruct((3, 67), jnp.float32), jax.random.key(0)
    )
    assert shapes[2]["observation"].shape == (3, 80)
    assert shapes[2]["observation"].dtype == jnp.float32
    assert shapes[2]["is_solved"].shape == (3,) and shapes[2]["is_solved"].dtype == bool
    assert aurora.observation_size(maze, 67) == 80
    assert aurora.observation_size(qd.arm(7), 7) == 14


def test_config_hparams_and_task_checks():
    with pytest.raises(ValueError, match="Config.target_size"):
        aurora.Config(target_size=300, archive_capacity=256)
    with pytest.raises(ValueError, match="Config.num_epochs must be an int >= 1"):
        aurora.Config(num_epochs=0)
    with pytest.raises(ValueError, match="Config.schedule_base"):
        aurora.Config(schedule_base=0)
    with pytest.raises(ValueError, match="Config.emitter: unknown emitter"):
        aurora.Config(emitter="cma")
    with pytest.raises(ValueError, match="Config.latent_size must be an int"):
        aurora.Config(latent_size=2.5)
    with pytest.raises(ValueError, match="HParams.learning_rate"):
        aurora.check_hparams(aurora.HParams(learning_rate=0.0))
    with pytest.raises(ValueError, match="HParams.control_gain"):
        aurora.check_hparams(aurora.HParams(control_gain=-1e-5))
    config = aurora.Config(genotype_dim=4)

    def no_observation(genotypes, key):
        return qd.arm_score(genotypes)[:2] + ({},)

    bare = qd.Task("bare-arm", no_observation, 4, (0.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    with pytest.raises(ValueError, match=r"'bare-arm' to return extras\['observation'"):
        aurora.make_program(config, bare)

    def flat_observation(genotypes, key):
        fitness, descriptors, extras = qd.arm_score(genotypes)
        return fitness, descriptors, {"observation": extras["observation"][:, 0]}

    flat = qd.Task("flat-arm", flat_observation, 4, (0.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    with pytest.raises(ValueError, match=r"'flat-arm': extras\['observation'\] must"):
        aurora.make_program(config, flat)


# --------------------------------------------------------------------------
# a whole run


def test_engine_run_one_compilation_schedules_and_reindexing(tmp_path):
    # 6 iterations in 3 chunks; a training at init and after iterations 2 and
    # 6; the size control every iteration from 1 that does not train (1, 3,
    # 4, 5). target = capacity and at most 48 members: e < 0 and
    # 2 e - e_prev < 0 at every control, so l only shrinks, the control's
    # rebuild keeps every member and archive_size is the size it saw
    warm_up(tmp_path / "warm")
    config = aurora.Config(
        genotype_dim=4, batch_size=8, num_iterations=6, archive_capacity=128,
        target_size=128, latent_size=2, encoder_width=8, encoder_depth=0,
        train_batch_size=16, num_epochs=3, num_epochs_late=2, late_after=3,
        schedule_base=2, control_every=1, control_start=1, coverage_cells=8,
        emitter="gaussian",
    )  # fmt: skip
    assert config.control_iterations == (1, 3, 4, 5)
    gain = 1e-4
    hparams = aurora.HParams(learning_rate=1e-2, control_gain=gain)
    program = aurora.make_program(config, qd.arm(4), "arm")
    start = compilations()
    result = jaxrl.run(
        program, hparams, seeds=2, progress=False, console=QUIET, chunk_steps=2
    )
    # init and the chunk function, once each whatever the number of chunks
    assert compilations() - start <= 2
    history = result.history
    for name, values in history.items():
        assert np.isfinite(values).all(), name
    np.testing.assert_array_equal(history["num_trainings"], [[1, 2, 2, 2, 2, 3]] * 2)
    assert (history["training_loss"][:, 0] > 0).all()  # trained at init
    # l: 0.2 until the control at 1, then l + K e + K (e - e_prev), e = size -
    # 128; unchanged on the training iterations 2 and 6
    threshold = history["threshold"].astype(np.float64)
    error = history["archive_size"] - 128.0
    # e_prev at iteration 1 is init's e = init size - 128, init size in 1..8
    first = 2 * error[:, 0] - (threshold[:, 0] - 0.2) / gain
    np.testing.assert_allclose(first, np.round(first), atol=0.02)
    assert ((np.round(first) >= -127) & (np.round(first) <= -120)).all()
    for now, before in ((2, 0), (3, 2), (4, 3)):  # iterations 3, 4, 5
        grown = gain * (2 * error[:, now] - error[:, before])
        np.testing.assert_allclose(
            threshold[:, now], threshold[:, now - 1] + grown, rtol=0, atol=1e-6
        )
    np.testing.assert_array_equal(
        history["threshold"][:, 1], history["threshold"][:, 0]
    )
    np.testing.assert_array_equal(
        history["threshold"][:, 5], history["threshold"][:, 4]
    )
    assert (np.diff(threshold[:, :5], axis=1) <= 0).all()
    # the run ended on a training: every member's code is the trained
    # encoder's code of its stored observation
    state = result.state.aurora
    model = aurora.AutoEncoder(8, 2, 8, 0)  # the arm's 4 link ends: 8 values
    for run in range(2):
        one = jax.tree.map(lambda x, run=run: x[run], state)
        valid = np.asarray(one.container.is_valid)
        assert valid.sum() > 1
        codes = aurora.encode(
            model, one.encoder_params, one.normaliser, one.container.observations
        )
        np.testing.assert_allclose(
            np.asarray(one.container.descriptors)[valid],
            np.asarray(codes)[valid], rtol=1e-5, atol=1e-6,
        )  # fmt: skip
    final = result.final  # what results.json's "final" block holds
    assert set(final) == set(aurora.AuroraMetrics._fields)
    shared = {"coverage", "archive_coverage", "archive_size", "max_fitness",
              "threshold", "num_inserted", "num_overflow", "num_rejected"}  # fmt: skip
    assert shared <= set(final)
    assert all(0 < c <= 1 for c in final["coverage"])
    assert program.description["algorithm"] == "aurora"
    assert program.description["config"]["qd_offset"] == pytest.approx(-(np.pi**2))


@pytest.mark.exhaustive
def test_resume_equals_the_uninterrupted_run(tmp_path):
    # a training at init and after 2, 6; controls at 1, 3, 5 (QDax's
    # interleaving); resumed from the checkpoint after iteration 4
    config = aurora.Config(
        genotype_dim=4, batch_size=8, num_iterations=6, archive_capacity=16,
        target_size=8, latent_size=2, encoder_width=8, encoder_depth=0,
        train_batch_size=4, num_epochs=3, num_epochs_late=2, late_after=3,
        schedule_base=2, control_every=2, control_start=1, coverage_cells=8,
        emitter="gaussian",
    )  # fmt: skip
    hparams = aurora.HParams(learning_rate=1e-2, control_gain=1e-2)
    program = aurora.make_program(config, qd.arm(4), "arm")
    out = tmp_path / "run"
    result = jaxrl.run(
        program, hparams, seeds=2, progress=False, console=QUIET, chunk_steps=2,
        checkpoint_every=1, out=out,
    )  # fmt: skip
    assert (np.diff(result.history["threshold"], axis=1) != 0).any()
    results = out / "results.json"
    results.write_text(results.read_text().replace('"done"', '"interrupted"'))
    shutil.rmtree(out / "checkpoints" / "6")
    resumed = jaxrl.resume(out, program, progress=False, console=QUIET)
    for name in result.history:
        np.testing.assert_array_equal(resumed.history[name], result.history[name])
    same = np.testing.assert_array_equal
    jax.tree.map(same, resumed.state.aurora, result.state.aurora)
    same(jax.random.key_data(resumed.state.key), jax.random.key_data(result.state.key))
