"""GFlowNet rollouts: ``Config.rollout='auto'`` and the compacted
evaluation, batched and not."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.algos import gflownet as gfn
from jaxrl.algos.gflownet.trajectories import compacted_apply
from jaxrl.envs.gfn import make_gfn_env

ENV, REWARD = make_gfn_env("hypergrid", ndim=2, height=4)


def test_auto_resolves_to_compacted_unless_the_loss_needs_every_parent():
    assert gfn.Config().rollout == "auto"
    for loss in gfn.LOSS_NAMES + gfn.OP_LOSS_NAMES:
        want = "padded" if loss in ("fm", "op-fm") else "compacted"
        for batch_size in (1, 16, 256):
            config = gfn.Config(loss=loss, batch_size=batch_size)
            assert config.resolved_rollout == want, (loss, batch_size)
            # a shared trunk reuses the sampling pass
            shared = gfn.Config(loss=loss, batch_size=batch_size, use_shared_trunk=True)
            assert shared.resolved_rollout == (
                "padded" if want == "padded" else "reused"
            ), (loss, batch_size)
        assert gfn.Config(loss=loss, rollout="padded").resolved_rollout == "padded"
    assert gfn.Config(rollout="compacted").resolved_rollout == "compacted"
    with pytest.raises(ValueError, match="Config.rollout must be one of auto"):
        gfn.Config(rollout="sorted")


def _table(obs):
    """A stand-in network: two outputs of different shapes per row."""
    return {"sum": obs.sum(-1), "twice": 2.0 * obs}


def test_compacted_apply_gives_the_needed_rows_batched_or_not():
    obs = jnp.arange(40 * 3, dtype=jnp.float32).reshape(40, 3) + 1.0
    needed = np.zeros((3, 40), bool)
    needed[0, [1, 5, 39]] = True  # fits the 4-row prefix
    needed[1, :13] = True  # 16 rows
    needed[2, ::2] = True  # 20 rows: all 40
    batched = jax.jit(jax.vmap(lambda n: compacted_apply(_table, obs, n, 4)))
    outs = [batched(jnp.asarray(needed))]
    outs.append(jax.tree.map(lambda *x: jnp.stack(x), *[
        jax.jit(compacted_apply, static_argnums=(0, 3))(_table, obs, n, 4)
        for n in needed
    ]))  # fmt: skip
    for out in outs:
        want_sum = np.where(needed, np.asarray(obs.sum(-1)), 0.0)
        np.testing.assert_array_equal(out["sum"], want_sum)
        np.testing.assert_array_equal(out["twice"], 2.0 * obs * needed[..., None])
    # the prefix is shared by the batch: the switch stays a branch under vmap
    # (a batched index would run every prefix: vmap turns it into a select)
    jaxpr = jax.make_jaxpr(jax.vmap(lambda n: compacted_apply(_table, obs, n, 4)))
    eqns = jaxpr(jnp.asarray(needed)).jaxpr.eqns
    assert [e.primitive.name for e in eqns].count("cond") == 1


# the unbatched equality runs by default (test_gflownet.py); under vmap
# with --exhaustive (about 14 s in the CI run)
@pytest.mark.exhaustive
def test_compacted_loss_is_the_padded_loss_under_vmap():
    keys = jax.random.split(jax.random.key(3), 2)
    hparams = gfn.HParams()
    losses = []
    for rollout in ("padded", "compacted"):
        config = gfn.Config(loss="db", num_iterations=2, eval_every=2,
                            batch_size=4, hidden_size=16, rollout=rollout)  # fmt: skip
        train = jax.vmap(gfn.make_train(config, ENV, REWARD), in_axes=(0, None))
        losses.append(np.asarray(jax.jit(train)(keys, hparams).metrics.loss))
    assert (losses[0] > 0).all()
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)


@pytest.mark.parametrize("n, chunk", [(30, 1), (480, 16), (7680, 256), (40, 4)])
def test_prefix_lengths_hold_any_count_with_little_waste(n, chunk):
    from jaxrl.algos.gflownet.trajectories import PREFIX_STEPS, prefix_lengths

    lengths = prefix_lengths(n, chunk)
    assert list(lengths) == sorted(set(lengths)) and lengths[-1] == n
    step = max(chunk, -(-n // PREFIX_STEPS))
    for count in range(1, n + 1):
        length = next(x for x in lengths if x >= count)  # the prefix picked
        if count > step:  # past the first step: at most one step of padding
            assert length - count < step, count
        else:  # below: fewer than twice the count, or the shortest prefix
            assert length < max(2 * count, chunk + 1), count


def _first_gradient(config, rollout, hparams, length=None):
    """Trajectories, loss and gradient of one iteration's batch (the
    compacted evaluation, or the reused sampling pass) from fixed parameters
    and key, on the prefix of ``length`` rows (static; None: the
    trajectories and the prefix length the batch picks)."""
    from jaxrl.algos.gflownet import train as tr
    from jaxrl.algos.gflownet.trajectories import (
        compaction,
        sample_keeping,
        sample_trajectories,
        visited_states,
    )

    network = gfn.GFNPolicy(ENV.num_actions, config.hidden_size, True,
                            config.uses_flow, config.use_shared_trunk)  # fmt: skip
    setup = tr._Setup(config, ENV, REWARD, network, 1)
    obs = jnp.zeros((1, ENV.observation_size))
    params = tr.GFNParams(network.init(jax.random.key(1), obs), jnp.float32(0.3))
    key, batch = jax.random.key(5), config.batch_size
    eps, temp = hparams.epsilon, hparams.temperature
    kept = None
    if rollout == "reused":
        policy = tr._sampling_policy(setup, params.net, None)
        traj, kept = sample_keeping(ENV, policy, key, batch, eps, temp)
        kept = tr._kept_outputs(setup, params.net, None, traj, kept)
    else:
        def logits(o):
            return network.apply(params.net, o, method=gfn.GFNPolicy.forward_logits)

        traj = sample_trajectories(ENV, logits, key, batch, eps, temp)
    plan, lengths = compaction(visited_states(traj).reshape(-1), batch)
    if length is None:
        return traj, plan.index, lengths
    grad_fn = jax.value_and_grad(tr._loss, has_aux=True)
    (loss, _), grads = grad_fn(params, setup, hparams, traj, None, None, plan,
                               length, kept)  # fmt: skip
    return traj, loss, grads


# db with separate networks and a flow head: --exhaustive
@pytest.mark.parametrize("loss, shared", [
    ("tb", True), pytest.param("db", False, marks=pytest.mark.exhaustive)
])  # fmt: skip
def test_reused_sampling_pass_gives_the_compacted_gradient(loss, shared):
    """On-policy, exploring (epsilon, temperature): the loss that reuses the
    sampling pass's outputs and activations has the compacted evaluation's
    trajectories, loss and gradient, and repeats itself exactly."""
    config = gfn.Config(loss=loss, batch_size=8, hidden_size=16,
                        use_shared_trunk=shared)  # fmt: skip
    hparams = gfn.HParams(epsilon=0.2, temperature=1.5)
    from jaxrl.algos.gflownet.trajectories import prefix_lengths

    index = jax.jit(lambda: _first_gradient(config, "compacted", hparams)[1])()
    length = prefix_lengths((ENV.max_length + 1) * 8, 8)[int(index)]
    assert length < (ENV.max_length + 1) * 8  # a true prefix: rows are gathered
    want = jax.jit(lambda: _first_gradient(config, "compacted", hparams, length))()
    reused = jax.jit(lambda: _first_gradient(config, "reused", hparams, length))
    got, again = reused(), reused()
    for a, b in zip(jax.tree.leaves(want[0]), jax.tree.leaves(got[0]), strict=True):
        np.testing.assert_array_equal(a, b)
    assert float(want[1]) > 0
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    assert jax.tree.structure(got[2]) == jax.tree.structure(want[2])
    for a, b in zip(jax.tree.leaves(want[2]), jax.tree.leaves(got[2]), strict=True):
        assert np.abs(np.asarray(a)).max() > 0
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6 * np.abs(a).max())
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)


def test_reused_rollout_refuses_replay_and_parent_flows():
    with pytest.raises(ValueError, match="replayed"):
        gfn.Config(rollout="reused", replay_size=16, replay_batch=4)
    with pytest.raises(ValueError, match="does not support loss 'fm'"):
        gfn.Config(loss="fm", rollout="reused")
    replayed = gfn.Config(replay_size=16, replay_batch=4, use_shared_trunk=True)
    assert replayed.resolved_rollout == "compacted"
