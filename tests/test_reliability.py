"""Reliability on the tiny engine program: damaged checkpoints of every kind,
a save cut short, malformed run directories, and strict results after a
divergence. Kills by signal are in test_engine.py."""

import json
import logging
import shutil
import signal
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from engine_toy import ToyHParams, toy_program
from rich.console import Console

import jaxrl
from jaxrl import checkpoint, memory_check, rundir

QUIET = Console(quiet=True)


def _run(out: Path, **kwargs):
    return jaxrl.run(
        toy_program(),
        kwargs.pop("hparams", ToyHParams()),
        seeds=2,
        chunk_steps=3,
        checkpoint_every=1,
        out=out,
        progress=False,
        console=QUIET,
        **kwargs,
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run with checkpoints at steps 6, 9 and 12."""
    out = tmp_path_factory.mktemp("whole") / "run"
    return _run(out)


def _reopened(finished, tmp_path) -> Path:
    """A copy of the finished run, marked interrupted so it can be resumed."""
    out = tmp_path / "run"
    shutil.copytree(finished.run_dir, out)
    results = out / "results.json"
    results.write_text(results.read_text().replace('"done"', '"interrupted"'))
    return out


def _resume(out: Path):
    console = Console(record=True, width=300)
    result = jaxrl.resume(out, toy_program(), progress=False, console=console)
    return result, console.export_text()


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 8] = bytes(b ^ 0xFF for b in raw[middle : middle + 8])
    path.write_bytes(bytes(raw))


def _array_files(step_dir: Path) -> list[Path]:
    return [
        p
        for p in (step_dir / "state").rglob("*")
        if p.is_file() and p.stat().st_size > 64 and "metadata" not in p.name
    ]


def _damage(step_dir: Path, how: str) -> None:
    if how == "truncated":
        for path in _array_files(step_dir):
            _truncate(path)
    elif how == "flipped":
        for path in _array_files(step_dir):
            _flip(path)
    elif how == "missing":
        for path in _array_files(step_dir):
            path.unlink()
    elif how == "bad metadata":
        (step_dir / "meta" / "metadata").write_text('{"step": 12, "checks')
    elif how == "bad orbax metadata":
        for path in step_dir.rglob("*METADATA*"):
            path.write_text("{not json")


@pytest.mark.parametrize(
    "how", ["truncated", "flipped", "missing", "bad metadata", "bad orbax metadata"]
)
def test_a_damaged_checkpoint_is_named_and_an_older_one_used(
    finished, tmp_path, how, capfd, caplog
):
    out = _reopened(finished, tmp_path)
    newest = max(int(p.name) for p in (out / "checkpoints").iterdir())
    _damage(out / "checkpoints" / str(newest), how)
    # keep metrics as of the older checkpoint so the run really goes on
    rundir.keep_metrics_up_to(out / "metrics.jsonl", newest - 3)
    resumed, shown = _resume(out)
    assert f"checkpoints/{newest}" in shown
    refused = [line for line in shown.splitlines() if f"checkpoints/{newest}" in line]
    assert len(refused) == 1, shown  # one line, not orbax's noise
    noise = capfd.readouterr().err
    assert "ERROR" not in noise and "Traceback" not in noise, noise
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    for name in finished.history:
        np.testing.assert_array_equal(resumed.history[name], finished.history[name])


def test_a_failed_read_drops_only_the_closed_loop_noise(monkeypatch):
    """Reads still running when a restore failed call into orbax's closed
    asyncio loop; those RuntimeErrors alone are kept off the terminal."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))
    checkpoint._drop_closed_loop_noise()
    checkpoint._drop_closed_loop_noise()  # installed once
    hook = sys.unraisablehook
    for error in (RuntimeError("Event loop is closed"), RuntimeError("other")):
        hook(types.SimpleNamespace(exc_value=error))
    assert [str(e) for e in seen] == ["other"]


def test_every_checkpoint_damaged_is_one_clear_error(finished, tmp_path):
    out = _reopened(finished, tmp_path)
    for step_dir in (out / "checkpoints").iterdir():
        _damage(step_dir, "flipped")
    with pytest.raises(checkpoint.CheckpointError, match="no usable checkpoint"):
        _resume(out)


def test_a_save_cut_short_is_ignored(finished, tmp_path):
    """A kill during a save leaves orbax's temporary folder, never a step
    folder; resume must start from the last complete checkpoint."""
    out = _reopened(finished, tmp_path)
    newest = max(int(p.name) for p in (out / "checkpoints").iterdir())
    partial = out / "checkpoints" / f"{newest + 3}.orbax-checkpoint-tmp-1"
    shutil.copytree(out / "checkpoints" / str(newest), partial)
    _truncate(_array_files(partial)[0])
    shutil.rmtree(out / "checkpoints" / str(newest))
    rundir.keep_metrics_up_to(out / "metrics.jsonl", newest - 3)
    steps = checkpoint.Checkpoints(out / "checkpoints", {}).steps()
    assert steps and max(steps) == newest - 3
    resumed, _ = _resume(out)
    for name in finished.history:
        np.testing.assert_array_equal(resumed.history[name], finished.history[name])


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "{}", "seeds", "schedule"])
def test_resume_refuses_a_malformed_config_json(finished, tmp_path, text):
    out = _reopened(finished, tmp_path)
    config = json.loads((out / "config.json").read_text())
    if text == "seeds":
        text = json.dumps({**config, "seeds": "x"})
    elif text == "schedule":
        text = json.dumps({**config, "schedule": {"chunk_steps": "3"}})
    (out / "config.json").write_text(text)
    with pytest.raises(rundir.RunDirError, match="config.json") as error:
        _resume(out)
    assert "\n" not in str(error.value)


def test_results_json_is_strict_after_a_divergence(tmp_path):
    out = tmp_path / "run"
    _run(out, hparams=ToyHParams(decay=1e30))
    text = (out / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    results = json.loads(text, parse_constant=lambda c: pytest.fail(c))
    assert results["status"] == "diverged"


def test_validation_happens_before_the_run_directory(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="checkpoint_every"):
        jaxrl.run(
            toy_program(), ToyHParams(), checkpoint_every=-1, out=out, console=QUIET
        )
    with pytest.raises(ValueError, match="seeds"):
        jaxrl.run(toy_program(), ToyHParams(), seeds=0, out=out, console=QUIET)
    assert not out.exists()


def test_memory_estimate_counts_state_and_metrics():
    from jaxrl.layout import make_layout

    # toy state per run: x (16,) float32 = 64 B, key 2 x uint32 = 8 B, t 4 B;
    # metrics per step: mean, norm float32 and count int32 = 12 B
    layout = make_layout(5, None, ToyHParams(), 0)
    state, metrics = memory_check.estimate(toy_program(), layout, ToyHParams(), 3)
    assert state == 5 * (64 + 8 + 4)
    assert metrics == 5 * 12 * 3
    assert memory_check.parse_bytes("512M") == 512 * 2**20
    with pytest.raises(ValueError, match="JAXRL_MEMORY_LIMIT"):
        memory_check.parse_bytes("lots")


def test_a_run_over_the_memory_limit_is_refused_before_compiling(tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setenv("JAXRL_MEMORY_LIMIT", "100")  # 100 bytes
    with pytest.raises(
        ValueError, match=r"needs at least 448 B on the .* but 100 B are free"
    ) as e:
        _run(out)
    assert "JAXRL_MEMORY_LIMIT" in str(e.value) and not out.exists()
    # the state of two runs (152 B) and a chunk of metrics (72 B), twice, fit
    monkeypatch.setenv("JAXRL_MEMORY_LIMIT", "448")
    assert _run(out).history["mean"].shape == (2, 12)
    monkeypatch.setenv("JAXRL_MEMORY_LIMIT", "100")
    assert jaxrl.run(
        toy_program(),
        ToyHParams(),
        seeds=1,
        progress=False,
        console=QUIET,
        check_memory=False,
    ).history["mean"].shape == (1, 12)


def test_command_line_reports_the_memory_limit_and_can_skip_the_check(
    tmp_path, monkeypatch, capsys
):
    from jaxrl import cli

    monkeypatch.setenv("JAXRL_MEMORY_LIMIT", "100")
    argv = ["train", "map-elites", "--task", "arm", "--genotype-dim", "4",
            "--batch-size", "8", "--num-iterations", "2", "--grid-cells", "4",
            "--no-progress", "--out", str(tmp_path / "run")]  # fmt: skip
    assert cli.main(argv) == 2
    assert "100 B are free" in capsys.readouterr().out
    assert not (tmp_path / "run").exists()
    assert cli.main([*argv, "--no-memory-check"]) == 0
    assert (tmp_path / "run" / "results.json").exists()


def test_command_line_refuses_an_existing_out_before_building(
    tmp_path, monkeypatch, capsys
):
    import dataclasses

    from jaxrl import algorithms, cli

    def never(config, target):
        raise AssertionError("the program was built before --out was checked")

    ppo = algorithms.get("ppo")
    monkeypatch.setitem(
        algorithms._ALGORITHMS, "ppo", dataclasses.replace(ppo, make_program=never)
    )
    (tmp_path / "run").mkdir()
    assert cli.main(["train", "ppo", "--out", str(tmp_path / "run")]) == 2
    assert "already exists (empty)" in capsys.readouterr().out
    (tmp_path / "file").write_text("")
    assert cli.main(["train", "ppo", "--out", str(tmp_path / "file" / "run")]) == 2
    assert "is a file" in capsys.readouterr().out


def test_a_total_that_is_not_whole_updates_is_reported_and_recorded(finished, capsys):
    import dataclasses

    from jaxrl import cli
    from jaxrl.algos import ppo

    # 4 envs x 32 steps = 128 env steps an update: 1000 runs 7 updates, 896
    config = ppo.Config(total_steps=1000, num_envs=4, num_steps=32)
    program = dataclasses.replace(
        toy_program(), num_steps=config.num_updates, work_per_step=config.batch_size
    )
    cli._note_rounded_total(config, program)
    assert "--total-steps 1,000 is not a multiple" in capsys.readouterr().out
    # the default total (200,000 at 2,048 a update) is not noted: the run's
    # first line gives the steps it does
    default = ppo.Config()
    program = dataclasses.replace(
        program, num_steps=default.num_updates, work_per_step=default.batch_size
    )
    cli._note_rounded_total(default, program)
    assert capsys.readouterr().out == ""
    saved = json.loads((finished.run_dir / "config.json").read_text())
    assert saved["total_work"] == 12 * 10  # toy: 12 steps of 10 evaluations


def test_a_second_ctrl_c_keeps_the_last_complete_checkpoint(
    finished, tmp_path, monkeypatch
):
    from jaxrl.chunk_loop import ChunkLoop

    save, calls = ChunkLoop._save, []

    def interrupted_second_save(self, step, state):
        calls.append(step)
        if len(calls) == 2:  # the handler raises this on a second Ctrl-C
            raise KeyboardInterrupt
        save(self, step, state)

    monkeypatch.setattr(ChunkLoop, "_save", interrupted_second_save)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt, match=f"of step 3: .*jaxrl resume {out}"):
        _run(out)
    monkeypatch.setattr(ChunkLoop, "_save", save)
    results = json.loads((out / "results.json").read_text())
    assert (results["status"], results["steps_done"]) == ("interrupted", 3)
    resumed, _ = _resume(out)
    for name in finished.history:
        np.testing.assert_array_equal(resumed.history[name], finished.history[name])


def test_the_command_ignores_a_ctrl_c_once_it_has_finished(monkeypatch):
    # a Ctrl-C during interpreter teardown (JAX's exit hooks) printed a
    # traceback after every result was written
    from jaxrl import cli

    monkeypatch.setattr(cli, "main", lambda: 3)
    previous = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit) as exited:
            cli.script()
        assert exited.value.code == 3
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
