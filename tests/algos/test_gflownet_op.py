"""Order-Preserving GFlowNets (Chen & Mauch, 2024, arXiv 2310.00386): the
order loss by hand, OP-DB's pieces by hand, and OP-TB learning a tiny grid."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import cli
from jaxrl.algos import gflownet as gfn
from jaxrl.envs.gfn import make_gfn_env


def test_order_loss_prefers_the_correct_order():
    log_reward = jnp.log(jnp.array([1.0, 2.0, 3.0, 4.0]))
    partner = jnp.array([3, 2, 1, 0])  # pairs (0, 3) and (1, 2), each twice
    right = jnp.array([-1.0, 0.0, 1.0, 2.0])  # estimates in the true order
    wrong = right[::-1]
    good = float(gfn.order_loss(right, log_reward, partner))
    bad = float(gfn.order_loss(wrong, log_reward, partner))
    # pair (0, 3): margin 3, pair (1, 2): margin 1, each counted from both sides
    expected = (np.log1p(np.exp(-3.0)) + np.log1p(np.exp(-1.0))) / 2
    assert good == pytest.approx(expected, rel=1e-5)
    assert bad == pytest.approx((np.log1p(np.exp(3.0)) + np.log1p(np.exp(1.0))) / 2,
                                rel=1e-5)  # fmt: skip
    assert good < bad
    # the loss pushes the better object's estimate up and the worse one's down
    grad = jax.grad(gfn.order_loss)(jnp.zeros(4), log_reward, partner)
    assert float(grad[3]) < 0 < float(grad[0])
    # the true reward is a label only: no gradient flows into it
    grad_r = jax.grad(gfn.order_loss, argnums=1)(right, log_reward, partner)
    np.testing.assert_array_equal(grad_r, 0.0)


def test_ties_are_labelled_one_half():
    labels = gfn.order_labels(jnp.array([1.0, 1.0, 2.0, 0.5]),
                              jnp.array([1.0, 1.0 + 5e-7, 1.0, 0.7]))  # fmt: skip
    np.testing.assert_array_equal(labels, [0.5, 0.5, 1.0, 0.0])
    # (1/2, 1/2) against softmax(a, b): log 2 at equal estimates, minimal there
    loss = gfn.pairwise_order_loss(jnp.array([0.3, 0.3, 1.3]),
                                   jnp.array([0.3, 1.3, 0.3]), 0.5)  # fmt: skip
    assert float(loss[0]) == pytest.approx(np.log(2.0), rel=1e-6)
    assert float(loss[1]) == pytest.approx(float(loss[2]))
    assert float(loss[1]) > np.log(2.0)


def test_pareto_labels_are_uniform_on_the_non_dominated_set():
    objectives = jnp.array([
        [1.0, 0.0],  # non-dominated
        [0.0, 1.0],  # non-dominated
        [0.5, 0.5],  # non-dominated
        [0.4, 0.4],  # dominated by (0.5, 0.5)
        [0.5, 0.5],  # a copy of a non-dominated point: non-dominated too
        [1.0, -1.0],  # dominated by (1, 0): equal in one, worse in the other
    ])  # fmt: skip

    @jax.jit
    def everything(objectives):
        loss = jax.value_and_grad(gfn.pareto_order_loss)
        value, grad = loss(jnp.zeros(6), objectives)
        is_valid = jnp.array([0, 1, 1, 1, 1, 1], bool)
        masked = gfn.non_dominated(objectives, is_valid)
        return gfn.non_dominated(objectives), grad, value, masked

    best, grad, value, masked = everything(objectives)
    np.testing.assert_array_equal(best, [1, 1, 1, 0, 1, 0])
    # gradient of -sum(label * log_softmax(u)) at u = 0 is 1/B - label
    np.testing.assert_allclose(1 / 6 - grad, [0.25, 0.25, 0.25, 0, 0.25, 0], atol=1e-7)
    assert float(value) == pytest.approx(np.log(6.0), rel=1e-6)
    np.testing.assert_array_equal(masked, [0, 1, 1, 0, 1, 1])  # (1, 0) left out


def test_op_db_pieces_by_hand():
    # s0 -> s1 -> s2 -> exit, then a padded step
    valid = jnp.array([True, True, True, False])
    is_exit = jnp.array([False, False, True, False])
    log_pf = jnp.array([-0.7, -0.2, -1.1, 9.0])
    log_pb = jnp.array([0.0, -0.69, 0.0, 9.0])
    log_flow = jnp.array([0.5, 0.2, -0.3, 7.0, 7.0])
    residual, log_r_hat = gfn.op_detailed_balance(log_flow, log_pf, log_pb, valid,
                                                  is_exit)  # fmt: skip
    # 0.5-0.7-0.2-0; 0.2-0.2+0.3+0.69; the exit has no residual; padding: 0
    np.testing.assert_allclose(residual, [-0.4, 0.99, 0.0, 0.0], atol=1e-6)
    assert float(log_r_hat) == pytest.approx(-0.3 - 1.1)  # log F(x) + log P_F(exit)
    tb = gfn.tb_log_reward_estimate(0.5, log_pf, log_pb, valid)
    assert float(tb) == pytest.approx(0.5 - 0.7 + 0.49 - 1.1, abs=1e-6)


def test_op_subtb_pieces_by_hand():
    valid = jnp.array([True, True, True, False])
    is_exit = jnp.array([False, False, True, False])
    log_pf = jnp.array([-0.7, -0.2, -1.1, 9.0])
    log_pb = jnp.array([0.0, -0.69, 0.0, 9.0])
    log_flow = jnp.array([0.5, 0.2, -0.3, 7.0, 7.0])
    squares, counts, log_r_hat, has = gfn.op_subtb_pieces(log_flow, log_pf, log_pb,
                                                          valid, is_exit)  # fmt: skip
    # pieces without the exit: s0->s1 -0.4, s1->s2 0.99 (length 1), s0->s2
    # 0.5 - 0.7 + 0.49 + 0.3 = 0.59 (length 2)
    np.testing.assert_allclose(squares, [0.16 + 0.9801, 0.3481, 0, 0], atol=1e-5)
    np.testing.assert_array_equal(counts, [2, 1, 0, 0])
    # through the exit: from s2 -0.3 - 1.1; from s1 0.2 + 0.49 - 1.1; from s0
    # 0.5 - 0.7 + 0.49 - 1.1 (OP-TB's estimate); no piece of length 4
    np.testing.assert_allclose(log_r_hat, [-1.4, -0.41, -0.81, 0.0], atol=1e-6)
    np.testing.assert_array_equal(has, [True, True, True, False])
    # pairs with a missing piece are left out of the order loss
    loss = gfn.order_loss(
        jnp.array([0.0, 1.0, 5.0]),
        jnp.array([0.0, 1.0, -3.0]),
        jnp.array([1, 0, 0]),
        is_valid=jnp.array([1, 1, 0], bool),
    )
    assert float(loss) == pytest.approx(np.log1p(np.exp(-1.0)), rel=1e-6)


SMALL, SMALL_REWARD = make_gfn_env("hypergrid", ndim=2, height=4)


@jax.jit
def _op_losses(key):
    """Every OP objective on a batch from random tabular policies and flows,
    and the same pieces put together here."""
    k_f, k_b, k_flow, k_sample, k_pair = jax.random.split(key, 5)
    forward = jax.random.normal(k_f, (16, 3))
    backward = jax.random.normal(k_b, (16, 3))
    flow = jax.random.normal(k_flow, (16,))

    def apply(states):
        index = gfn.map_states(SMALL.state_index, states, states.coords.ndim - 1)
        return gfn.PolicyOutputs(forward[index], backward[index], flow[index])

    traj = gfn.sample_trajectories(SMALL, lambda obs: jnp.zeros((8, 3)), k_sample,
                                   8, 0.0, 1.0)  # fmt: skip
    t = gfn.trajectory_terms(SMALL, SMALL_REWARD, traj, apply, jnp.float32(0.3), True)
    partner = jax.random.permutation(k_pair, 8)
    got = {name: gfn.gfn_loss(name, t, 0.9, partner=partner, op_weight=0.25)
           for name in gfn.OP_LOSS_NAMES}  # fmt: skip
    with_kl = gfn.gfn_loss("op-tb", t, 0.9, partner=partner, op_kl_weight=0.5)
    tb_hat = jax.vmap(gfn.tb_log_reward_estimate, in_axes=(None, 1, 1, 1))(
        t.log_z, t.log_pf, t.log_pb, t.is_valid
    )
    # FM's own exit flow is its log R^; fm minus its reward-matching term
    exit_flow = jnp.sum(jnp.where(t.is_exit, t.log_edge[:-1, :, -1], 0.0), 0)
    fm_flow = gfn.gfn_loss("fm", t, 0.9) - jnp.mean(
        jnp.square(exit_flow - t.log_reward)
    )
    by_hand = {
        "op-tb": gfn.order_loss(tb_hat, t.log_reward, partner),
        "op-fm": fm_flow + 0.25 * gfn.order_loss(exit_flow, t.log_reward, partner),
    }
    # KL(uniform || P_B) by hand over the states s_1 .. s_n of each trajectory
    log_pb = jax.nn.log_softmax(jnp.where(jnp.arange(3) < 2, backward, -jnp.inf))
    coords = traj.states.coords  # (T+1, B, 2)
    index = coords[..., 0] * 4 + coords[..., 1]
    # a cell with one parent has P_B = 1 on it: KL 0
    both = jnp.all(coords > 0, -1)
    kl_two = -jnp.log(2.0) - 0.5 * (log_pb[index, 0] + log_pb[index, 1])
    is_state = jnp.concatenate([jnp.zeros((1, 8), bool), t.is_valid & ~t.is_exit])
    kl = jnp.where(both, kl_two, 0.0)
    by_hand["kl"] = jnp.sum(jnp.where(is_state, kl, 0.0)) / jnp.sum(is_state)
    got["kl"] = (with_kl - got["op-tb"]) / 0.5
    return got, by_hand, tb_hat


def test_op_objectives_put_together_on_a_sampled_batch():
    got, by_hand, tb_hat = _op_losses(jax.random.key(0))
    for name in by_hand:
        assert float(got[name]) == pytest.approx(float(by_hand[name]), rel=1e-5)
    assert all(np.isfinite(float(v)) and float(v) > 1e-3 for v in got.values())
    # OP-TB's estimate moves with log Z, its loss does not: Z is not learned
    shifted = gfn.order_loss(tb_hat + 2.0, jnp.zeros(8), jnp.arange(8)[::-1])
    same = gfn.order_loss(tb_hat, jnp.zeros(8), jnp.arange(8)[::-1])
    assert float(shifted) == pytest.approx(float(same), rel=1e-6)
    with pytest.raises(ValueError, match="does not support loss 'op-fm'"):
        gfn.Config(loss="op-fm", rollout="compacted")


def test_op_losses_are_chosen_by_name():
    assert gfn.Config(loss="op-tb").is_order_preserving
    assert gfn.Config(loss="op-db").uses_flow
    with pytest.raises(
        ValueError, match="order-preserving: op-tb, op-db, op-subtb, op-fm"
    ):
        gfn.Config(loss="op-xx")
    with pytest.raises(ValueError, match=r"HParams.op_weight must be in \[0.0"):
        gfn.check_hparams(gfn.HParams(op_weight=-1.0))


ENV, REWARD = make_gfn_env("hypergrid", ndim=2, height=8)  # 64 cells, 4 modes


def _mode_mass(network, net_params):
    enum = gfn.enumerate_states(ENV, REWARD)
    logits = network.apply(net_params, enum.obs, method=gfn.GFNPolicy.forward_logits)
    log_p = gfn.terminating_log_probs(ENV, enum, logits)
    return jnp.sum(jnp.where(enum.is_mode, jnp.exp(log_p), 0.0))


def test_op_tb_trains_the_tiny_grid():
    """OP-TB on 2 x 8 (4 mode cells of reward 2.6 among 64 cells, 0.1 to 0.6
    elsewhere): the modes' exact terminating mass grows from 0.08 untrained
    to 0.86 and 0.89 after 120 iterations (the 2 seeds here, measured)."""
    config = gfn.Config(loss="op-tb", num_iterations=120, eval_every=120,
                        batch_size=16, hidden_size=32, use_learned_backward=False,
                        use_shared_trunk=True)  # fmt: skip
    program = gfn.make_program(config, ENV, REWARD)
    network = gfn.GFNPolicy(ENV.num_actions, 32, False, False, True)
    hparams = gfn.HParams(lr=1e-2)

    @jax.jit
    def run(key):
        state = program.init(key, hparams)
        before = _mode_mass(network, state.params.net)
        state, metrics = program.step(state, hparams)
        return before, _mode_mass(network, state.params.net), metrics

    before, after, metrics = jax.vmap(run)(jax.random.split(jax.random.key(0), 2))
    assert np.isfinite(metrics.loss).all()
    np.testing.assert_array_equal(metrics.log_z, 0.0)  # not learned, no drift
    assert (before < 0.15).all(), before
    assert (after > 0.5).all() and (after > 4 * before).all(), (before, after)


# the command line trains every loss the same way (test_gflownet_cli_envs);
# this OP-TB run with --exhaustive
@pytest.mark.exhaustive
def test_cli_trains_op_tb(tmp_path, capsys):
    code = cli.main(["train", "gfn", "--env", "hypergrid:ndim=2,height=4",
                     "--loss", "op-tb", "--num-iterations", "4", "--eval-every",
                     "2", "--batch-size", "4", "--hidden-size", "8", "--seeds",
                     "1", "--no-progress", "--out", str(tmp_path / "run")])  # fmt: skip
    assert code == 0, capsys.readouterr().out
    assert (tmp_path / "run" / "config.json").exists()
