"""Checkpoints (round trip, checksums, fingerprints) and CLI refusals."""

import chex
import jax
import numpy as np
import pytest

import jaxrl
from jaxrl import checkpoint, cli
from jaxrl.algos import ppo

SMALL = ppo.Config(
    total_steps=64,
    num_envs=4,
    num_steps=16,
    num_minibatches=2,
    update_epochs=1,
    hidden_size=8,
)


@pytest.fixture(scope="module")
def trained_state():
    env, params = jaxrl.make("Empty-5x5")
    return jax.jit(ppo.make_train(SMALL, env, params))(jax.random.key(0)).state


def test_checkpoint_round_trip_with_typed_keys(tmp_path, trained_state):
    saved = checkpoint.Checkpoints(tmp_path, {"run": 1})
    saved.save(7, trained_state, extra={"note": "x"})
    saved.wait()
    shapes_only = jax.eval_shape(lambda: trained_state)
    step, restored, refused = saved.restore_latest(shapes_only)
    assert (step, refused) == (7, [])
    assert saved.extra(7) == {"note": "x"}
    chex.assert_trees_all_equal(
        jax.tree.map(np.asarray, jax.random.key_data(restored.key)),
        jax.tree.map(np.asarray, jax.random.key_data(trained_state.key)),
    )
    chex.assert_trees_all_equal(
        jax.tree.map(np.asarray, restored.params), trained_state.params
    )


def test_checkpoint_of_another_run_or_version_is_refused(tmp_path, trained_state):
    first = checkpoint.Checkpoints(tmp_path, {"run": 1})
    first.save(1, trained_state)
    first.wait()
    other = checkpoint.Checkpoints(tmp_path, {"run": 2})
    with pytest.raises(checkpoint.CheckpointError, match="different run.*run"):
        other.restore_latest(jax.eval_shape(lambda: trained_state))


def test_cli_refuses_existing_run_dir(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    code = cli.main(["train", "ppo", "--env", "CartPole-v1", "--out",
                     str(tmp_path / "run"), "--seeds", "1"])  # fmt: skip
    assert code == 2
    assert "already exists (empty)" in capsys.readouterr().out


def test_cli_bad_value_names_field(tmp_path, capsys):
    code = cli.main(["train", "ppo", "--gamma", "2", "--out", str(tmp_path / "r")])
    assert code == 2
    assert "HParams.gamma" in capsys.readouterr().out
    assert not (tmp_path / "r").exists()


def test_cli_bad_sweep_and_env_leave_no_directory(tmp_path, capsys):
    out = tmp_path / "r"
    assert cli.main(["train", "ppo", "--sweep", "num_envs=2,4", "--out", str(out)]) == 2
    assert "not a traced hyperparameter" in capsys.readouterr().out
    args = ["train", "ppo", "--env", "Pendulum-v1", "--recurrent", "true"]
    assert cli.main([*args, "--out", str(out)]) == 2
    assert "continuous PPO takes a 1-D Box action space and a feed-forward" in (
        capsys.readouterr().out
    )
    assert not out.exists()
