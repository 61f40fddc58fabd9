"""SERENE: the emitter pieces by hand (candidate queue, slot start, reward
archive rule, improvement, stagnation), config checks, and one whole run on
a sparse task (reward only near one corner of the descriptor box) that the
engine checkpoints and resumes: reward found only by exploration, emitters
started only once it is, the budget split between chunks, emitters that stop,
reward improved by the emitters, one trace of the step."""

import dataclasses
import json
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from rich.console import Console

import jaxrl
from jaxrl import cli
from jaxrl.algos import serene
from jaxrl.algos.serene import emitters as em
from jaxrl.envs import qd

QUIET = Console(quiet=True)
TARGET, RADIUS = 0.85, 0.15  # reward > 0 only within RADIUS of (TARGET, TARGET)
# the pieces, jitted: one compilation each instead of one per operation
push_candidates = jax.jit(em.push_candidates)
start_slots = jax.jit(em.start_slots)
select = jax.jit(em.select)
to_archive = jax.jit(em.to_archive)
initial_mean = jax.jit(em.initial_mean, static_argnums=1)
improvement = jax.jit(em.improvement, static_argnums=1)
is_stagnant = jax.jit(em.is_stagnant, static_argnums=1)


def corner_score(genotypes, key):
    """Descriptor: the first two genes; fitness = reward, 1 at the target
    falling to 0 at RADIUS and 0 beyond (about 7% of the unit box)."""
    del key
    d = genotypes[:, :2]
    dist = jnp.sqrt(jnp.sum((d - TARGET) ** 2, axis=-1))
    return jnp.maximum(1.0 - dist / RADIUS, 0.0), d, {}


# 3 genes, population 8, 16 evaluations a generation, chunks of 2
# generations, 2 emitter slots of 2 members (4 offspring each: 8 rows), a
# 3-generation bootstrap and a stagnation window of 6 lists
TINY = serene.Config(
    genotype_dim=3, population_size=8, batch_size=16, num_iterations=40,
    chunk_size=32, archive_capacity=64, num_emitters=2, emitter_population=2,
    bootstrap_generations=3, improvement_window=1, stagnation_base=6,
    stagnation_per_gene=0.0, stagnation_span=2, candidate_capacity=8,
    reward_archive_capacity=64, feedback_capacity=4, coverage_cells=8,
    descriptor_low=0.0, descriptor_high=1.0,
)  # fmt: skip
HP = serene.HParams(mutation_sigma=0.1)


def _program(config=TINY):
    # first genotypes in [0, 0.3]^3: the rewarding corner is a walk away
    return serene.make_program(
        config, corner_score, "corner", genotype_bounds=(0.0, 1.0),
        init_bounds=(0.0, 0.3),
    )  # fmt: skip


# --------------------------------------------------------------------------
# the pieces, by hand


def test_candidates_queue_only_rewarding_rows_and_start_in_novelty_order():
    queue = em.empty_queue(3, 2, 1)
    rows = jnp.arange(8.0).reshape(4, 2)
    reward = jnp.array([0.0, 0.5, -1.0, 0.2])
    queue, dropped = push_candidates(
        queue, reward > 0, rows, rows[:, :1], reward, reward, jnp.full(4, 0.1)
    )
    # rows 1 and 3 rewarded: they wait in places 0 and 1, nothing dropped
    assert queue.is_valid.tolist() == [True, True, False] and int(dropped) == 0
    np.testing.assert_allclose(queue.reward[:2], [0.5, 0.2])
    # no reward: nothing joins
    same, _ = push_candidates(queue, jnp.zeros(4, bool), rows, rows[:, :1],
                                 reward, reward, jnp.ones(4))  # fmt: skip
    assert same.is_valid.tolist() == [True, True, False]
    # two more rewarding rows, one free place: the second is dropped
    queue, dropped = push_candidates(
        queue, jnp.array([True, False, False, True]), rows, rows[:, :1], reward,
        reward, jnp.full(4, 0.3),
    )  # fmt: skip
    assert queue.is_valid.all() and int(dropped) == 1

    # 3 slots, slot 1 busy: free slots 0 and 2 take the two most novel
    slots = em.empty_slots(3, 2, 2, 1, 4, 2)
    slots = slots.replace(mode=slots.mode.at[1].set(em.RUNNING))
    priority = jnp.array([0.1, 0.9, 0.5])
    started, left = start_slots(slots, queue, priority, jnp.bool_(True))
    assert started.mode.tolist() == [em.BOOTSTRAP, em.RUNNING, em.BOOTSTRAP]
    np.testing.assert_allclose(started.ancestor_reward, [0.2, 0.0, 0.0])
    np.testing.assert_array_equal(started.ancestor_genotype[2], queue.genotypes[2])
    assert left.is_valid.tolist() == [True, False, False]
    # too late in the chunk: nothing starts
    idle, kept = start_slots(slots, queue, priority, jnp.bool_(False))
    assert idle.mode.tolist() == [0, em.RUNNING, 0] and kept.is_valid.all()


def test_selection_archive_rule_improvement_and_stagnation_by_hand():
    slots = em.empty_slots(2, 2, 1, 1, 4, 2)
    g = jnp.arange(8.0).reshape(2, 4, 1)
    # first generation of both slots: the best 2 of 4 samples are kept
    r1 = jnp.array([[0.0, 0.3, 0.1, 0.3], [0.0, 0.0, 0.0, 0.0]])
    slots = select(slots, jnp.array([True, True]), g, g, r1, r1)
    np.testing.assert_allclose(slots.reward, [[0.3, 0.3], [0.0, 0.0]])
    np.testing.assert_array_equal(slots.genotypes[0, :, 0], [1.0, 3.0])  # ties: lower
    assert slots.num_values.tolist() == [1, 1] and slots.steps.tolist() == [0, 0]
    slots = slots.replace(initial_mean=initial_mean(slots, 1))
    # slot 0 improves, slot 1 sits out (inactive)
    r2 = jnp.array([[0.5, 0.4, 0.2, 0.0], [9.0, 9.0, 9.0, 9.0]])
    slots = select(slots, jnp.array([True, False]), g, g, r2, r2)
    np.testing.assert_allclose(slots.reward, [[0.5, 0.4], [0.0, 0.0]])
    assert slots.num_values.tolist() == [2, 1] and slots.steps.tolist() == [1, 0]
    # archive rule: nothing archived yet, so only the best member if > 0
    mask, best = to_archive(slots, jnp.array([True, True]))
    assert mask.tolist() == [[True, False], [False, False]]
    assert best.tolist() == [pytest.approx(0.5), -np.inf]
    # afterwards: every member above the best archived (here 0.3)
    archived = slots.replace(best_archived=slots.best_archived.at[0].set(0.3))
    mask, best = to_archive(archived, jnp.array([True, True]))
    assert mask.tolist() == [[True, True], [False, False]]
    assert float(best[0]) == pytest.approx(0.5)
    # improvement over 1 list: mean(0.5, 0.4) - mean(0.3, 0.3) = 0.15
    gain = improvement(slots, 1, slots.initial_mean)
    assert float(gain[0]) == pytest.approx(0.15)

    # stagnation, window W = 4 lists, span 2: tested once steps > 4
    def with_lists(lists, steps):
        lists = np.asarray(lists, np.float32)  # (n, M), oldest first
        n = len(lists)
        ring = np.zeros((4, 2), np.float32)
        for i, values in enumerate(lists):
            ring[i % 4] = values
        return em.empty_slots(1, 2, 1, 1, 4, 2).replace(
            history=jnp.asarray(ring)[None], num_values=jnp.array([n], jnp.int32),
            steps=jnp.array([steps], jnp.int32),
        )  # fmt: skip

    rising = [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]
    assert not is_stagnant(with_lists(rising, 5), 2)[0]
    # last 4 lists [2 3 4 4]: first two's max 3 < last two's 4, medians 2.5 < 4
    assert not is_stagnant(with_lists(rising[:5] + [[4, 4]], 5), 2)[0]
    # last 4 lists [2 3 3 3]: max of the first two (3) >= max of the last two
    flat = rising[:4] + [[3, 3], [3, 3]]
    assert is_stagnant(with_lists(flat, 5), 2)[0]
    assert not is_stagnant(with_lists(flat, 4), 2)[0]  # too early


def test_a_started_slot_keeps_nothing_of_the_emitter_that_ran_there():
    # slot 0 ran an emitter (members at 7, rewards, ring, counters, archive
    # mark, feedback) and stopped; slot 1 still runs one. A candidate at 0.5
    # starts in slot 0 (shapes as in the test above: one compilation of select)
    f32 = lambda *shape: np.full(shape, 0.9, np.float32)  # noqa: E731
    used = em.empty_slots(2, 2, 1, 1, 4, 2).replace(
        mode=jnp.array([em.FREE, em.RUNNING]), genotypes=f32(2, 2, 1) * 7,
        descriptors=f32(2, 2, 1) * 7, fitness=f32(2, 2), reward=f32(2, 2),
        history=f32(2, 4, 2), num_values=np.array([9, 9], np.int32),
        steps=np.array([8, 8], np.int32), initial_mean=f32(2),
        best_archived=f32(2), most_novel=f32(2), feedback_genotypes=f32(2, 2, 1),
        feedback_descriptors=f32(2, 2, 1), feedback_fitness=f32(2, 2),
        num_feedback=np.array([5, 5], np.int32),
    )  # fmt: skip
    queue = em.CandidateQueue(
        genotypes=np.array([[0.5]], np.float32), descriptors=f32(1, 1) * 0.4,
        fitness=f32(1) * 0.2, reward=f32(1) * 0.3, sigma=f32(1) * 0.1,
        is_valid=np.array([True]),
    )  # fmt: skip
    slots, _ = start_slots(used, queue, np.zeros(1, np.float32), np.bool_(True))
    fresh = em.empty_slots(1, 2, 1, 1, 4, 2).replace(
        mode=np.array([em.BOOTSTRAP], np.int32), ancestor_genotype=queue.genotypes,
        ancestor_descriptor=queue.descriptors, ancestor_fitness=queue.fitness,
        ancestor_reward=queue.reward, sigma=queue.sigma,
        genotypes=np.full((1, 2, 1), 0.5, np.float32), descriptors=f32(1, 2, 1) * 0.4,
        fitness=f32(1, 2) * 0.2,
    )  # fmt: skip
    jax.tree.map(lambda x, y: np.testing.assert_array_equal(x[0], y[0]), slots, fresh)
    jax.tree.map(lambda x, y: np.testing.assert_array_equal(x[1], y[1]), slots, used)
    # first generation, one offspring of 4 with a finite reward: the other
    # member is a copy of the ancestor, not a survivor at 7
    g = np.arange(1.0, 9.0, dtype=np.float32).reshape(2, 4, 1)
    r = np.full((2, 4), np.nan, np.float32)
    r[0, 1] = 0.6
    slots = select(slots, np.array([True, False]), g, g, r, r)
    np.testing.assert_array_equal(slots.genotypes[0, :, 0], [2.0, 0.5])
    np.testing.assert_allclose(slots.reward[0], [0.6, -np.inf])


def test_a_candidates_first_generation_is_not_archived():
    # as in SERENE: only the generations after the first (the offspring of
    # the members) archive, even when the first met reward > 0 (slot 1 idle)
    slots = em.empty_slots(2, 2, 1, 1, 4, 2)
    g = np.arange(8.0, dtype=np.float32).reshape(2, 4, 1)
    active = np.array([True, False])
    first = np.array([[0.8, 0.2, 0.0, 0.0], [0.0] * 4], np.float32)
    slots = select(slots, active, g, g, first, first)
    mask, best = to_archive(slots, active)
    assert not mask.any() and best.tolist() == [-np.inf, -np.inf]
    # the next generation: its best member (the first generation's 0.8,
    # kept by the elitist selection) goes in
    later = np.array([[0.1, 0.5, 0.0, 0.0], [0.0] * 4], np.float32)
    slots = select(slots, active, g, g, later, later)
    mask, best = to_archive(slots, active)
    assert mask.tolist() == [[True, False], [False, False]]
    assert best.tolist() == [pytest.approx(0.8), -np.inf]


def test_novelty_search_rows_take_the_most_novel_parents_first():
    # rows 0-3 belong to emitters: the 12 other rows still start at parent 0
    from jaxrl.algos.novelty_search import Population
    from jaxrl.algos.serene.train import resolve_config

    task = qd.Task("corner", corner_score, 3, (0.0, 0.0), (1.0, 1.0),
                   genotype_bounds=(0.0, 1.0))  # fmt: skip
    algorithm = serene.build_algorithm(resolve_config(TINY, task), task)
    parents = jnp.arange(8, dtype=jnp.float32)[:, None] / 8 * jnp.ones(3)
    population = Population(parents, jnp.zeros(8), parents[:, :2], jnp.zeros(8))
    is_ns = jnp.arange(16) >= 4
    rows = algorithm._ns_offspring(
        jax.random.key(0), population, serene.HParams(mutation_sigma=0.0), is_ns
    )
    np.testing.assert_array_equal(rows[4:, 0] * 8, [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3])


def test_the_emitter_to_run_is_drawn_from_the_pareto_front():
    # SERENE's choose_emitter: among running emitters, the first front of
    # (ancestor novelty, improvement), one drawn uniformly; the highest
    # improvement while the reward archive is empty
    choose = jax.jit(
        jax.vmap(em.choose_running, in_axes=(0, None, None, None, None, None, None)),
        static_argnums=6,
    )
    keys = jax.random.split(jax.random.key(0), 300)
    none = jnp.zeros(4, bool)
    running = jnp.array([True, True, True, False])
    # slots 0-2 trade novelty for improvement: all on the front; slot 3
    # dominates them but is not running
    novelty, gain = jnp.array([1.0, 2.0, 3.0, 9.0]), jnp.array([3.0, 2.0, 1.0, 9.0])
    picks = np.asarray(choose(keys, none, running, novelty, gain, True, 1))
    assert (picks.sum(axis=1) == 1).all() and not picks[:, 3].any()
    assert (np.abs(picks[:, :3].sum(axis=0) - 100) < 35).all(), picks.sum(axis=0)
    # slot 2 dominates 0 and 1 (3 > 1, 2 and 4 > 3, 2): always slot 2
    gain = jnp.array([3.0, 2.0, 4.0, 9.0])
    picks = np.asarray(choose(keys, none, running, novelty, gain, True, 1))
    assert picks[:, 2].all() and picks.sum() == 300
    # no reward archive: the highest improvement among the running ones
    picks = np.asarray(choose(keys[:2], none, running, novelty, gain, False, 1))
    np.testing.assert_array_equal(picks, [[False, False, True, False]] * 2)
    # a chosen emitter stays while it runs; one that stopped is replaced
    kept = jnp.array([True, False, False, False])
    picks = np.asarray(choose(keys[:2], kept, running, novelty, gain, True, 1))
    np.testing.assert_array_equal(picks, [[True, False, False, False]] * 2)
    stopped = running & jnp.array([False, True, True, True])
    picks = np.asarray(choose(keys[:2], kept, stopped, novelty, gain, True, 1))
    np.testing.assert_array_equal(picks, [[False, False, True, False]] * 2)
    # two to run: the front's pick, then the next front's among the rest
    picks = np.asarray(choose(keys[:2], none, running, novelty, gain, True, 2))
    assert (picks.sum(axis=1) == 2).all() and picks[:, 2].all()
    # nothing running: nothing chosen
    picks = np.asarray(choose(keys[:2], none, none, novelty, gain, True, 1))
    assert not picks.any()


def test_config_checks_and_the_reward_choice():
    with pytest.raises(ValueError, match="Config.reward must be"):
        serene.Config(reward="return")
    with pytest.raises(ValueError, match="Config.chunk_size .* multiple of batch_size"):
        serene.Config(chunk_size=500, batch_size=200, population_size=100)
    with pytest.raises(ValueError, match="Config.num_emitters"):
        serene.Config(num_emitters=17)
    with pytest.raises(ValueError, match="Config.num_neighbours must be an int >= 1"):
        serene.Config(num_neighbours=0)
    with pytest.raises(ValueError, match="Config.improvement_window"):
        serene.Config(improvement_window=7)
    with pytest.raises(ValueError, match=r"Config.num_running must be in \[0, "):
        serene.Config(num_running=17)  # above num_emitters (16)
    with pytest.raises(ValueError, match="Config.feedback_capacity"):
        serene.Config(feedback_capacity=5)  # below emitter_population (6)
    with pytest.raises(ValueError, match="stagnation window"):
        serene.Config(genotype_dim=2, stagnation_base=0, stagnation_per_gene=1.0)
    with pytest.raises(
        ValueError, match="Config.max_emitter_steps must be an int >= 0"
    ):
        serene.Config(max_emitter_steps=-1)
    with pytest.raises(ValueError, match="Config.batch_size must be an int"):
        serene.Config(batch_size=2.5)
    with pytest.raises(ValueError, match="HParams.sigma_divisor"):
        serene.check_hparams(serene.HParams(sigma_divisor=0.0))
    # "solved" needs extras["is_solved"]: the arm has none (shapes only)
    arm = dataclasses.replace(TINY, genotype_dim=4, reward="solved")
    with pytest.raises(ValueError, match="reward='solved' needs a task"):
        serene.make_program(arm, qd.arm(4))
    auto = serene.make_program(dataclasses.replace(arm, reward="task"), qd.arm(4))
    assert auto.description["config"]["reward"] == "fitness"
    maze = dataclasses.replace(TINY, genotype_dim=15, descriptor_low="task",
                               descriptor_high="task")  # fmt: skip
    program = serene.make_program(maze, qd.hard_maze(15), "hard-maze")
    recorded = program.description["config"]
    assert recorded["reward"] == "solved"
    assert (recorded["descriptor_low"], recorded["descriptor_high"]) == (0.0, 200.0)
    assert program.primary == "max_reward"
    # "solved": the fitness where solved, else 0; "fitness": the fitness itself
    fitness, solved = jnp.array([0.5, 0.7, jnp.nan]), jnp.array([True, False, True])
    reward = serene.sparse_reward("solved", fitness, {"is_solved": solved})
    np.testing.assert_allclose(reward, [0.5, 0.0, -np.inf])
    np.testing.assert_allclose(serene.sparse_reward("fitness", fitness, {}),
                               [0.5, 0.7, -np.inf])  # fmt: skip
    with pytest.raises(ValueError, match=r"needs the task's extras\['is_solved'\]"):
        serene.sparse_reward("solved", jnp.zeros(2), None)


def test_command_line_refuses_a_bad_reward(tmp_path, capsys):
    argv = ["train", "serene", "--task", "arm", "--genotype-dim", "4", "--reward",
            "solved", "--no-progress", "--out", str(tmp_path / "bad")]  # fmt: skip
    assert cli.main(argv) == 2
    assert "reward='solved'" in capsys.readouterr().out
    assert not (tmp_path / "bad").exists()


# --------------------------------------------------------------------------
# one whole run


def _whole_run(out):
    """One engine run: 2 seeds, 40 generations in chunks of 10, a checkpoint
    every 2 chunks; the step's traces counted."""
    traces = []
    program = _program()

    def step(state, hparams):
        traces.append(1)  # at trace time only
        return program.step(state, hparams)

    result = jaxrl.run(
        dataclasses.replace(program, step=step), HP, seeds=2, progress=False,
        console=QUIET, chunk_steps=10, checkpoint_every=2, out=out,
        check_memory=False,  # its estimate traces the step once more
    )  # fmt: skip
    return result, len(traces)


def _check_emitters_start_only_from_rewarding_solutions(result):
    history = result.history
    found = history["has_reward"] > 0
    assert found[:, 0].sum() == 0 and found[:, -1].all()  # found on the way
    before = ~found
    for name in ("num_candidates", "num_busy", "num_emitters", "reward_archive_size",
                 "emitter_share", "is_exploiting"):  # fmt: skip
        assert (history[name][before] == 0).all(), name
    # once found: candidates wait, slots run, some were promoted to emitters
    assert (history["reward_archive_size"][found] > 0).all()
    assert (history["num_busy"].max(axis=1) > 0).all()
    assert (history["num_emitters"][:, -1] > 0).all()


def _check_budget_alternates_between_chunks(result):
    history = result.history
    exploiting = history["is_exploiting"] > 0
    # evaluations by emitters each generation, from the running share
    done = TINY.population_size + TINY.batch_size * np.arange(1, 41)
    spent = np.diff(np.round(history["emitter_share"] * done), prepend=0, axis=1)
    assert (spent[~exploiting] == 0).all()
    assert (spent[exploiting] > 0).all()
    assert (spent % TINY.emitter_batch == 0).all()
    assert (spent <= TINY.num_emitters * TINY.emitter_batch).all()
    # chunks of 2 generations: an exploitation chunk lasts at most 2 (less
    # when its emitters all stop), an exploration chunk always 2, so
    # exploitation streaks are at most 2 long and apart by at least 2
    for row in exploiting:
        edges = np.flatnonzero(np.diff(np.r_[0, row.astype(int), 0]))
        starts, ends = edges[::2], edges[1::2]
        assert len(starts) >= 3 and (ends - starts <= 2).all()
        assert (starts[1:] - ends[:-1] >= 2).all()


def _check_emitters_stop_and_improve_the_reward(result):
    history, final = result.history, result.final
    assert (history["num_stopped"][:, -1] > 0).all()
    first = np.argmax(history["has_reward"] > 0, axis=1)
    at_first = history["max_reward"][np.arange(2), first]
    # the reward climbs well past what exploration first met
    assert (final["max_reward"] > at_first + 0.2).all(), (at_first, final["max_reward"])
    assert (final["max_reward"] > 0.85).all()
    state = result.state.serene
    # the best reward met is in the reward archive
    np.testing.assert_allclose(np.max(state.reward_archive.fitness, axis=1),
                               final["max_reward"])  # fmt: skip
    for name in ("coverage", "qd_score", "max_fitness", "mean_fitness",
                 "archive_size"):  # fmt: skip
        assert final[name].shape == (2,)
    assert set(final) == set(serene.SereneMetrics._fields)


def test_a_sparse_run_then_its_resume(tmp_path):
    """One run (one compilation: under pytest-xdist a shared fixture could
    compile it once per worker) checked from every side, then resumed."""
    out = tmp_path / "run"
    result, traces = _whole_run(out)
    assert traces == 1  # 4 chunks, one trace of the step
    _check_emitters_start_only_from_rewarding_solutions(result)
    _check_budget_alternates_between_chunks(result)
    _check_emitters_stop_and_improve_the_reward(result)
    results = out / "results.json"
    assert json.loads(results.read_text())["status"] == "done"
    assert (out / "archive.png").stat().st_size > 1000  # the novelty archive
    results.write_text(results.read_text().replace('"done"', '"interrupted"'))
    shutil.rmtree(out / "checkpoints" / "40")
    # the task is this file's function, not a registered id: pass the program
    resumed = jaxrl.resume(out, _program(), progress=False, console=QUIET)
    for name in result.history:
        np.testing.assert_array_equal(resumed.history[name], result.history[name])
    jax.tree.map(np.testing.assert_array_equal, resumed.state.serene.reward_archive,
                 result.state.serene.reward_archive)  # fmt: skip


# a second compiled run (about as long as the one above): --exhaustive
@pytest.mark.exhaustive
def test_one_emitter_at_a_time():
    # num_running 1: at most one promoted emitter evaluates a generation (it
    # owns rows; other promoted ones wait), and the run still finds reward
    program = _program(dataclasses.replace(TINY, num_running=1))
    state = jax.jit(program.init)(jax.random.key(0), HP)
    step = jax.jit(program.step)
    chosen_once, waited = False, False
    for _ in range(TINY.num_iterations):
        mode_before = np.asarray(state.serene.slots.mode)
        state, metrics = step(state, HP)
        inner = state.serene
        chosen = np.asarray(inner.is_chosen)
        owners = set(np.asarray(inner.owner)[np.asarray(inner.owner) >= 0].tolist())
        assert chosen.sum() <= 1
        running_owners = {s for s in owners if mode_before[s] == em.RUNNING}
        assert running_owners == set(np.flatnonzero(chosen).tolist())
        chosen_once |= bool(chosen.any())
        waited |= bool(chosen.any() and (mode_before == em.RUNNING).sum() > 1)
    assert chosen_once and waited  # promoted emitters waited for their turn
    assert float(metrics.max_reward) > 0.5
