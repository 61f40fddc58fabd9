"""GFlowNet objectives, masked distributions, exact evaluation and training.

Exact flows of a tiny HyperGrid (2 x 4, 16 cells) are built here in NumPy,
apart from the library: for a backward policy P_B, the state flow is
``F(s) = R(s) + sum_children F(c) P_B(s | c)``, then
``P_F(c | s) = F(c) P_B(s | c) / F(s)``, ``P_F(exit | s) = R(s) / F(s)`` and
``Z = F(s0)``. Every objective must vanish on these and only on these.
"""

import functools
import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from compile_count import compilations, warm_up
from rich.console import Console
from run_dirs import rewind_to_older_checkpoint

import jaxrl
from jaxrl import cli
from jaxrl.algos import gflownet as gfn
from jaxrl.envs.gfn import make_gfn_env

NDIM, HEIGHT = 2, 4
ENV, REWARD = make_gfn_env("hypergrid", ndim=NDIM, height=HEIGHT)
N, A = HEIGHT**NDIM, NDIM + 1
CELLS = list(itertools.product(range(HEIGHT), repeat=NDIM))  # index order


def _reward(cell):
    """The standard reward for H = 4, by hand: 0.6 on the corner band
    (every coordinate 0 or 3), 0.1 elsewhere; no cell has the R2 bonus."""
    return 0.1 + 0.5 * all(c in (0, HEIGHT - 1) for c in cell)


def _index(cell):
    return cell[0] * HEIGHT + cell[1]


def _exact_tables(backward_logits):
    """Exact forward logits (log edge flows), log F and log Z for the P_B
    given by ``backward_logits`` (N, A), softmaxed over each cell's parents."""
    rewards = np.array([_reward(c) for c in CELLS])
    pb = np.zeros((N, A))
    for cell in CELLS:
        parents = [d for d in range(NDIM) if cell[d] > 0]
        if parents:
            z = np.exp(backward_logits[_index(cell), parents])
            pb[_index(cell), parents] = z / z.sum()
    flow = np.zeros(N)
    for cell in sorted(CELLS, key=sum, reverse=True):  # children first
        total = rewards[_index(cell)]
        for d in range(NDIM):
            if cell[d] < HEIGHT - 1:
                child = _index(tuple(c + (k == d) for k, c in enumerate(cell)))
                total += flow[child] * pb[child, d]
        flow[_index(cell)] = total
    edges = np.zeros((N, A))  # log F(s -> s'), the forward logits
    for cell in CELLS:
        s = _index(cell)
        for d in range(NDIM):
            if cell[d] < HEIGHT - 1:
                child = _index(tuple(c + (k == d) for k, c in enumerate(cell)))
                edges[s, d] = np.log(flow[child] * pb[child, d])
        edges[s, NDIM] = np.log(rewards[s])
    return edges, np.log(flow), np.log(flow[0]), np.log(rewards)


def _index_from_obs(obs):
    """A cell's index from its one-hot observation (..., NDIM * HEIGHT)."""
    digits = jnp.argmax(obs.reshape(*obs.shape[:-1], NDIM, HEIGHT), axis=-1)
    return digits[..., 0] * HEIGHT + digits[..., 1]


@functools.partial(jax.jit, static_argnames="batch_size")
def _sample(logits_table, key, epsilon, temperature, batch_size):
    def forward_logits(obs):
        return logits_table[_index_from_obs(obs)]

    return gfn.sample_trajectories(
        ENV, forward_logits, key, batch_size, epsilon, temperature
    )


@jax.jit
def _all_losses(tables, traj, log_z, lam):
    """Every objective on a batch, for tabular policies and flows."""
    forward, backward, log_flow, log_flow_tilde = tables

    def apply_with(flow_table):
        def apply(states):
            num_axes = states.coords.ndim - 1
            index = gfn.map_states(ENV.state_index, states, num_axes)
            return gfn.PolicyOutputs(forward[index], backward[index], flow_table[index])

        return apply

    terms = gfn.trajectory_terms(ENV, REWARD, traj, apply_with(log_flow), log_z, True)
    tilde = gfn.trajectory_terms(ENV, REWARD, traj, apply_with(log_flow_tilde), log_z)
    losses = {n: gfn.gfn_loss(n, terms, lam) for n in gfn.LOSS_NAMES if n != "fldb"}
    return {**losses, "fldb": gfn.gfn_loss("fldb", tilde, lam)}


@jax.jit
def _exact_eval(forward_logits):
    """Enumeration, DP terminating distribution and metrics, in one program."""
    enum = gfn.enumerate_states(ENV, REWARD)
    log_p = gfn.terminating_log_probs(ENV, enum, forward_logits)
    metrics = gfn.exact_metrics(log_p, enum.log_reward, enum.forward_mask[:, -1])
    return log_p, metrics, enum.log_reward


@pytest.fixture(scope="module")
def exact():
    backward_logits = np.random.default_rng(0).normal(size=(N, A))
    edges, log_flow, log_z, log_r = _exact_tables(backward_logits)
    tables = tuple(
        jnp.asarray(x, jnp.float32)
        for x in (edges, backward_logits, log_flow, log_flow - log_r)
    )
    # any behaviour policy will do: the objectives are off-policy
    traj = _sample(tables[0], jax.random.key(1), 0.3, 1.0, 64)
    return tables, traj, jnp.float32(log_z), log_r


def test_masked_logsumexp_of_a_fully_masked_row_is_finite():
    x = jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = jnp.array([[True, False, True], [False, False, False]])
    lse = gfn.masked_logsumexp(x, mask)
    assert float(lse[0]) == pytest.approx(np.log(np.exp(1) + np.exp(3)), rel=1e-6)
    assert np.isfinite(lse).all() and float(lse[1]) < -1e8
    log_p = gfn.masked_log_softmax(x, mask)
    assert np.isfinite(log_p).all()
    np.testing.assert_allclose(np.exp(log_p[1]), 1 / 3, rtol=1e-6)  # uniform row
    assert float(jnp.exp(log_p[0, 1])) == 0.0
    grads = jax.grad(lambda x: jnp.sum(gfn.masked_log_softmax(x, mask)[:, 0]))(x)
    assert np.isfinite(grads).all()


def test_draw_actions_inverts_the_cumulative_probabilities():
    """Evenly spaced draws land on each action in proportion to its
    probability (within one draw); an action of probability 0 is never drawn,
    at the ends of [0, 1) either; a row of zeros gives the last action."""
    probs = np.array([[0.0, 0.5, 0.0, 0.3, 0.2, 0.0],
                      [0.25, 0.0, 0.25, 0.0, 0.0, 0.5],
                      [0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
                      [0.0] * 6], np.float32)  # fmt: skip
    n = 1000
    ends = np.array([0.0, np.nextafter(np.float32(1), np.float32(0))], np.float32)
    uniform = np.concatenate([(np.arange(n, dtype=np.float32) + 0.5) / n, ends])
    actions = np.asarray(jax.jit(jax.vmap(gfn.draw_actions, in_axes=(None, 0)))(
        jnp.asarray(probs), jnp.asarray(uniform)))  # fmt: skip
    assert actions.dtype == np.int32 and actions.shape == (n + 2, 4)
    for row in range(3):
        counts = np.bincount(actions[:, row], minlength=6)  # the ends included
        assert (counts[probs[row] == 0] == 0).all(), (row, counts)
        spread = np.bincount(actions[:n, row], minlength=6)
        assert np.abs(spread - n * probs[row]).max() <= 1, (row, spread)
    assert (actions[:, 3] == 5).all()
    assert actions[-2:, 0].tolist() == [1, 4] and actions[-2:, 1].tolist() == [0, 5]


def test_behaviour_policy_mixes_uniform_and_tempered_policy():
    logits = jnp.array([2.0, 0.0, -1.0, 5.0])
    mask = jnp.array([True, True, True, False])
    uniform = jnp.exp(gfn.behaviour_log_probs(logits, mask, 1.0, 1.0))
    np.testing.assert_allclose(uniform, [1 / 3, 1 / 3, 1 / 3, 0.0], atol=1e-7)
    tempered = jnp.exp(gfn.behaviour_log_probs(logits, mask, 0.0, 2.0))
    expected = np.exp([1.0, 0.0, -0.5]) / np.exp([1.0, 0.0, -0.5]).sum()
    np.testing.assert_allclose(tempered[:3], expected, rtol=1e-6)
    mixed = jnp.exp(gfn.behaviour_log_probs(logits, mask, 0.25, 2.0))
    np.testing.assert_allclose(mixed[:3], 0.75 * expected + 0.25 / 3, rtol=1e-6)
    assert float(mixed[3]) == 0.0
    probs = gfn.behaviour_probs(logits, mask, 0.25, 2.0)
    np.testing.assert_allclose(probs, mixed, rtol=1e-6)
    assert float(probs[3]) == 0.0


@pytest.mark.parametrize("shared", [True, False])
def test_policy_layers_start_as_torch_linear_does(shared):
    # every kernel and bias uniform on +-1/sqrt(fan_in), as torch.nn.Linear
    network = gfn.GFNPolicy(num_actions=5, hidden_size=256, use_learned_backward=True,
                            use_flow=True, use_shared_trunk=shared)  # fmt: skip
    params = network.init(jax.random.key(0), jnp.zeros((1, 32)))
    layers = jax.tree_util.tree_leaves_with_path(params)
    assert len(layers) == (10 if shared else 18)
    for path, value in layers:
        name = jax.tree_util.keystr(path)
        fan_in = 32 if "'layers_0'" in name or "'Dense_0'" in name else 256
        bound = 1 / np.sqrt(fan_in)
        assert value.dtype == jnp.float32, name
        assert np.abs(value).max() <= bound, name
        if value.size >= 1000:
            assert np.abs(value).max() > 0.99 * bound, name
            np.testing.assert_allclose(np.std(value), bound / np.sqrt(3), rtol=0.05)


def test_objectives_by_hand():
    # one trajectory: 2 moves then the exit, then a padded step
    valid = jnp.array([True, True, True, False])
    is_exit = jnp.array([False, False, True, False])
    log_pf = jnp.array([-0.7, -0.2, -1.1, 9.0])
    log_pb = jnp.array([0.0, -0.69, 0.0, 9.0])
    # sum over taken steps of log P_F - log P_B = -0.7 + 0.49 - 1.1 = -1.31
    tb = gfn.trajectory_balance(0.5, log_pf, log_pb, -1.0, valid)
    assert float(tb) == pytest.approx(0.5 - 1.31 + 1.0, abs=1e-6)
    zeta = gfn.log_partition_estimate(log_pf, log_pb, -1.0, valid)
    assert float(zeta) == pytest.approx(-1.0 + 1.31, abs=1e-6)
    assert float(gfn.vargrad_loss(jnp.array([1.0, 3.0]))) == pytest.approx(1.0)
    log_flow = jnp.array([0.5, 0.2, -0.3, 7.0, 7.0])
    db = gfn.detailed_balance(log_flow, log_pf, log_pb, -1.0, valid, is_exit)
    # 0.5-0.7-0.2-0; 0.2-0.2+0.3+0.69; exit: -0.3-1.1-(-1.0)-0; padding: 0
    np.testing.assert_allclose(db, [-0.4, 0.99, -0.4, 0.0], atol=1e-6)
    tilde = jnp.array([0.1, 0.3, -0.2, 7.0, 7.0])
    state_r = jnp.array([-2.0, -1.5, -0.5, -0.5, -0.5])
    fl = gfn.forward_looking_db(tilde, log_pf, log_pb, state_r, valid, is_exit)
    # (0.1-2.0)-0.7-(0.3-1.5)-0; (0.3-1.5)-0.2-(-0.2-0.5)+0.69; exit: -0.2-1.1
    np.testing.assert_allclose(fl, [-1.4, -0.01, -1.3, 0.0], atol=1e-6)
    pf_exit = jnp.array([-1.0, -0.8, -0.4, 0.0, 0.0])
    mdb = gfn.modified_db(state_r, log_pf, log_pb, pf_exit, valid, is_exit)
    # -2.0-0.7-0.8+1.5-0+1.0; -1.5-0.2-0.4+0.5+0.69+0.8; exit and padding: 0
    np.testing.assert_allclose(mdb, [-1.0, -0.11, 0.0, 0.0], atol=1e-6)


@pytest.mark.parametrize("lam", [0.9, 1.0, 1.9])
def test_subtb_weights_every_subtrajectory_geometrically(lam):
    valid = jnp.array([True, True, True, False])
    is_exit = jnp.array([False, False, True, False])
    log_pf = jnp.array([-0.7, -0.2, -1.1, 9.0])
    log_pb = jnp.array([0.0, -0.69, 0.0, 9.0])
    log_flow = jnp.array([0.5, 0.2, -0.3, 7.0, 7.0])
    got = gfn.subtrajectory_balance(log_flow, log_pf, log_pb, -1.0, valid, is_exit, lam)
    flows = [0.5, 0.2, -0.3, -1.0]  # the node after the exit has flow R(x)
    steps = [-0.7, 0.49, -1.1]  # log P_F - log P_B per step
    num = den = 0.0
    for i, j in itertools.combinations(range(4), 2):
        residual = flows[i] + sum(steps[i:j]) - flows[j]
        num += lam ** (j - i) * residual**2
        den += lam ** (j - i)
    assert float(got) == pytest.approx(num / den, rel=1e-5)
    # a trajectory that exits at s0: the only pair is detailed balance
    one = gfn.subtrajectory_balance(
        jnp.array([0.3, 0.0]), jnp.array([-0.4]), jnp.array([0.0]), -1.0,
        jnp.array([True]), jnp.array([True]), lam,
    )  # fmt: skip
    assert float(one) == pytest.approx((0.3 - 0.4 + 1.0) ** 2, rel=1e-5)


def test_flow_matching_by_hand():
    # s0 -> s1 -> exit; 2 actions (one move, the exit)
    log_edge = jnp.log(jnp.array([[1.0, 2.0], [3.0, 4.0], [1.0, 1.0]]))
    is_edge = jnp.array([[True, True], [True, True], [False, False]])
    log_in = jnp.log(jnp.array([[1.0, 1.0], [5.0, 1.0], [1.0, 1.0]]))
    is_parent = jnp.array([[False, False], [True, False], [False, False]])
    flow, reward = gfn.flow_matching(
        log_edge, is_edge, log_in, is_parent, jnp.log(4.0),
        jnp.array([True, True]), jnp.array([False, True]),
    )  # fmt: skip
    np.testing.assert_allclose(flow, [0.0, np.log(5 / 7), 0.0], atol=1e-6)
    assert float(reward) == pytest.approx(0.0, abs=1e-6)  # F(x -> s_f) = R(x) = 4


def test_every_objective_vanishes_on_exact_flows_only(exact):
    tables, traj, log_z, _ = exact
    assert bool(jnp.any(~traj.is_valid))  # the batch has padded steps
    losses = _all_losses(tables, traj, log_z, 0.9)
    assert sorted(losses) == sorted(gfn.LOSS_NAMES)
    for name, value in losses.items():
        assert float(value) < 1e-9, (name, float(value))
    forward = tables[0].at[0, 0].add(1.0)  # P_F(s0 -> (1, 0)) changed
    broken = _all_losses((forward, *tables[1:]), traj, log_z, 0.9)
    for name, value in broken.items():
        assert float(value) > 1e-3, (name, float(value))
    shifted = _all_losses(tables, traj, log_z + 0.5, 0.9)  # a wrong Z
    for name in ("tb", "db", "fldb", "subtb"):
        assert float(shifted[name]) > 1e-3, name
    for name in ("mdb", "vargrad", "fm"):  # these do not learn Z directly
        assert float(shifted[name]) < 1e-9, name


def test_exact_policy_terminates_in_proportion_to_reward(exact):
    tables, _, log_z, log_r = exact
    log_p, metrics, enum_log_r = _exact_eval(tables[0])
    np.testing.assert_allclose(enum_log_r, log_r, rtol=1e-6)
    np.testing.assert_allclose(np.exp(log_p), np.exp(log_r) / np.exp(log_r).sum(),
                               atol=1e-6)  # fmt: skip
    assert float(metrics.l1) < 1e-5 and abs(float(metrics.kl)) < 1e-5
    assert abs(float(metrics.jsd)) < 1e-5
    assert float(metrics.true_log_z) == pytest.approx(float(log_z), abs=1e-5)
    # 4 corner cells at 0.6 and 12 at 0.1: Z = 3.6
    assert float(metrics.true_log_z) == pytest.approx(np.log(3.6), abs=1e-6)
    # Rounding orders the 12 tied cells' probabilities at random, so the rank
    # correlation stays below 1 even for the exact policy (a random one: ~0).
    assert float(metrics.spearman) > 0.8


def test_spearman_matches_scipy_with_ties_and_ignores_non_objects():
    from scipy import stats

    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, size=40).astype(np.float32)  # many ties
    b = (a + rng.normal(size=40)).astype(np.float32)
    keep = rng.random(40) < 0.7
    b_junk = np.where(keep, b, 1e6).astype(np.float32)  # non-objects ignored
    ours = gfn.evaluation.spearman(jnp.asarray(a), jnp.asarray(b_junk), keep)
    expected = stats.spearmanr(a[keep], b[keep]).statistic
    assert float(ours) == pytest.approx(expected, abs=1e-5)
    flat = gfn.evaluation.spearman(jnp.ones(40), jnp.asarray(b), keep)
    assert float(flat) == 0.0  # no spread in one of them


@pytest.fixture(scope="module")
def random_policy_samples():
    logits = jax.random.normal(jax.random.key(2), (N, A)) * 1.5
    trajs = [
        _sample(logits, jax.random.key(3), 0.0, 1.0, 4000),
        _sample(logits, jax.random.key(4), 0.5, 0.3, 4000),  # exploring
    ]
    return logits, trajs


def test_dp_distribution_matches_sampled_frequencies(random_policy_samples):
    logits, (traj, _) = random_policy_samples
    p = np.exp(np.asarray(_exact_eval(logits)[0], np.float64))
    assert p.sum() == pytest.approx(1.0, abs=1e-5)
    final = np.asarray(traj.states.coords[-1])
    counts = np.bincount(final[:, 0] * HEIGHT + final[:, 1], minlength=N)
    expected = 4000 * p
    chi2 = np.sum((counts - expected) ** 2 / expected)
    # 16 cells, 15 degrees of freedom: P(chi2 > 44.26) = 1e-4 if the DP is right
    assert chi2 < 44.26, (chi2, counts, expected)


def test_sampled_actions_are_always_valid(random_policy_samples):
    _, trajs = random_policy_samples
    for traj in trajs:
        coords = np.asarray(traj.states.coords)  # (T+1, B, D)
        actions, valid = np.asarray(traj.actions), np.asarray(traj.is_valid)
        assert coords.min() >= 0 and coords.max() <= HEIGHT - 1
        assert np.asarray(traj.states.is_terminal[-1]).all()  # all exited in time
        moves = actions[:, :, None] == np.arange(NDIM)
        at_top = coords[:-1] == HEIGHT - 1
        assert not (valid[:, :, None] & moves & at_top).any()  # no step off the grid
        # each trajectory takes exactly sum(x) moves and one exit, then pads
        num_steps = valid.sum(0)
        np.testing.assert_array_equal(num_steps, coords[-1].sum(1) + 1)
        assert (valid == (np.arange(valid.shape[0])[:, None] < num_steps)).all()
        exits = valid & (actions == NDIM)
        np.testing.assert_array_equal(exits.sum(0), 1)


def test_config_and_program_errors():
    with pytest.raises(ValueError, match="loss must be one of tb, db, mdb, fldb, "
                       "subtb, vargrad, fm; got 'ppo'"):  # fmt: skip
        gfn.Config(loss="ppo")
    with pytest.raises(ValueError, match="eval_every .* must divide"):
        gfn.Config(num_iterations=100, eval_every=30)
    with pytest.raises(ValueError, match="batch_size must be an int"):
        gfn.Config(batch_size=True)
    with pytest.raises(ValueError, match=r"HParams.epsilon must be in \[0.0, 1.0\]"):
        gfn.check_hparams(gfn.HParams(epsilon=1.5))
    huge, huge_reward = make_gfn_env("hypergrid", ndim=12, height=8)
    with pytest.raises(ValueError, match="cannot be enumerated"):
        gfn.make_program(gfn.Config(), huge, huge_reward)
    with pytest.raises(ValueError, match="unknown loss 'nope'"):
        gfn.gfn_loss("nope", None, 0.9)


def test_cli_refuses_an_unknown_loss(capsys):
    assert cli.main(["train", "gfn", "--loss", "nope", "--no-progress"]) == 2
    assert "loss must be one of tb, db" in capsys.readouterr().out


def test_make_train_shapes():
    config = gfn.Config(loss="subtb", num_iterations=6, eval_every=2, batch_size=4,
                        hidden_size=8, use_shared_trunk=True)  # fmt: skip
    train = gfn.make_train(config, ENV, REWARD)
    out = jax.eval_shape(train, jax.random.key(0), gfn.HParams())
    assert out.metrics.l1.shape == (3,) and out.metrics.modes_found.dtype == jnp.int32
    assert out.state.is_visited.shape == (N,)


# TB on the 2 x 4 grid, uniform P_B, shared trunk, lr 1e-2; 240 iterations of
# 16 trajectories. Measured over 16 seeds: L1 0.23-0.48 after 40 iterations,
# 0.0004-0.0044 after 240 (an untrained policy: about 0.7); |log Z error| at
# most 0.0029. The bounds leave a margin of more than 10.
L1_BOUND = 0.05
LOGZ_BOUND = 0.05


@pytest.fixture(scope="module")
def engine_runs(tmp_path_factory):
    """The same run in 2 chunks (in a run directory, a checkpoint every
    chunk) and in 6 chunks, counting the compilations of each."""
    warm_up(tmp_path_factory.mktemp("warm") / "run")
    config = gfn.Config(loss="tb", num_iterations=240, eval_every=40, batch_size=16,
                        hidden_size=32, use_learned_backward=False,
                        use_shared_trunk=True)  # fmt: skip
    out = tmp_path_factory.mktemp("gfn") / "run"
    target = f"hypergrid:ndim={NDIM},height={HEIGHT}"  # rebuilt by jaxrl resume
    runs, counts = [], []
    for chunk, kwargs in ((3, dict(out=out, checkpoint_every=1)), (1, {})):
        program = gfn.make_program(config, ENV, REWARD, target=target)
        start = compilations()
        runs.append(
            jaxrl.run(program, gfn.HParams(lr=1e-2), seeds=2, chunk_steps=chunk,
                      progress=False, console=Console(quiet=True), **kwargs)
        )  # fmt: skip
        counts.append(compilations() - start)
    return runs, counts, out


def test_one_compilation_for_a_whole_run(engine_runs):
    runs, counts, _ = engine_runs
    # the run directory's exact distributions are one more compiled call
    assert counts[0] - 1 == counts[1] > 0
    for name in runs[0].history:
        np.testing.assert_array_equal(runs[0].history[name], runs[1].history[name])


def test_resume_equals_the_uninterrupted_run(engine_runs):
    (_, whole), _, out = engine_runs
    rewind_to_older_checkpoint(out, [3, 6])
    # the program is rebuilt from config.json through the algorithm registry
    resumed = jaxrl.resume(out, progress=False, console=Console(quiet=True))
    assert resumed.history.keys() == whole.history.keys()
    for name in whole.history:
        np.testing.assert_array_equal(resumed.history[name], whole.history[name])
    assert resumed.final.keys() == whole.final.keys()
    for name in whole.final:
        np.testing.assert_array_equal(resumed.final[name], whole.final[name])
    jax.tree.map(np.testing.assert_array_equal, resumed.state.params,
                 whole.state.params)  # fmt: skip
    assert json.loads((out / "results.json").read_text())["status"] == "done"


def test_tb_learns_the_tiny_grid(engine_runs):
    result = engine_runs[0][1]
    assert sorted(result.final) == [
        "jsd", "kl", "l1", "logz_error", "modes_found", "spearman"
    ]  # fmt: skip
    l1 = result.history["l1"]
    assert l1.shape == (2, 6) and np.isfinite(l1).all()
    assert (l1[:, 0] > l1[:, -1]).all()
    assert (result.final["l1"] < L1_BOUND).all(), result.final["l1"]
    assert (result.final["logz_error"] < LOGZ_BOUND).all(), result.final["logz_error"]
    assert (result.final["modes_found"] == 0).all()  # H = 4 has no R2 cell


# subtb compiles two more programs (about 10 s in the CI run): --exhaustive
@pytest.mark.parametrize(
    "loss", ["tb", pytest.param("subtb", marks=pytest.mark.exhaustive)]
)
def test_compacted_rollout_gives_the_padded_loss(loss):
    """The first iteration from the same parameters and key: the network run
    on visited states only must give the loss of the padded evaluation."""
    losses = []
    for rollout in ("padded", "compacted"):
        config = gfn.Config(loss=loss, num_iterations=1, eval_every=1, batch_size=8,
                            hidden_size=16, rollout=rollout)  # fmt: skip
        out = jax.jit(gfn.make_train(config, ENV, REWARD))(jax.random.key(3))
        losses.append(float(out.metrics.loss[0]))
    assert losses[0] > 0
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    with pytest.raises(ValueError, match="does not support loss 'fm'"):
        gfn.Config(loss="fm", rollout="compacted")


def test_run_directory_holds_the_exact_distributions(engine_runs):
    """A run that writes files leaves each run's exact terminating
    distribution, the target, and (2-D grid) their heatmaps; the file's L1
    is the final ``l1``."""
    from jaxrl.algos.gflownet import artifacts

    (result, _), _, out = engine_runs
    learned = np.load(out / artifacts.DISTRIBUTION_FILE)
    target = np.load(out / artifacts.TARGET_FILE)
    assert learned.shape == (2, ENV.num_states) and target.shape == (ENV.num_states,)
    np.testing.assert_allclose(learned.sum(1), 1.0, atol=1e-5)
    reward = np.exp(np.asarray(jax.vmap(REWARD.log_reward)(ENV.all_states())))
    np.testing.assert_allclose(target, reward / reward.sum(), rtol=1e-5)
    l1 = np.abs(learned - target).sum(1)
    np.testing.assert_allclose(l1, result.final["l1"], atol=1e-5)
    assert (out / artifacts.HEATMAP_FILE).stat().st_size > 0
