"""Novelty search: novelty against brute force, both insertion rules and
local competition by hand, Pareto ranks, config checks, and whole runs
(coverage grows, one compilation, the command line)."""

import dataclasses
import json
import shutil
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from compile_count import compilations, warm_up
from rich.console import Console

import jaxrl
from jaxrl import cli
from jaxrl.algos import novelty_search as ns
from jaxrl.envs import qd

QUIET = Console(quiet=True)
TINY = ns.Config(
    genotype_dim=8, population_size=16, batch_size=16, num_iterations=6,
    archive_capacity=32, coverage_cells=8,
)  # fmt: skip
novelty = jax.jit(ns.novelty, static_argnums=2)
local_competition = jax.jit(ns.local_competition, static_argnums=3)
insert_threshold = jax.jit(ns.insert_threshold)
insert_ring = jax.jit(ns.insert_ring, static_argnums=5)


def _archive(descriptors, fitness, is_valid, genotype_dim=1):
    descriptors = jnp.asarray(descriptors, jnp.float32)
    capacity, k = descriptors.shape
    empty = ns.empty_archive(capacity, genotype_dim, k)
    return empty.replace(
        descriptors=descriptors,
        fitness=jnp.asarray(fitness, jnp.float32),
        is_valid=jnp.asarray(is_valid),
    )


def _brute_novelty(archive_d, is_valid, batch, k):
    """Row by row: sorted distances to valid archive members and the other
    finite batch rows; the mean of the first min(k, n), 0 when n = 0."""
    finite = ~np.isnan(batch).any(-1)
    out = np.zeros(len(batch))
    for i, x in enumerate(batch):
        if not finite[i]:
            continue
        refs = [a for a, v in zip(archive_d, is_valid, strict=True) if v]
        refs += [y for j, y in enumerate(batch) if j != i and finite[j]]
        dist = sorted(np.sqrt(((np.asarray(r) - x) ** 2).sum()) for r in refs)
        out[i] = np.mean(dist[:k]) if dist else 0.0
    return out


# --------------------------------------------------------------------------
# novelty and local competition


def test_novelty_equals_a_numpy_brute_force():
    rng = np.random.default_rng(0)
    archive_d = rng.normal(size=(12, 3)).astype(np.float32)
    is_valid = rng.random(12) < 0.6
    archive = _archive(archive_d, np.zeros(12), is_valid)
    batch = rng.normal(size=(9, 3)).astype(np.float32)
    batch[4, 1] = np.nan  # no novelty, nobody's neighbour
    # k = 4: plenty of neighbours; k = 30: fewer than k, mean over all there are
    for k in (1, 4, 30):
        got = np.asarray(novelty(batch, archive, k))
        want = _brute_novelty(archive_d, is_valid, batch, k)
        np.testing.assert_allclose(got, want, rtol=1e-5, err_msg=f"k={k}")
    # no neighbour at all (empty archive, a batch of one): novelty 0
    empty = ns.empty_archive(4, 1, 3)
    assert float(novelty(batch[:1], empty, 15)[0]) == 0.0


def test_local_competition_and_novelty_by_hand():
    # 1-D descriptors. Archive: slot 0 holds A at 2.5 (fitness 0); slot 1 is
    # empty (its stored descriptor 0 must be ignored). Batch: r0 at 0 (f 5),
    # r1 at 1 (f 1), r2 at 3 (f 2), r3 at 5.5 (f NaN = -inf). k = 2:
    #   r0: r1 (1), A (2.5) -> beats both: 2; novelty (1 + 2.5) / 2 = 1.75
    #   r1: r0 (1), A (1.5) -> beats A only: 1; novelty 1.25
    #   r2: A (0.5), r1 (2) -> beats both: 2; novelty 1.25
    #   r3: r2 (2.5), A (3) -> -inf beats nobody: 0; novelty 2.75
    archive = _archive([[2.5], [0.0]], [0.0, -jnp.inf], [True, False])
    d = jnp.array([[0.0], [1.0], [3.0], [5.5]])
    f = jnp.array([5.0, 1.0, 2.0, jnp.nan])
    np.testing.assert_array_equal(local_competition(d, f, archive, 2), [2, 1, 2, 0])
    np.testing.assert_allclose(novelty(d, archive, 2), [1.75, 1.25, 1.25, 2.75])
    # equally near neighbours: the lower reference index (archive first) wins.
    # r0 at 0 (f 0) has A at -1 (f 10) and r1 at +1 (f -10), k = 1: A -> 0
    tie = _archive([[-1.0]], [10.0], [True])
    lc = local_competition(jnp.array([[0.0], [1.0]]), jnp.array([0.0, -10.0]), tie, 1)
    assert int(lc[0]) == 0


# --------------------------------------------------------------------------
# insertion


def test_threshold_insertion_by_hand():
    archive = ns.empty_archive(4, 1, 2)
    # two members first: slots 0 and 1
    archive, done = insert_threshold(
        archive, jnp.array([[10.0], [11.0]]), jnp.array([0.0, 0.0]),
        jnp.zeros((2, 2)), jnp.array([1.0, 1.0]), 0.5,
    )  # fmt: skip
    assert int(done.num_inserted) == 2 and int(archive.size) == 2
    # novelty 0.9 passes, 0.5 does not (strictly above), row 2 has a NaN
    # descriptor (rejected), rows 3 and 4 pass: row 3 takes the last slot
    # (its NaN fitness stored as -inf), row 4 finds the archive full
    d = jnp.array([[0, 1], [0, 2], [jnp.nan, 3], [0, 4], [0, 5]], jnp.float32)
    archive, done = insert_threshold(
        archive, jnp.arange(5.0)[:, None], jnp.array([1.0, 2.0, 3.0, jnp.nan, 5.0]),
        d, jnp.array([0.9, 0.5, 0.8, 0.7, 0.6]), 0.5,
    )  # fmt: skip
    np.testing.assert_array_equal(archive.genotypes[:, 0], [10.0, 11.0, 0.0, 3.0])
    np.testing.assert_array_equal(archive.fitness, [0.0, 0.0, 1.0, -jnp.inf])
    np.testing.assert_array_equal(archive.descriptors[2:], [[0, 1], [0, 4]])
    assert (int(done.num_inserted), int(done.num_overflow)) == (2, 1)
    assert int(done.num_rejected) == 1 and bool(archive.is_valid.all())
    # full: everything that passes is dropped, and the total keeps counting
    archive, done = insert_threshold(
        archive, jnp.ones((3, 1)), jnp.ones(3), jnp.ones((3, 2)),
        jnp.array([1.0, 0.1, 1.0]), 0.5,
    )  # fmt: skip
    assert (int(done.num_inserted), int(done.num_overflow)) == (0, 2)
    assert (int(archive.num_added), int(archive.num_overflow)) == (4, 3)
    np.testing.assert_array_equal(archive.genotypes[:, 0], [10.0, 11.0, 0.0, 3.0])


def test_ring_insertion_by_hand():
    archive = ns.empty_archive(3, 1, 1)
    # the 2 most novel of [0.1, 0.3, 0.3, 0.2]: rows 1 and 2, into slots 0, 1
    archive, done = insert_ring(
        archive, jnp.array([[0.0], [1.0], [2.0], [3.0]]), jnp.zeros(4),
        jnp.arange(4.0)[:, None], jnp.array([0.1, 0.3, 0.3, 0.2]), 2,
    )  # fmt: skip
    np.testing.assert_array_equal(archive.genotypes[:, 0], [1.0, 2.0, 0.0])
    np.testing.assert_array_equal(archive.is_valid, [True, True, False])
    # row 0 (most novel) has a NaN descriptor: rejected. Rows 1-3 tie: the
    # lowest indices, 1 and 2, go to slots 2 and 0 (wrapping over the oldest)
    archive, done = insert_ring(
        archive, jnp.array([[10.0], [11.0], [12.0], [13.0]]),
        jnp.array([0.0, 1.0, jnp.nan, 3.0]),
        jnp.array([[jnp.nan], [1.0], [2.0], [3.0]]),
        jnp.array([0.5, 0.4, 0.4, 0.4]), 2,
    )  # fmt: skip
    np.testing.assert_array_equal(archive.genotypes[:, 0], [12.0, 2.0, 11.0])
    np.testing.assert_array_equal(archive.fitness, [-jnp.inf, 0.0, 1.0])
    assert (int(done.num_inserted), int(done.num_rejected)) == (2, 1)
    assert int(archive.num_added) == 4 and int(archive.size) == 3
    with pytest.raises(ValueError, match="num_insert"):
        ns.insert_ring(archive, jnp.zeros((2, 1)), jnp.zeros(2), jnp.zeros((2, 1)),
                       jnp.zeros(2), 4)  # fmt: skip


# --------------------------------------------------------------------------
# selection


def test_pareto_ranks_and_selection_orders():
    # (novelty, local competition): (3, 0) and both (2, 2) are non-dominated;
    # (1, 2) and (2, 1) are dominated only by (2, 2); (0, 0) by everyone
    objectives = jnp.array([[3, 0], [1, 2], [2, 2], [2, 1], [0, 0], [2, 2]], float)
    np.testing.assert_array_equal(
        jax.jit(ns.non_dominated_rank)(objectives), [0, 1, 0, 1, 2, 0]
    )
    nov, lc = objectives[:, 0], objectives[:, 1]
    finite = jnp.ones(6, bool)
    # NSLC: front, then higher novelty, then lower index
    np.testing.assert_array_equal(
        ns.selection_order(nov, lc, finite), [0, 2, 5, 3, 1, 4]
    )
    # NS: novelty only, ties to the lower index
    np.testing.assert_array_equal(
        ns.selection_order(nov, None, finite), [0, 2, 3, 5, 1, 4]
    )
    # a NaN descriptor comes last in both
    finite = finite.at[0].set(False)
    np.testing.assert_array_equal(
        ns.selection_order(nov, lc, finite), [2, 5, 3, 1, 4, 0]
    )
    np.testing.assert_array_equal(
        ns.selection_order(nov, None, finite), [2, 3, 5, 1, 4, 0]
    )


def test_threshold_schedule():
    # goNEAT_NS's schedule: x decay after `patience` idle generations (the
    # count restarts), x growth after `burst` insertions, never below the floor
    algorithm = ns.build_algorithm(TINY, qd.arm(8))
    algorithm = dataclasses.replace(algorithm, insertion="threshold")
    hp = ns.HParams(threshold_decay=0.5, threshold_growth=2.0, threshold_floor=0.375)

    def adapt(threshold, stalled, inserted):
        state = types.SimpleNamespace(
            threshold=jnp.float32(threshold), num_stalled=jnp.int32(stalled)
        )
        done = ns.Inserted(jnp.int32(inserted), jnp.int32(0), jnp.int32(0))
        out = algorithm._adapt(state, done, hp)
        return float(out[0]), int(out[1])

    assert adapt(1.0, 8, 0) == (1.0, 9)  # patience is 10
    assert adapt(1.0, 9, 0) == (0.5, 0)  # the 10th idle generation
    assert adapt(0.5, 9, 0) == (0.375, 0)  # 0.25 is below the floor
    assert adapt(1.0, 9, 3) == (1.0, 0)  # an insertion resets the count
    assert adapt(1.0, 3, 4) == (2.0, 0)  # a burst of 4


# --------------------------------------------------------------------------
# config


def test_config_and_hparams_checks():
    with pytest.raises(ValueError, match="Config.variant must be 'ns' or 'nslc'"):
        ns.Config(variant="nsga")
    with pytest.raises(ValueError, match="Config.insertion"):
        ns.Config(insertion="random")
    with pytest.raises(ValueError, match="Config.ring_insertions"):
        ns.Config(insertion="ring", ring_insertions=300, batch_size=512)
    with pytest.raises(ValueError, match="population_size"):
        ns.Config(ring_insertions=16, population_size=8)
    with pytest.raises(ValueError, match="Config.num_neighbours must be an int >= 1"):
        ns.Config(num_neighbours=0)
    with pytest.raises(ValueError, match="Config.emitter: unknown emitter"):
        ns.Config(emitter="cma")
    with pytest.raises(ValueError, match="HParams.threshold_decay"):
        ns.check_hparams(ns.HParams(threshold_decay=1.5))
    with pytest.raises(ValueError, match="HParams.novelty_threshold"):
        ns.check_hparams(ns.HParams(novelty_threshold=float("nan")))
    with pytest.raises(ValueError, match="coverage_cells"):
        ns.make_program(ns.Config(genotype_dim=8, coverage_cells=10_000), qd.arm(8))
    with pytest.raises(ValueError, match="genotype_dim"):
        ns.make_program(TINY, qd.arm(9))
    program = ns.make_program(TINY, qd.arm(8), "arm")
    recorded = program.description["config"]
    assert (recorded["descriptor_low"], recorded["descriptor_high"]) == (0.0, 1.0)
    assert program.primary == "coverage"


# --------------------------------------------------------------------------
# whole runs


def test_novelty_search_covers_more_of_the_arm_over_time():
    # 16 joints, population and batch 32, 40 generations (1,312 evaluations),
    # Gaussian steps and a threshold archive (the archive then only grows);
    # coverage on a 16 x 16 grid. Measured over seeds 0-2: after the first
    # generation 0.11, 0.12, 0.09; at the end 0.49, 0.61, 0.50.
    config = ns.Config(
        genotype_dim=16, population_size=32, batch_size=32, num_iterations=40,
        archive_capacity=256, coverage_cells=16, emitter="gaussian",
        insertion="threshold",
    )  # fmt: skip
    traces = []
    run = ns.make_run(config, qd.make_task("arm", genotype_dim=16))

    def counted(key, hparams):
        traces.append(1)  # at trace time only
        return run(key, hparams)

    sweep = jax.jit(jax.vmap(counted, in_axes=(0, None)))
    keys = jax.random.split(jax.random.key(0), 3)
    with jax.debug_nans(True):
        out = sweep(keys, ns.HParams())
    sweep(keys, ns.HParams(novelty_threshold=0.1, mutation_sigma=0.1))
    assert len(traces) == 1  # new hparams values: no retrace
    coverage = np.asarray(out.metrics.coverage)
    assert coverage[:, -1].min() > 0.4 and (coverage[:, -1] > 3 * coverage[:, 0]).all()
    assert np.all(np.diff(coverage, axis=1) >= 0)  # cells reached stay reached
    archive = np.asarray(out.metrics.archive_coverage)
    assert (archive[:, -1] > 2 * archive[:, 0]).all(), archive[:, [0, -1]]
    # the archive only grows in threshold mode, and nothing overflowed here
    assert np.all(np.diff(np.asarray(out.metrics.archive_size), axis=1) >= 0)
    assert int(np.asarray(out.metrics.num_overflow).sum()) == 0
    assert np.isfinite(np.asarray(out.metrics.mean_novelty)).all()


def _engine_run(program, **kwargs):
    return jaxrl.run(
        program, ns.HParams(), seeds=2, progress=False, console=QUIET, **kwargs
    )


def test_one_compilation_however_many_chunks(tmp_path):
    # 4 generations in 2 chunks and in 4: the same compilations, the same numbers
    # (the command-line test below covers a run directory and its checkpoint)
    warm_up(tmp_path / "warm")
    config = dataclasses.replace(TINY, num_iterations=4)
    programs = [ns.make_program(config, qd.arm(8), "arm") for _ in range(2)]
    runs, counts = {}, {}
    for program, chunk_steps in zip(programs, (2, 1), strict=True):
        start = compilations()
        runs[chunk_steps] = _engine_run(program, chunk_steps=chunk_steps)
        counts[chunk_steps] = compilations() - start
    assert counts[2] == counts[1] > 0
    for name in runs[1].history:
        np.testing.assert_array_equal(runs[2].history[name], runs[1].history[name])
    assert set(runs[1].final) == set(ns.NSMetrics._fields)
    assert runs[1].history["coverage"].shape == (2, 4)


def test_resume_equals_the_uninterrupted_run_and_loads_the_archive(tmp_path):
    """4 generations with a checkpoint every 2; the newest checkpoint lost
    and the run marked interrupted, resume gives the uninterrupted numbers,
    archive included, and ``jaxrl.qd.load_archive`` reads it back."""
    import jaxrl.qd

    config = dataclasses.replace(TINY, num_iterations=4)
    out = tmp_path / "run"
    whole = _engine_run(ns.make_program(config, qd.arm(8), "arm"), chunk_steps=1)
    _engine_run(ns.make_program(config, qd.arm(8), "arm"), chunk_steps=2, out=out,
                checkpoint_every=1)  # fmt: skip
    results = out / "results.json"
    results.write_text(results.read_text().replace('"done"', '"interrupted"'))
    shutil.rmtree(out / "checkpoints" / "4")
    resumed = jaxrl.resume(out, progress=False, console=QUIET)
    for name in whole.history:
        np.testing.assert_array_equal(resumed.history[name], whole.history[name])
    jax.tree.map(np.testing.assert_array_equal, resumed.state.ns.archive,
                 whole.state.ns.archive)  # fmt: skip
    loaded = jaxrl.qd.load_archive(out)
    jax.tree.map(np.testing.assert_array_equal, loaded, whole.state.ns.archive)
    assert (out / "archive.png").stat().st_size > 1000  # descriptors as points


def test_command_line_trains_nslc_with_a_ring_archive(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "novelty-search", "--task", "arm",  # the arm's own 100 genes
            "--variant", "nslc", "--insertion", "ring", "--ring-insertions", "2",
            "--population-size", "8", "--batch-size", "8", "--num-iterations", "4",
            "--archive-capacity", "16", "--coverage-cells", "8", "--seeds", "2",
            "--no-progress", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0, capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "done"
    assert len(results["final"]["coverage"]) == 2
    assert all(0 < c <= 1 for c in results["final"]["coverage"])
    config = json.loads((out / "config.json").read_text())
    assert config["algorithm"] == "novelty-search"
    assert config["config"]["variant"] == "nslc"
    # no --genotype-dim: the size the task gave is what both files record
    assert config["config"]["genotype_dim"] == results["config"]["genotype_dim"] == 100
    bad = ["train", "novelty-search", "--variant", "nsga", "--no-progress",
           "--out", str(tmp_path / "bad")]  # fmt: skip
    assert cli.main(bad) == 2
    assert "Config.variant" in capsys.readouterr().out
