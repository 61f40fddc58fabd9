"""NS-ES and NSR-ES: centered ranks, the antithetic gradient and NSR-ES
scores by hand, parent draws against their probabilities, one archive entry
a generation, config checks, and whole runs (one compilation)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from compile_count import compilations, warm_up
from rich.console import Console

import jaxrl
from jaxrl import cli
from jaxrl.algos import novelty_search, ns_es
from jaxrl.envs import qd

QUIET = Console(quiet=True)
TINY = ns_es.Config(
    genotype_dim=4, meta_population_size=2, num_pairs=4, num_iterations=6,
    archive_capacity=5, coverage_cells=8,
)  # fmt: skip
centered_ranks = jax.jit(ns_es.centered_ranks)
perturbation_scores = jax.jit(ns_es.perturbation_scores, static_argnums=2)


def test_centered_ranks_by_hand():
    # [3, 1, 2, 2]: ranks 3, 0, 1.5, 1.5 (the tie shares 1 and 2); / (4 - 1) - 0.5
    got = centered_ranks(jnp.array([3.0, 1.0, 2.0, 2.0]))
    np.testing.assert_allclose(got, [0.5, -0.5, 0.0, 0.0], atol=1e-7)
    # NaN ranks as -inf, tied with -inf: ranks 0.5, 2, 4, 0.5, 3; / 4 - 0.5
    got = centered_ranks(jnp.array([jnp.nan, 0.0, 5.0, -jnp.inf, 1.0]))
    np.testing.assert_allclose(got, [-0.375, 0.0, 0.5, -0.375, 0.25], atol=1e-7)
    assert float(ns_es.centered_ranks(jnp.array([7.0]))[0]) == 0.0


def test_nsr_es_scores_by_hand():
    novelty = jnp.array([1.0, 2.0, 3.0, 4.0])  # centered -1/2, -1/6, 1/6, 1/2
    # ranks 2.5, 2.5, 0, 1: centered 1/3, 1/3, -1/2, -1/6
    fitness = jnp.array([10.0, 10.0, 0.0, 5.0])
    ns = perturbation_scores(novelty, fitness, "ns-es")
    np.testing.assert_allclose(ns, [-0.5, -1 / 6, 1 / 6, 0.5], atol=1e-6)
    nsr = perturbation_scores(novelty, fitness, "nsr-es")
    # (1/3 - 1/2) / 2, (1/3 - 1/6) / 2, (-1/2 + 1/6) / 2, (-1/6 + 1/2) / 2
    np.testing.assert_allclose(nsr, [-1 / 12, 1 / 12, -1 / 6, 1 / 6], atol=1e-6)
    with pytest.raises(ValueError, match="variant"):
        ns_es.perturbation_scores(novelty, fitness, "nsra-es")


@jax.jit
def _quadratic_es_gradient(theta, c, noise, sigma):
    """ES with fitness in place of novelty on f(x) = -|x - c|^2."""
    f = lambda x: -jnp.sum((x - c) ** 2, axis=-1)  # noqa: E731
    n = noise.shape[0]
    u = ns_es.centered_ranks(
        jnp.concatenate([f(theta + sigma * noise), f(theta - sigma * noise)])
    )
    return ns_es.antithetic_gradient(noise, u[:n], u[n:])


def test_antithetic_gradient_by_hand_and_on_a_quadratic():
    # eps = e1, e2; u+ - u- = 1 and -1: g = (e1 - e2) / (2 * 2)
    g = ns_es.antithetic_gradient(
        jnp.eye(2), jnp.array([0.5, -0.5]), jnp.array([-0.5, 0.5])
    )
    np.testing.assert_allclose(g, [0.25, -0.25])
    # the estimate points along the true gradient -2 (theta - c)
    theta, c = jnp.array([1.0, -2.0, 0.5, 3.0]), jnp.array([0.0, 1.0, 1.0, -1.0])
    noise = jax.random.normal(jax.random.key(0), (200, 4))
    g = _quadratic_es_gradient(theta, c, noise, 0.02)
    true = -2 * (theta - c)
    cosine = float(g @ true / (jnp.linalg.norm(g) * jnp.linalg.norm(true)))
    assert cosine > 0.95, cosine


def _empty_archive(capacity):
    return novelty_search.empty_archive(capacity, 3, 1)  # 3 genes, 1-D descriptors


def test_parent_probabilities_and_draws():
    probs = ns_es.parent_probabilities(jnp.array([1.0, 3.0, 0.0, -jnp.inf]))
    np.testing.assert_allclose(probs, [0.25, 0.75, 0.0, 0.0])
    np.testing.assert_allclose(ns_es.parent_probabilities(jnp.zeros(4)), [0.25] * 4)
    # members at 1 and 3 on a line, the archive holding only 0 (k = 1):
    # novelties 1 and 3, so member 1 is drawn 3/4 of the time
    es = ns_es.NoveltyES(_empty_archive(4), meta_population_size=2, num_pairs=1,
                         num_neighbours=1)  # fmt: skip
    hp = ns_es.HParams()
    descriptors = jnp.array([[1.0], [3.0]])
    state = jax.jit(es.init)(
        jax.random.key(0), jnp.zeros((2, 3)), jnp.zeros(2), descriptors, hp
    )
    only_zero = _empty_archive(4)
    state = state.replace(archive=only_zero.replace(is_valid=jnp.arange(4) == 0))
    keys = jax.random.split(jax.random.key(0), 2000)
    rows, asked = jax.jit(jax.vmap(lambda k: es.ask(k, state, hp)))(keys)
    # 2000 draws: the standard error is 0.01
    assert abs(float(jnp.mean(asked.parent)) - 0.75) < 0.04
    np.testing.assert_allclose(asked.stats.parent_novelty, 1.0 + 2.0 * asked.parent)
    # the 2n rows are theta_m + sigma eps then theta_m - sigma eps (theta = 0)
    np.testing.assert_allclose(rows[:, 0], -rows[:, 1], atol=1e-6)
    np.testing.assert_allclose(rows[:, 0], hp.sigma * asked.noise[:, 0], rtol=1e-5)


def test_one_archive_entry_a_generation_one_trace_bounds_respected():
    # M = 2 members start in the archive, then one entry a generation; the
    # ring of 5 slots is full after 3 generations and stays full
    task = qd.arm(4)
    traces = []
    run = ns_es.make_run(dataclasses.replace(TINY, variant="nsr-es"), task)
    counted = jax.jit(lambda key, hp: (traces.append(1), run(key, hp))[1])
    out = counted(jax.random.key(0), ns_es.HParams())
    counted(jax.random.key(1), ns_es.HParams(learning_rate=0.1, sigma=0.05))
    assert len(traces) == 1  # new key and hparams values: no retrace
    np.testing.assert_array_equal(out.metrics.archive_size, [3, 4, 5, 5, 5, 5])
    es = out.state.es
    assert int(es.archive.num_added) == 2 + 6
    # the newest entry is the last updated member's own descriptor
    m = int(es.parent)
    _, descriptors, _ = task(es.meta.genotypes[m][None], jax.random.key(1))
    newest = (int(es.archive.num_added) - 1) % TINY.archive_capacity
    np.testing.assert_allclose(es.archive.descriptors[newest], descriptors[0])
    np.testing.assert_allclose(es.meta.descriptors[m], descriptors[0])
    # the arm's genes live in [0, 1]: members are clipped to it
    genes = np.asarray(es.meta.genotypes)
    assert genes.min() >= 0.0 and genes.max() <= 1.0
    assert np.all(np.diff(np.asarray(out.metrics.coverage)) >= 0)
    assert np.all(np.asarray(out.metrics.grad_norm) > 0)
    assert np.isfinite(np.asarray(out.metrics.qd_score)).all()


def test_config_and_hparams_checks(tmp_path, capsys):
    with pytest.raises(ValueError, match="Config.variant must be 'ns-es' or 'nsr-es'"):
        ns_es.Config(variant="nsra-es")
    with pytest.raises(ValueError, match="Config.num_pairs must be an int >= 1"):
        ns_es.Config(num_pairs=0)
    with pytest.raises(ValueError, match="Config.meta_population_size"):
        ns_es.Config(meta_population_size=9, archive_capacity=8)
    with pytest.raises(ValueError, match="Config.num_neighbours must be an int"):
        ns_es.Config(num_neighbours=2.5)
    with pytest.raises(ValueError, match="Config.descriptor_low"):
        ns_es.Config(descriptor_low=1.0, descriptor_high=0.0)
    with pytest.raises(ValueError, match="HParams.sigma"):
        ns_es.check_hparams(ns_es.HParams(sigma=0.0))
    with pytest.raises(ValueError, match="HParams.learning_rate"):
        ns_es.check_hparams(ns_es.HParams(learning_rate=float("nan")))
    with pytest.raises(ValueError, match="HParams.weight_decay"):
        ns_es.check_hparams(ns_es.HParams(weight_decay=-1.0))
    with pytest.raises(ValueError, match="genotype_dim"):
        ns_es.make_program(TINY, qd.arm(9))
    with pytest.raises(ValueError, match="coverage_cells"):
        ns_es.make_program(dataclasses.replace(TINY, coverage_cells=10_000), qd.arm(4))
    program = ns_es.make_program(TINY, qd.arm(4), "arm")
    recorded = program.description["config"]
    assert (recorded["descriptor_low"], recorded["descriptor_high"]) == (0.0, 1.0)
    assert recorded["qd_offset"] == pytest.approx(-(np.pi**2))
    assert program.primary == "coverage" and program.work_per_step == 9
    # the command line refuses before compiling, naming the field
    bad = ["train", "ns-es", "--variant", "nsra-es", "--no-progress",
           "--out", str(tmp_path / "bad")]  # fmt: skip
    assert cli.main(bad) == 2
    assert "Config.variant" in capsys.readouterr().out


def test_one_compilation_however_many_chunks(tmp_path):
    # 2 generations in one chunk and in two: the same compilations, the same
    # numbers, and every metric among the final scores
    warm_up(tmp_path / "warm")
    config = dataclasses.replace(TINY, num_iterations=2)
    runs, counts = {}, {}
    for chunk_steps in (2, 1):
        program = ns_es.make_program(config, qd.arm(4), "arm")
        start = compilations()
        runs[chunk_steps] = jaxrl.run(program, ns_es.HParams(), seeds=2,
                                      progress=False, console=QUIET,
                                      chunk_steps=chunk_steps)  # fmt: skip
        counts[chunk_steps] = compilations() - start
    assert counts[2] == counts[1] > 0
    for name in runs[1].history:
        np.testing.assert_array_equal(runs[2].history[name], runs[1].history[name])
    assert set(runs[1].final) == set(ns_es.NSESMetrics._fields)
    assert runs[1].history["archive_size"].tolist() == [[3, 4], [3, 4]]


def test_tell_steps_the_parent_towards_more_novelty():
    # one member at 1 on a line whose archive holds only 0 (k = 1): novelty
    # grows with the first gene, so one ask/tell must raise it (a sign error
    # in the Adam step on -g + weight_decay * theta would lower it)
    es = ns_es.NoveltyES(_empty_archive(4), meta_population_size=1, num_pairs=16,
                         num_neighbours=1)  # fmt: skip
    hp = ns_es.HParams(learning_rate=0.1, sigma=0.05)
    theta = jnp.array([[1.0, 0.0, 0.0]])
    state = jax.jit(es.init)(jax.random.key(0), theta, jnp.zeros(1), theta[:, :1], hp)
    only_zero = _empty_archive(4)
    state = state.replace(archive=only_zero.replace(is_valid=jnp.arange(4) == 0))
    rows, state = jax.jit(es.ask)(jax.random.key(1), state, hp)
    score = jnp.zeros(rows.shape[0])
    state, _ = jax.jit(es.tell)(jax.random.key(2), rows, score, rows[:, :1], state, hp)
    moved = np.asarray(es.updated(state)).reshape(-1)[0]
    assert moved > 1.05, moved


def test_vmapped_population_evaluation_equals_a_loop_over_members():
    # one generation scores its 2n perturbations in one batch (the task's
    # batched call, novelty vmapped over rows) and starts one Adam state a
    # member under vmap; member by member, in a Python loop, the numbers
    # must be the same (a batch axis mixed into a row would break this)
    arm, k, n = qd.arm(4), 2, 4
    task = jax.jit(arm)
    novelty_of = jax.jit(ns_es.archive_novelty, static_argnums=2)
    es = ns_es.NoveltyES(novelty_search.empty_archive(8, 4, 2),
                         meta_population_size=3, num_pairs=n, num_neighbours=k,
                         genotype_bounds=arm.genotype_bounds)  # fmt: skip
    hp = ns_es.HParams()
    k_init, k_ask, k_score = jax.random.split(jax.random.key(3), 3)
    members = jax.random.uniform(k_init, (3, 4))
    fitness, descriptors, _ = task(members, k_score)
    state = jax.jit(es.init)(k_init, members, fitness, descriptors, hp)
    adam = optax.adam(hp.learning_rate)
    for m in range(3):
        alone = adam.init(members[m])
        batched = jax.tree.map(lambda x, m=m: x[m], state.meta.opt_state)
        jax.tree.map(np.testing.assert_array_equal, batched, alone)

    rows, state = jax.jit(es.ask)(k_ask, state, hp)  # (2n, D) = (8, 4)
    fitness, descriptors, _ = task(rows, k_score)
    novelty = novelty_of(descriptors, state.archive, k)
    held = np.asarray(state.archive.descriptors)[np.asarray(state.archive.is_valid)]
    assert held.shape == (3, 2)  # the members' descriptors
    for i, row in enumerate(rows):
        f_i, d_i, _ = task(row[None], k_score)
        np.testing.assert_allclose(f_i[0], fitness[i], rtol=1e-6)
        np.testing.assert_allclose(d_i[0], descriptors[i], rtol=1e-6)
        alone = novelty_of(d_i, state.archive, k)[0]
        np.testing.assert_allclose(alone, novelty[i], rtol=1e-6)
        # mean distance to the k nearest archived descriptors, in NumPy
        dist = np.sort(np.linalg.norm(held - np.asarray(d_i[0]), axis=-1))
        np.testing.assert_allclose(novelty[i], dist[:k].mean(), rtol=1e-5)

    # the ES gradient: sum over pairs of (u_i+ - u_i-) eps_i / (2n), a loop
    u = np.asarray(novelty) - np.mean(np.asarray(novelty))  # any per-row scores
    noise = np.asarray(state.noise)
    by_pair = sum((u[i] - u[n + i]) * noise[i] for i in range(n)) / (2 * n)
    np.testing.assert_allclose(
        ns_es.antithetic_gradient(state.noise, u[:n], u[n:]), by_pair, atol=1e-6
    )
