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
