"""``jaxrl train``, ``report`` and ``resume`` from the command line."""

import json

import pytest

from jaxrl import cli

TINY = ["--total-steps", "256", "--num-envs", "2", "--num-steps", "64",
        "--num-minibatches", "2", "--update-epochs", "1", "--hidden-size", "8",
        "--final-fraction", "1.0"]  # fmt: skip


@pytest.fixture(scope="module")
def swept_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    argv = ["train", "ppo", "--env", "Empty-5x5", "--seeds", "2", "--out", str(out),
            "--sweep", "lr=0.001,0.003", "--no-progress", *TINY]  # fmt: skip
    return out, argv


def test_train_sweep_report_and_resume(swept_run, tmp_path, capsys):
    out, argv = swept_run
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.count("\n") < 40  # no line per update
    assert "lr=0.001 mean ± std" in printed and "lr=0.003 IQM" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["settings"] == [{"lr": 0.001}, {"lr": 0.003}]
    assert len(results["final"]["episode_return"]) == 4
    config = json.loads((out / "config.json").read_text())
    assert config["config"]["total_steps"] == 256 and config["seeds"] == [0, 1]

    assert cli.main(["report", str(out), "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report" / "report.md").is_file()
    assert "lr=0.003" in capsys.readouterr().out

    assert cli.main(["resume", str(out)]) == 2
    assert "is finished" in capsys.readouterr().out
    # the same --out again: refused, and the message says what is there
    assert cli.main(argv) == 2
    assert "status 'done'" in capsys.readouterr().out


def test_overwrite_replaces_only_a_run_directory(tmp_path, capsys):
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    argv = ["train", "ppo", "--out", str(other), "--overwrite", *TINY]
    assert cli.main(argv) == 2
    assert "replaces jaxrl run directories only" in capsys.readouterr().out
    assert (other / "keep.txt").read_text() == "mine"


def test_interrupted_run_exits_130(monkeypatch, tmp_path, capsys):
    import jaxrl
    from jaxrl.engine import RunInterrupted

    def interrupted(*args, **kwargs):
        result = type("R", (), {"results": {"steps_done": 3}})()
        raise RunInterrupted(result)

    monkeypatch.setattr(jaxrl, "run", interrupted)
    argv = ["train", "ppo", "--out", str(tmp_path / "r"), *TINY]
    assert cli.main(argv) == 130

    def stopped_at_once(*args, **kwargs):  # a second Ctrl-C: one line, no traceback
        raise KeyboardInterrupt("stopped at once; go on with: jaxrl resume r")

    monkeypatch.setattr(jaxrl, "run", stopped_at_once)
    capsys.readouterr()
    assert cli.main(argv) == 130
    shown = capsys.readouterr().out
    assert shown == "interrupted: stopped at once; go on with: jaxrl resume r\n"


def test_every_run_diverged_exits_3(monkeypatch, tmp_path):
    import jaxrl

    def diverged(*args, **kwargs):
        return type("R", (), {"results": {"status": "diverged"}})()

    monkeypatch.setattr(jaxrl, "run", diverged)
    argv = ["train", "ppo", "--out", str(tmp_path / "r"), *TINY]
    assert cli.main(argv) == 3


def test_help_lists_every_field_with_its_comment(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "ppo", "--help"])
    shown = capsys.readouterr().out
    assert "--num-envs INT" in shown and "parallel environments per seed" in shown
    assert "--ent-coef FLOAT" in shown and "--sweep NAME=V1,V2" in shown
