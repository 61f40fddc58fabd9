"""The experiment engine on a tiny program: chunking, compilations, the run
directory, sweeps, divergence, and resuming after a kill or a corruption."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import chex
import jax
import numpy as np
import pytest
from compile_count import compilations, warm_up
from engine_toy import ToyHParams, toy_program
from rich.console import Console

import jaxrl
from jaxrl import checkpoint, rundir
from jaxrl.program import flatten_metrics

QUIET = Console(quiet=True)
TESTS = Path(__file__).resolve().parent


def _run(**kwargs):
    kwargs.setdefault("seeds", 3)
    kwargs.setdefault("progress", False)
    kwargs.setdefault("console", QUIET)
    program = kwargs.pop("program", None) or toy_program()
    return jaxrl.run(program, kwargs.pop("hparams", ToyHParams()), **kwargs)


def _assert_same_run(a, b):
    assert a.history.keys() == b.history.keys()
    for name in a.history:
        np.testing.assert_array_equal(a.history[name], b.history[name], err_msg=name)
    chex.assert_trees_all_equal(
        jax.tree.map(np.asarray, (a.state.x, a.state.t)),
        jax.tree.map(np.asarray, (b.state.x, b.state.t)),
    )


def test_chunked_runs_equal_one_scan_bit_for_bit():
    whole = _run(chunk_steps=12)
    for chunk in (5, 1):  # 5 does not divide 12: the last chunk masks 3 steps
        _assert_same_run(whole, _run(chunk_steps=chunk))
    # ... and equal init and loop compiled apart, by hand
    program, hp = toy_program(), ToyHParams()
    keys = jax.vmap(jax.random.key)(np.arange(3))
    hps = jax.tree.map(lambda x: np.full(3, x, np.float32), hp)
    state = jax.jit(jax.vmap(program.init))(keys, hps)

    def loop(s, h):
        return jax.lax.scan(lambda c, _: program.step(c, h), s, length=12)

    state, metrics = jax.jit(jax.vmap(loop))(state, hps)
    for name, values in flatten_metrics(metrics).items():
        np.testing.assert_array_equal(np.asarray(values), whole.history[name])


def test_one_compilation_however_many_chunks(tmp_path):
    warm_up(tmp_path / "warm")
    counts = []
    for chunk in (6, 1):  # 2 chunks, then 12 chunks
        program = toy_program(name=f"count-{chunk}")  # a fresh program: no cache
        start = compilations()
        _run(program=program, chunk_steps=chunk)
        counts.append(compilations() - start)
    assert counts[0] == counts[1] >= 2  # at least init and the chunk compiled


def test_run_directory_and_results_schema(tmp_path):
    out = tmp_path / "run"
    result = _run(out=out, chunk_steps=4, checkpoint_every=1)
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoints",
        "config.json",
        "learning_curves.png",
        "metrics.jsonl",
        "results.json",
    ]
    config = json.loads((out / "config.json").read_text())
    assert config["algorithm"] == "toy" and config["seeds"] == [0, 1, 2]
    assert config["versions"]["jax"] == jax.__version__
    results = json.loads((out / "results.json").read_text())
    for key in (
        "algorithm",
        "target",
        "seeds",
        "config",
        "hparams",
        "final",
        "summary",
        "compile_s",
        "run_s",
        "throughput",
        "versions",
    ):
        assert key in results, key
    assert results["status"] == "done" and results["steps_done"] == 12
    assert results["throughput"]["unit"] == "evaluations/s"
    np.testing.assert_array_equal(results["final"]["mean"], result.final["mean"])
    summary = results["summary"]["mean"][0]
    assert summary["n"] == 3 and summary["mean"] == pytest.approx(
        np.mean(result.final["mean"])
    )
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == list(range(1, 13))
    assert json.loads(lines[-1])["work"] == 120
    assert sorted(checkpoint.Checkpoints(out / "checkpoints", {}).steps()) == [4, 8, 12]
    with pytest.raises(rundir.RunDirError, match="already exists.*status 'done'"):
        _run(out=out)


def test_strict_json_when_values_are_not_finite(tmp_path):
    hp = ToyHParams()
    result = _run(out=tmp_path / "run", sweep={"decay": [0.5, 1e30]}, seeds=2)
    text = (tmp_path / "run" / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    results = json.loads(text)
    assert results["settings"] == [{"decay": 0.5}, {"decay": 1e30}]
    assert [d["run"] for d in results["diverged"]] == [2, 3]
    assert all(d["step"] >= 1 for d in results["diverged"])
    assert results["final"]["mean"][2:] == [None, None]
    assert results["nonfinite_reason"] == {"2": "diverged", "3": "diverged"}
    assert results["status"] == "done"
    assert np.isfinite(result.final["mean"][:2]).all()
    del hp


def test_every_run_diverged_stops_the_run(tmp_path):
    program = toy_program(num_steps=40, name="diverging")
    result = _run(
        program=program,
        hparams=ToyHParams(decay=1e30),
        chunk_steps=4,
        out=tmp_path / "run",
    )
    assert result.results["status"] == "diverged"
    assert result.results["steps_done"] < 40


def test_sweep_settings_match_separate_runs():
    swept = jaxrl.sweep(
        toy_program(),
        ToyHParams(),
        {"decay": [0.5, 0.8], "scale": [1.0, 2.0]},
        seeds=2,
        progress=False,
        console=QUIET,
    )
    assert swept.results["runs"][5] == {"seed": 1, "setting": 2}
    alone = _run(hparams=ToyHParams(decay=0.8, scale=1.0), seeds=2)
    np.testing.assert_allclose(
        swept.history["mean"][4:6], alone.history["mean"], rtol=1e-6
    )


def test_bad_input_is_refused_before_a_directory_is_made(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="not a traced hyperparameter"):
        _run(out=out, sweep={"width": [1, 2]})
    with pytest.raises(ValueError, match="seed 4294967296 is outside"):
        _run(out=out, seeds=[0, 2**32])
    with pytest.raises(ValueError, match="chunk_steps"):
        _run(out=out, chunk_steps=0)
    assert not out.exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(rundir.RunDirError, match="is a file"):
        _run(out=tmp_path / "file" / "run")


_CHILD = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import jaxrl
    from engine_toy import ToyHParams, toy_program
    jaxrl.run(toy_program(num_steps=300), ToyHParams(), seeds=2, chunk_steps=3,
              checkpoint_every=2, out=sys.argv[1], progress=False)
""")


def _start_child(out: Path) -> subprocess.Popen:
    script = _CHILD.format(tests=str(TESTS))
    return subprocess.Popen(
        [sys.executable, "-c", script, str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for_lines(child: subprocess.Popen, path: Path, lines: int) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and child.poll() is None:
        if path.exists() and path.read_text().count("\n") >= lines:
            return
        time.sleep(0.05)
    raise AssertionError(f"child ended or stalled:\n{child.communicate()[0]}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    return _run(
        program=toy_program(num_steps=300),
        seeds=2,
        chunk_steps=3,
        checkpoint_every=2,
        out=out,
    )


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT])
def test_resume_after_a_kill_equals_the_uninterrupted_run(tmp_path, how, uninterrupted):
    out = tmp_path / "run"
    child = _start_child(out)
    _wait_for_lines(child, out / "metrics.jsonl", 60)
    child.send_signal(how)
    output = child.communicate(timeout=120)[0]
    if how == signal.SIGINT:
        assert child.returncode != 0, output
        assert "jaxrl resume" in output
        assert json.loads((out / "results.json").read_text())["status"] == "interrupted"
    resumed = jaxrl.resume(
        out, toy_program(num_steps=300), progress=False, console=QUIET
    )
    _assert_same_run(uninterrupted, resumed)
    a = json.loads((uninterrupted.run_dir / "results.json").read_text())
    b = json.loads((out / "results.json").read_text())
    assert a["final"] == b["final"] and b["status"] == "done"
    assert (uninterrupted.run_dir / "metrics.jsonl").read_text() == (
        out / "metrics.jsonl"
    ).read_text()


def test_a_corrupted_checkpoint_is_refused_and_an_older_one_used(
    tmp_path, uninterrupted
):
    out = tmp_path / "run"
    child = _start_child(out)
    _wait_for_lines(child, out / "metrics.jsonl", 60)
    child.kill()
    child.communicate(timeout=60)
    checkpoints = checkpoint.Checkpoints(out / "checkpoints", {})
    newest = checkpoints.steps()[-1]
    data = [
        p
        for p in (out / "checkpoints" / str(newest) / "state").rglob("*")
        if p.is_file() and p.stat().st_size > 64
    ]
    assert data
    for path in data:  # flip bytes in the middle of every array file
        raw = bytearray(path.read_bytes())
        middle = len(raw) // 2
        raw[middle : middle + 8] = bytes(b ^ 0xFF for b in raw[middle : middle + 8])
        path.write_bytes(bytes(raw))
    console = Console(record=True, width=200)
    resumed = jaxrl.resume(
        out, toy_program(num_steps=300), progress=False, console=console
    )
    shown = console.export_text()
    assert f"checkpoints/{newest}" in shown and "skipped" in shown
    _assert_same_run(uninterrupted, resumed)


def test_resume_refuses_another_program(tmp_path):
    out = tmp_path / "run"
    _run(out=out, checkpoint_every=1, chunk_steps=6)
    with pytest.raises(rundir.RunDirError, match="finished"):
        jaxrl.resume(out, toy_program(), console=QUIET)
    results = out / "results.json"
    results.write_text(results.read_text().replace('"done"', '"interrupted"'))
    with pytest.raises(ValueError, match="does not match"):
        jaxrl.resume(out, toy_program(num_steps=13), console=QUIET)


def test_sharded_over_four_devices_equals_one_device(tmp_path):
    script = textwrap.dedent(f"""
        import sys, json
        sys.path.insert(0, {str(TESTS)!r})
        import jax, jaxrl
        from engine_toy import ToyHParams, toy_program
        assert len(jax.devices()) == 4
        result = jaxrl.run(toy_program(), ToyHParams(), seeds=3, progress=False,
                           sweep={{"decay": [0.5, 0.9]}})
        print(json.dumps({{k: v.tolist() for k, v in result.history.items()}}))
    """)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        text=True,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    sharded = json.loads(done.stdout.strip().splitlines()[-1])
    alone = _run(sweep={"decay": [0.5, 0.9]})
    for name, values in alone.history.items():
        np.testing.assert_array_equal(np.asarray(sharded[name]), values, err_msg=name)


def _read_events(path: Path) -> dict[str, list[tuple[float, float]]]:
    """Scalars of a TFRecord event file: 8-byte length, 4-byte CRC, the
    record, 4-byte CRC."""
    import struct

    from tensorboardX.proto import event_pb2

    data, scalars, at = path.read_bytes(), {}, 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at : at + 8])
        event = event_pb2.Event.FromString(data[at + 12 : at + 12 + length])
        at += 16 + length
        for value in event.summary.value:
            scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_tensorboard_event_files(tmp_path):
    out = tmp_path / "run"
    result = _run(out=out, tensorboard=True, sweep={"decay": [0.5, 0.9]}, seeds=2)
    (events,) = (out / "tensorboard").iterdir()
    scalars = _read_events(events)
    norms = scalars["decay_0.9/norm"]  # TensorBoard tags turn "=" into "_"
    assert [step for step, _ in norms] == [10 * k for k in range(1, 13)]
    expected = result.history["norm"][2:4].mean(axis=0)
    np.testing.assert_allclose([v for _, v in norms], expected, rtol=1e-6)


def test_a_run_larger_than_memory_is_refused(tmp_path, monkeypatch):
    import psutil

    class Tiny:
        available = 1024

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tiny())
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="GiB on the host.*GiB are free"):
        _run(out=out)
    assert not out.exists()  # refused before the run directory was made
