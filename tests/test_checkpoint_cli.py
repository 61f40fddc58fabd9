import chex
import jax
import pytest

import jaxrl
from jaxrl import checkpoint, cli
from jaxrl.algos import ppo

SMALL = ppo.Config(total_steps=64, num_envs=4, num_steps=16, num_minibatches=2,
                   update_epochs=1, hidden_size=8)  # fmt: skip


def test_checkpoint_round_trip_and_no_overwrite(tmp_path):
    env, params = jaxrl.make("Empty-5x5")
    out = jax.jit(ppo.make_train(SMALL, env, params))(jax.random.key(0))
    path = checkpoint.save(tmp_path / "ckpt", out.state)
    chex.assert_trees_all_equal(checkpoint.restore(path, out.state), out.state)
    shapes_only = jax.eval_shape(lambda: out.state)
    chex.assert_trees_all_equal(checkpoint.restore(path, shapes_only), out.state)
    with pytest.raises(FileExistsError):
        checkpoint.save(path, out.state)


def test_cli_refuses_existing_run_dir(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    code = cli.main(["train", "ppo", "--out", str(tmp_path / "run"), "--seeds", "1"])
    assert code == 2
    assert "already exists" in capsys.readouterr().out


def test_cli_bad_value_names_field(tmp_path, capsys):
    code = cli.main(["train", "ppo", "--gamma", "2", "--out", str(tmp_path / "r")])
    assert code == 2
    assert "HParams.gamma" in capsys.readouterr().out
    assert not (tmp_path / "r").exists()
