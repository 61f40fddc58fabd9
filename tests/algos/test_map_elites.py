"""MAP-Elites: cell lookup against brute force, insertion rules, emitter
statistics, metrics, and whole runs through the engine (one compilation,
coverage, resume)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from compile_count import compilations, warm_up
from rich.console import Console
from run_dirs import rewind_to_older_checkpoint

import jaxrl
from jaxrl import algorithms
from jaxrl.algos import map_elites as me
from jaxrl.envs import qd

QUIET = Console(quiet=True)
TINY = me.Config(genotype_dim=8, batch_size=16, num_iterations=6, grid_cells=8)
# jitted once per shape: eager dispatch compiles every small op on its own
insert = jax.jit(me.insert)
cell_index = jax.jit(me.cell_index)
archive_metrics = jax.jit(me.archive_metrics)


def _grid(genotype_dim=1, shape=(2, 2), low=(0.0, 0.0), high=(1.0, 1.0)):
    return me.grid_archive(genotype_dim, shape, low, high)


# --------------------------------------------------------------------------
# cells


def test_grid_index_is_the_nearest_cell_centre():
    archive = _grid(shape=(7, 5), low=(-1.0, 2.0), high=(3.0, 4.5))
    d = jax.random.uniform(jax.random.key(0), (2000, 2), minval=-2.0, maxval=6.0)
    cells = np.asarray(cell_index(archive, d))
    # brute force over the centres, on descriptors clipped to the box
    clipped = np.clip(np.asarray(d), archive.low, archive.high)
    dist = ((clipped[:, None, :] - np.asarray(archive.centroids)[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(cells, dist.argmin(1))
    # row-major ravel: first axis slowest
    centres = np.asarray(archive.centroids)
    assert centres[1, 0] == centres[0, 0] and centres[5, 0] > centres[4, 0]
    # edges: the upper bound itself and anything beyond go to the last bins
    corners = jnp.array([[3.0, 4.5], [1e9, -1e9], [-jnp.inf, jnp.inf]])
    np.testing.assert_array_equal(cell_index(archive, corners), [34, 30, 4])


def test_cvt_nearest_centroid_and_centroids_from_a_key():
    key = jax.random.key(3)
    centroids = me.cvt_centroids(key, 40, (0.0, -1.0), (2.0, 1.0), 2000, 10)
    again = me.cvt_centroids(key, 40, (0.0, -1.0), (2.0, 1.0), 2000, 10)
    np.testing.assert_array_equal(centroids, again)
    c = np.asarray(centroids)
    assert c.shape == (40, 2) and len(np.unique(c, axis=0)) == 40
    assert c.min(0)[0] >= 0 and c.max(0)[0] <= 2 and c.min(0)[1] >= -1
    other = me.cvt_centroids(jax.random.key(4), 40, (0.0, -1.0), (2.0, 1.0), 2000, 10)
    assert not np.array_equal(c, np.asarray(other))
    archive = me.cvt_archive(3, c, (0.0, -1.0), (2.0, 1.0))
    points = np.asarray(jax.random.uniform(key, (1000, 2))) * [2, 2] - [0, 1]
    cells = np.asarray(cell_index(archive, points))
    dist = ((points[:, None, :] - c[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(cells, dist.argmin(1))


@pytest.mark.parametrize("dims", [2, 3])
def test_cvt_lookup_table_equals_brute_force(dims):
    """Archives of >= 64 centroids look cells up through a coarse grid of
    candidates; on random, edge and duplicated-distance points it gives the
    brute-force argmin (ties to the lowest index) in 2 and 3 dimensions."""
    low, high = (0.0,) * dims, (1.0,) + (2.0,) * (dims - 1)
    c = np.asarray(me.cvt_centroids(jax.random.key(5), 200, low, high, 4000, 5))
    c = np.concatenate([c, c[:3]])  # exact duplicates: ties in distance
    archive = me.cvt_archive(2, c, low, high)
    assert archive.lookup is not None and archive.lookup.shape[1] < len(c) // 4
    rng = np.random.default_rng(0)
    points = rng.uniform(low, high, (20_000, dims)).astype(np.float32)
    edges = np.array([low, high, c[0], c[-1]], np.float32)
    points = np.concatenate([points, edges, c.astype(np.float32)])
    cells = np.asarray(cell_index(archive, points))
    expected = np.asarray(me.nearest_centroid(jnp.asarray(points), jnp.asarray(c)))
    np.testing.assert_array_equal(cells, expected)
    assert cells.max() < 200  # a duplicate never wins over its lower original


# --------------------------------------------------------------------------
# insertion


def test_insertion_rules_on_a_hand_built_batch():
    archive = _grid()  # 2 x 2 cells over [0, 1]^2: cell = 2 * bin_x + bin_y
    nan = jnp.nan
    descriptors = jnp.array(
        [
            [0.1, 0.1],  # 0: cell 0, fitness 1
            [0.2, 0.2],  # 1: cell 0, fitness 2: best of cell 0
            [0.3, 0.1],  # 2: cell 0, fitness 2: ties with 1, loses (higher index)
            [0.1, 0.9],  # 3: cell 1, NaN fitness: never inserted
            [nan, 0.9],  # 4: NaN descriptor: rejected and counted
            [0.9, 0.1],  # 5: cell 2, fitness -1
            [0.9, 0.9],  # 6: cell 3, fitness -inf: never inserted
            [5.0, -3.0],  # 7: clipped to (1, 0): edge cell 2, fitness -0.5 beats 5
        ]
    )
    fitness = jnp.array([1.0, 2.0, 2.0, nan, 5.0, -1.0, -jnp.inf, -0.5])
    genotypes = jnp.arange(8.0)[:, None]
    archive, rejected = insert(archive, genotypes, fitness, descriptors)
    np.testing.assert_array_equal(archive.fitness, [2.0, -jnp.inf, -0.5, -jnp.inf])
    np.testing.assert_array_equal(archive.genotypes[:, 0], [1.0, 0.0, 7.0, 0.0])
    np.testing.assert_allclose(archive.descriptors[2], [5.0, -3.0])  # kept as given
    assert int(rejected) == 1
    # against incumbents: equal fitness keeps the incumbent, better replaces it
    again = insert(
        archive,
        jnp.array([[10.0], [11.0], [12.0]]),
        jnp.array([2.0, -0.25, -0.75]),
        jnp.array([[0.4, 0.4], [0.8, 0.2], [0.6, 0.1]]),
    )[0]
    np.testing.assert_array_equal(again.fitness, [2.0, -jnp.inf, -0.25, -jnp.inf])
    np.testing.assert_array_equal(again.genotypes[:, 0], [1.0, 0.0, 11.0, 0.0])


def _insert_reference(fitness0, genotypes0, fitness, cells, genotypes):
    """Row by row in batch order: a strictly better row replaces the elite."""
    fit, gen = fitness0.copy(), genotypes0.copy()
    for f, c, g in zip(fitness, cells, genotypes, strict=True):
        if not np.isnan(f) and f > fit[c]:
            fit[c], gen[c] = f, g
    return fit, gen


def test_insertion_matches_a_sequential_reference_and_ignores_batch_order():
    rng = np.random.default_rng(0)
    archive = _grid(genotype_dim=2, shape=(3, 3))
    for trial in range(4):
        b = 64
        cells = rng.integers(0, 9, b)
        centres = np.asarray(archive.centroids)[cells]
        fitness = rng.integers(0, 4, b).astype(np.float32)  # many ties
        fitness[rng.random(b) < 0.1] = np.nan
        genotypes = rng.normal(size=(b, 2)).astype(np.float32)
        out, _ = insert(archive, genotypes, fitness, centres)
        fit, gen = _insert_reference(
            np.asarray(archive.fitness), np.asarray(archive.genotypes),
            fitness, cells, genotypes,
        )  # fmt: skip
        np.testing.assert_array_equal(out.fitness, fit, err_msg=f"trial {trial}")
        np.testing.assert_array_equal(out.genotypes, gen, err_msg=f"trial {trial}")
        # duplicates: rows equal in cell and fitness are equal in genotype too;
        # then any order of the batch gives the same archive
        dup = (cells * 10 + np.nan_to_num(fitness, nan=9))[:, None] * [1.0, -1.0]
        first, _ = insert(archive, dup, fitness, centres)
        perm = rng.permutation(b)
        second, _ = insert(archive, dup[perm], fitness[perm], centres[perm])
        jax.tree.map(np.testing.assert_array_equal, first, second)
        archive = out


def test_metrics_of_empty_and_filled_archives():
    empty = archive_metrics(_grid(), qd_offset=-3.0)
    assert float(empty.coverage) == 0 and float(empty.qd_score) == 0
    assert float(empty.max_fitness) == -np.inf and float(empty.mean_fitness) == -np.inf
    archive, _ = insert(
        _grid(),
        jnp.zeros((2, 1)),
        jnp.array([1.0, -2.0]),
        jnp.array([[0.1, 0.1], [0.9, 0.9]]),
    )
    m = archive_metrics(archive, qd_offset=-3.0, num_rejected=2)
    # (1 + 3) + (-2 + 3) = 5; mean (1 - 2) / 2
    assert float(m.qd_score) == 5.0 and float(m.coverage) == 0.5
    assert float(m.max_fitness) == 1.0 and float(m.mean_fitness) == -0.5
    assert int(m.archive_size) == 2 and int(m.num_rejected) == 2


# --------------------------------------------------------------------------
# emitters


def test_iso_line_statistics_along_and_across_the_line():
    n, sigma_iso, sigma_line = 40_000, 0.1, 0.5
    x_i = jnp.zeros((n, 4))
    x_j = jnp.broadcast_to(jnp.array([1.0, 1.0, 0.0, 0.0]), (n, 4))
    delta = np.asarray(me.iso_line(jax.random.key(0), x_i, x_j, sigma_iso, sigma_line))
    along = delta @ np.array([1, 1, 0, 0]) / np.sqrt(2)
    across = delta @ np.array([1, -1, 0, 0]) / np.sqrt(2)
    # along the unit vector u = (1, 1, 0, 0) / sqrt(2): iso noise gives
    # sigma_iso^2, the line noise sigma_line * g * (1, 1, 0, 0) gives
    # (sqrt(2) sigma_line)^2: 0.01 + 0.5 = 0.51. Across: sigma_iso^2 = 0.01
    # (a per-gene line draw would give 0.25 across instead)
    np.testing.assert_allclose(along.var(), sigma_iso**2 + 2 * sigma_line**2, rtol=0.05)
    np.testing.assert_allclose(across.var(), sigma_iso**2, rtol=0.05)
    np.testing.assert_allclose(delta[:, 2:].var(0), sigma_iso**2, rtol=0.05)
    assert abs(along.mean()) < 0.02 and np.abs(delta[:, 1:].mean(0)).max() < 0.01
    assert abs(np.corrcoef(along, across)[0, 1]) < 0.03


def test_emitters_stay_in_bounds_and_mix_in_fixed_shares():
    archive, _ = insert(
        _grid(genotype_dim=3),
        jnp.array([[0.0, 0.5, 1.0], [1.0, 1.0, 0.0]]),
        jnp.array([0.0, 1.0]),
        jnp.array([[0.1, 0.1], [0.9, 0.9]]),
    )
    hp = me.HParams(
        sigma_iso=1.0, sigma_line=1.0, mutation_sigma=1.0, mutation_rate=1.0
    )
    bounded = [me.make_emitter(n, genotype_bounds=(0.0, 1.0)) for n in me.OPERATORS]
    mix = me.make_emitter("iso_line:3,gaussian:1", genotype_bounds=(0.0, 1.0))
    # unbounded: polynomial mutation steps scale with the initial box, no clip
    poly = me.make_emitter("polynomial_mutation", scale_bounds=(-5.0, 5.0))

    @jax.jit  # one compilation for every emitter
    def ask_all(key, archive, hp):
        keys = jax.random.split(key, len(bounded) + 2)
        out = [
            e.ask(k, archive, (), hp, 256)[0]
            for e, k in zip(bounded, keys, strict=False)
        ]
        state = mix.init(keys[-2], archive)
        return (
            out,
            mix.ask(keys[-2], archive, state, hp, 10),
            poly.ask(keys[-1], archive, (), hp, 4096)[0],
        )

    out, (mixed, state), unbounded = ask_all(jax.random.key(1), archive, hp)
    for name, x in zip(me.OPERATORS, out, strict=True):
        assert x.shape == (256, 3) and float(x.min()) >= 0 and float(x.max()) <= 1, name
        assert float(x.max()) > float(x.min()), name
    assert me.emitters.split_counts(mix.weights, 10) == (8, 2)  # 7.5, 2.5 -> 8, 2
    assert mixed.shape == (10, 3) and state == ((), ())
    assert (
        np.isfinite(np.asarray(unbounded)).all()
        and float(jnp.abs(unbounded).max()) > 1.5
    )
    with pytest.raises(ValueError, match="leaves a part empty"):
        me.emitters.split_counts((100.0, 1.0), 50)


def test_polynomial_mutation_and_sbx_moments():
    # bounded polynomial mutation at the lower bound never goes below it
    x = jnp.zeros((20_000, 1))
    out = me.polynomial_mutation(jax.random.key(0), x, 20.0, 1.0, 0.0, 1.0, True)
    assert float(out.min()) >= 0.0 and float(out.max()) > 0.0
    # SBX child 0.5 ((1 + beta) x_i + (1 - beta) x_j) with x_i = 0, x_j = 1 is
    # (1 - beta) / 2: beta < 1 (half the draws) puts it between the parents,
    # beta > 1 beyond x_i; never past the midpoint since beta >= 0
    child = np.asarray(me.sbx_crossover(jax.random.key(1), x, x + 1.0, 2.0))
    assert child.max() <= 0.5
    np.testing.assert_allclose((child > 0).mean(), 0.5, atol=0.02)


# --------------------------------------------------------------------------
# config


def test_config_checks_and_task_values_recorded():
    with pytest.raises(ValueError, match="Config.archive"):
        me.Config(archive="hex")
    with pytest.raises(ValueError, match="Config.emitter: unknown emitter 'isoline'"):
        me.Config(emitter="isoline")
    with pytest.raises(ValueError, match="leaves a part empty"):
        me.Config(batch_size=4, emitter="iso_line:10,sbx:0.1")
    with pytest.raises(ValueError, match="qd_offset must be a finite number or 'task'"):
        me.Config(qd_offset="nan")
    with pytest.raises(ValueError, match="below descriptor_high"):
        me.Config(descriptor_low=1.0, descriptor_high="0.5")
    with pytest.raises(ValueError, match="HParams.sigma_line"):
        me.check_hparams(me.HParams(sigma_line=-1.0))
    with pytest.raises(ValueError, match="genotype_dim"):
        me.make_program(TINY, qd.make_task("arm", genotype_dim=9))
    program = me.make_program(TINY, qd.make_task("arm", genotype_dim=8), "arm")
    recorded = program.description["config"]
    assert recorded["qd_offset"] == -(np.pi**2)
    assert (recorded["descriptor_low"], recorded["descriptor_high"]) == (0.0, 1.0)
    given = me.make_program(me.Config(genotype_dim=8, qd_offset="-1.5"), qd.arm(8))
    assert given.description["config"]["qd_offset"] == -1.5


def test_bare_score_function_and_cvt_run_without_nans():
    every = ",".join(f"{name}:1" for name in me.OPERATORS)
    config = me.Config(
        genotype_dim=4, batch_size=16, num_iterations=3, archive="cvt",
        num_centroids=32, cvt_samples=1000, cvt_iterations=5,
        descriptor_low=0.0, descriptor_high=1.0, emitter=every,
    )  # fmt: skip

    def score(genotypes, key):
        return -jnp.sum(genotypes**2, -1), genotypes[:, :2], {}

    run = jax.jit(me.make_run(config, score, genotype_bounds=(0.0, 1.0)))
    with jax.debug_nans(True):
        out = run(jax.random.key(0))
    assert np.isfinite(np.asarray(jax.tree.leaves(out.metrics))).all()
    assert out.metrics.coverage.shape == (3,)
    assert out.state.qd.archive.centroids.shape == (32, 2)
    assert 0 < float(out.metrics.coverage[-1]) <= 1
    assert float(out.metrics.qd_score[-1]) <= 0  # offset 0, fitness <= 0
    with pytest.raises(ValueError, match="bare score function"):
        me.make_run(me.Config(genotype_dim=4), score, genotype_bounds=(0.0, 1.0))


# --------------------------------------------------------------------------
# whole runs


@pytest.mark.slow
def test_arm_coverage_after_a_short_run():
    # 16 joints, 16 x 16 cells, 64 x 41 evaluations. Measured over seeds 0-2:
    # 0.66, 0.64, 0.70; the same evaluations drawn uniformly (no emitter) fill
    # 0.30. Threshold 0.55.
    config = me.Config(genotype_dim=16, batch_size=64, num_iterations=40, grid_cells=16)
    run = me.make_run(config, qd.make_task("arm", genotype_dim=16))
    hp = me.HParams(sigma_iso=0.05, sigma_line=0.1)  # QDax's arm test values
    keys = jax.random.split(jax.random.key(0), 3)
    out = jax.jit(jax.vmap(run, in_axes=(0, None)))(keys, hp)
    coverage = np.asarray(out.metrics.coverage)
    assert coverage[:, -1].min() > 0.55, coverage[:, -1]
    assert np.all(np.diff(coverage, axis=1) >= 0)  # an archive never loses a cell
    assert np.all(np.diff(np.asarray(out.metrics.qd_score), axis=1) >= 0)


def _engine_run(program, **kwargs):
    return jaxrl.run(
        program, me.HParams(), seeds=2, progress=False, console=QUIET, **kwargs
    )


@pytest.fixture(scope="module")
def engine_runs(tmp_path_factory):
    """The same run in 2 chunks (with a run directory and a checkpoint every
    chunk) and in 6 chunks, counting the compilations of each; the second
    is the uninterrupted reference."""
    warm_up(tmp_path_factory.mktemp("warm") / "run")
    out = tmp_path_factory.mktemp("map_elites") / "run"
    runs, counts = {}, {}
    # built before counting: building runs a few eager ops (compiled once)
    programs = [
        me.make_program(TINY, qd.make_task("arm", genotype_dim=8), "arm")
        for _ in range(2)
    ]
    for program, chunks, kwargs in (
        (programs[0], 2, dict(chunk_steps=3, out=out, checkpoint_every=1)),
        (programs[1], 6, dict(chunk_steps=1)),
    ):
        start = compilations()
        runs[chunks] = _engine_run(program, **kwargs)
        counts[chunks] = compilations() - start
    return runs[6], runs, counts, out


def test_one_compilation_however_many_chunks(engine_runs):
    whole, runs, counts, _ = engine_runs
    assert counts[2] == counts[6] > 0
    for run in runs.values():
        assert run.history.keys() == whole.history.keys()
        for name in whole.history:
            np.testing.assert_array_equal(run.history[name], whole.history[name])
    assert set(whole.final) == set(me.QDMetrics._fields)
    assert whole.history["coverage"].shape == (2, TINY.num_iterations)


def test_resume_equals_the_uninterrupted_run(engine_runs):
    whole, _, _, out = engine_runs
    rewind_to_older_checkpoint(out, [3, 6])
    # the program is rebuilt from config.json through the algorithm registry
    assert algorithms.get("map-elites").default_target == "arm"
    resumed = jaxrl.resume(out, progress=False, console=QUIET)
    assert resumed.history.keys() == whole.history.keys()
    for name in whole.history:
        np.testing.assert_array_equal(resumed.history[name], whole.history[name])
        np.testing.assert_array_equal(resumed.final[name], whole.final[name])
    a, b = resumed.state.qd.archive, whole.state.qd.archive
    jax.tree.map(np.testing.assert_array_equal, a, b)
    assert json.loads((out / "results.json").read_text())["status"] == "done"
    # the run's picture of its archive (2 descriptors; the arm, not the maze)
    assert (out / "archive.png").stat().st_size > 1000
    assert not (out / "final_positions.png").exists()


def test_archive_pictures(tmp_path):
    from jaxrl.algos.map_elites import plots

    # grid: 3 x 2 cells; an elite at (0.9, 0.1) sits in the last first-axis
    # bin and the first second-axis bin: image row 0 (second), column 2
    grid, _ = insert(
        _grid(shape=(3, 2)),
        jnp.zeros((1, 1)),
        jnp.array([4.0]),
        jnp.array([[0.9, 0.1]]),
    )
    image = plots.archive_image(grid)
    assert image.shape == (2, 3) and image[0, 2] == 4.0
    assert np.isnan(image).sum() == 5
    # CVT with centroids left and right: the left half of the picture is
    # the left cell's, the right half is empty
    cvt = me.cvt_archive(1, [[0.25, 0.5], [0.75, 0.5]], (0.0, 0.0), (1.0, 1.0))
    cvt, _ = insert(cvt, jnp.zeros((1, 1)), jnp.array([-1.0]), jnp.array([[0.1, 0.9]]))
    image = plots.archive_image(cvt, resolution=8)
    assert np.all(image[:, :4] == -1.0) and np.isnan(image[:, 4:]).all()
    plots.plot_archive(cvt, tmp_path / "cvt.png")
    plots.plot_archive(grid, tmp_path / "grid.png", title="grid")
    assert (tmp_path / "grid.png").stat().st_size > 1000
    with pytest.raises(FileExistsError):
        plots.plot_archive(grid, tmp_path / "grid.png")


def test_load_archive_gives_the_final_archive_back(engine_runs):
    """``jaxrl.qd.load_archive`` reads the checkpointed archive of a run
    directory, equal to the run's final state; a non-QD run is refused."""
    import jaxrl.qd

    _, runs, _, out = engine_runs
    archive = jaxrl.qd.load_archive(out)
    final = runs[2].state.qd.archive
    for loaded, expected in zip(
        jax.tree.leaves(archive), jax.tree.leaves(final), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(loaded), np.asarray(expected))
    assert archive.fitness.shape == (2, TINY.grid_cells**2)
    one = jaxrl.qd.take_run(archive, 1)
    assert one.fitness.shape == (TINY.grid_cells**2,) and one.grid_shape
    config = json.loads((out / "config.json").read_text())
    config["algorithm"] = "ppo"
    (out.parent / "ppo").mkdir()
    (out.parent / "ppo" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="'ppo' run; load_archive reads"):
        jaxrl.qd.load_archive(out.parent / "ppo")


def test_mutation_steps_are_in_units_of_the_gene_range():
    # one elite in the middle of [-5, 5]^2000: sigma 0.05 must step by 0.5 there
    genotype = jnp.zeros((1, 2000))
    archive, _ = insert(
        _grid(genotype_dim=2000), genotype, jnp.zeros(1), jnp.full((1, 2), 0.5)
    )
    hp = me.HParams(mutation_sigma=0.05, sigma_iso=0.05, sigma_line=0.0)
    key = jax.random.key(3)
    for name in ("gaussian", "iso_line"):
        wide = me.make_emitter(name, genotype_bounds=(-5.0, 5.0))
        free = me.make_emitter(name)
        assert wide.gene_range == 10.0 and free.gene_range == 1.0
        step_wide = np.asarray(wide.ask(key, archive, (), hp, 1)[0])
        step_free = np.asarray(free.ask(key, archive, (), hp, 1)[0])
        np.testing.assert_allclose(step_wide.std(), 0.5, rtol=0.1)
        np.testing.assert_allclose(step_free.std(), 0.05, rtol=0.1)


def test_hard_maze_runs_draw_their_final_positions(tmp_path):
    from jaxrl.algos.map_elites.artifacts import write_qd_artifacts
    from jaxrl.algos.novelty_search import empty_archive

    archive = jax.tree.map(lambda x: x[None], empty_archive(4, 3, 2))  # one run
    archive = archive.replace(
        descriptors=jnp.array([[[36.0, 184.0], [31.0, 20.0], [0, 0], [0, 0]]]),
        fitness=jnp.array([[0.01, 1.0, -jnp.inf, -jnp.inf]]),
        is_valid=jnp.array([[True, True, False, False]]),
    )
    paths = write_qd_artifacts(tmp_path, "hard-maze", archive)
    assert [p.name for p in paths] == ["archive.png", "final_positions.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
