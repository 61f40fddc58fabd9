"""The engine over two processes joined by ``jax.distributed`` (CPU, gloo).

Two Python processes on this machine, 127.0.0.1 only, each with one or two
CPU devices, run the same ``jaxrl.run`` or ``jaxrl.resume``. Their combined
results must equal a single-process run's bit for bit; process 0 alone
writes the run directory's files (the checkpoints are written together,
through orbax); a stop asked of one process stops both at the same chunk.
Every child is bounded by a timeout, so a hang fails the test.
"""

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from engine_toy import ToyHParams, toy_program
from rich.console import Console

import jaxrl

TESTS = Path(__file__).resolve().parent
TIMEOUT_S = 240
QUIET = Console(quiet=True)

# argv: mode, process id, port, run directory, local devices, how to join.
# In process 1 every writer of run-directory files is wrapped to record a
# call: process 1 must make none.
_CHILD = textwrap.dedent(
    """
    import json, sys
    import jax

    mode, pid, port, out, devices, join = sys.argv[1:]
    pid, devices = int(pid), int(devices)
    jax.config.update("jax_num_cpu_devices", devices)
    import jaxrl  # starts no backend: joining may come after it
    from jaxrl import distributed, report, rundir

    if join == "env":
        assert distributed.initialize_from_env()
    else:
        jax.distributed.initialize(
            coordinator_address=f"127.0.0.1:{{port}}", num_processes=2,
            process_id=pid, initialization_timeout=120,
        )
    sys.path.insert(0, {tests!r})
    from engine_toy import ToyHParams, toy_program

    writes = []

    def recording(module, name):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            writes.append(name)
            return original(*args, **kwargs)

        setattr(module, name, wrapper)

    if pid != 0:
        for name in ("create", "write_json", "append_metrics", "keep_metrics_up_to"):
            recording(rundir, name)
        recording(report, "plot_run")

    def arrays(result):
        return {{
            "history": {{k: v.tolist() for k, v in result.history.items()}},
            "final": {{k: v.tolist() for k, v in result.final.items()}},
        }}

    found = {{"process_count": jax.process_count(),
               "devices": len(jax.devices()), "local": len(jax.local_devices())}}
    if mode == "run":
        alone = jaxrl.run(toy_program(), ToyHParams(), seeds=4, progress=False)
        found["no_dir"] = arrays(alone)
        kept = jaxrl.run(toy_program(), ToyHParams(), seeds=4, progress=False,
                         out=out, chunk_steps=5, checkpoint_every=1)
        found["dir"] = arrays(kept)
        try:  # the directory exists now: process 0 refuses, the others follow
            jaxrl.run(toy_program(), ToyHParams(), seeds=4, progress=False, out=out)
        except Exception as error:
            found["again"] = f"{{type(error).__name__}}: {{error}}"
        from jaxrl import cli
        try:
            cli._run_dir_path(None, "toy", "noise", False)
        except ValueError as error:
            found["cli_without_out"] = str(error)
        try:  # jaxrl train checks --out before building the program
            cli._run_dir_path(str(out), "toy", "noise", False)
        except Exception as error:
            found["cli_again"] = f"{{type(error).__name__}}: {{error}}"
    elif mode == "interrupt":
        try:
            jaxrl.run(toy_program(num_steps=300), ToyHParams(), seeds=3,
                      progress=False, out=out, chunk_steps=3, checkpoint_every=2)
        except jaxrl.RunInterrupted as stopped:
            found["stopped_at"] = stopped.result.results["steps_done"]
    elif mode == "resume":
        found["resumed"] = arrays(
            jaxrl.resume(out, toy_program(num_steps=300), progress=False))
    found["writes"] = writes
    print("RESULT " + json.dumps(found), flush=True)
    """
)


@pytest.fixture
def _one_at_a_time(tmp_path_factory):
    """Two processes each are enough for the CPUs: under pytest-xdist these
    tests take turns (a lock file in the directory the workers share)."""
    lock = tmp_path_factory.getbasetemp().parent / "distributed.lock"
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(mode: str, out: Path, devices: int, join: str) -> list[subprocess.Popen]:
    port = _free_port()
    script = _CHILD.format(tests=str(TESTS))
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["JAX_PLATFORMS"] = "cpu"
    children = []
    for pid in range(2):
        if join == "env":
            env = {
                **env,
                "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}",
                "JAX_NUM_PROCESSES": "2",
                "JAX_PROCESS_ID": str(pid),
            }
        argv = [mode, str(pid), str(port), str(out), str(devices), join]
        children.append(
            subprocess.Popen(
                [sys.executable, "-c", script, *argv],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return children


def _finish(children: list[subprocess.Popen], deadline: float) -> list[dict]:
    """Wait for both; if one fails or time runs out, end the other too."""
    while any(c.poll() is None for c in children):
        failed = any(c.returncode not in (None, 0) for c in children)
        if failed or time.monotonic() > deadline:
            for child in children:
                if child.poll() is None:
                    child.kill()
            break
        time.sleep(0.1)
    reports = []
    for pid, child in enumerate(children):
        stdout, stderr = child.communicate(timeout=30)
        lines = [x for x in stdout.splitlines() if x.startswith("RESULT ")]
        assert child.returncode == 0 and lines, (
            f"process {pid} ended with {child.returncode}:\n{stdout[-3000:]}\n"
            f"{stderr[-6000:]}"
        )
        reports.append(json.loads(lines[-1].removeprefix("RESULT ")))
    return reports


def _two_processes(mode: str, out: Path, devices: int, join: str) -> list[dict]:
    return _finish(_start(mode, out, devices, join), time.monotonic() + TIMEOUT_S)


def _assert_equal_arrays(got: dict, expected, where: str) -> None:
    for part in ("history", "final"):
        wanted = getattr(expected, part)
        assert got[part].keys() == wanted.keys(), where
        for name, values in wanted.items():
            np.testing.assert_array_equal(
                np.asarray(got[part][name], values.dtype),
                values,
                err_msg=f"{where}: {part}[{name!r}]",
            )


@pytest.mark.usefixtures("_one_at_a_time")
def test_two_processes_equal_one_process(tmp_path):
    """2 processes x 2 devices (joined through the environment variables the
    ``jaxrl`` command reads), with and without a run directory."""
    out = tmp_path / "run"
    reports = _two_processes("run", out, devices=2, join="env")
    alone = jaxrl.run(
        toy_program(),
        ToyHParams(),
        seeds=4,
        progress=False,
        console=QUIET,
        out=tmp_path / "alone",
    )
    for pid, report in enumerate(reports):
        sizes = (report["process_count"], report["devices"], report["local"])
        assert sizes == (2, 4, 2)
        for part in ("no_dir", "dir"):
            _assert_equal_arrays(report[part], alone, f"process {pid}, {part}")
        assert "already exists" in report["again"], report["again"]
        assert "needs --out" in report["cli_without_out"]
    for key in ("again", "cli_again"):
        assert reports[0][key].startswith("RunDirError"), reports[0][key]
        assert reports[1][key].startswith("MainProcessError: process 0 failed")
    assert reports[1]["writes"] == []
    assert (out / "metrics.jsonl").read_text() == (
        tmp_path / "alone" / "metrics.jsonl"
    ).read_text()
    results = json.loads((out / "results.json").read_text())
    expected = json.loads((tmp_path / "alone" / "results.json").read_text())
    assert results["status"] == "done" and results["final"] == expected["final"]
    assert len(json.loads((out / "config.json").read_text())["devices"]) == 4
    assert (out / "learning_curves.png").is_file()
    assert sorted(int(p.name) for p in (out / "checkpoints").iterdir()) == [5, 10, 12]


# two more processes (about 22 s in the CI run); --exhaustive. The default
# run keeps test_two_processes_equal_one_process.
@pytest.mark.exhaustive
@pytest.mark.usefixtures("_one_at_a_time")
def test_stop_in_one_process_then_resume_in_both(tmp_path):
    """2 processes x 1 device (3 runs padded to 4), joined by explicit
    ``jax.distributed.initialize`` calls; SIGINT reaches process 1 only."""
    out = tmp_path / "run"
    children = _start("interrupt", out, devices=1, join="call")
    deadline = time.monotonic() + TIMEOUT_S
    metrics = out / "metrics.jsonl"
    while time.monotonic() < deadline and all(c.poll() is None for c in children):
        if metrics.exists() and metrics.read_text().count("\n") >= 30:
            break
        time.sleep(0.05)
    assert all(c.poll() is None for c in children), "a child ended too early"
    children[1].send_signal(signal.SIGINT)
    reports = _finish(children, deadline)
    stopped = {report["stopped_at"] for report in reports}
    assert len(stopped) == 1, f"the processes stopped at steps {stopped}"
    (step,) = stopped
    assert 30 <= step < 300
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "interrupted" and results["steps_done"] == step
    assert reports[1]["writes"] == []

    reports = _two_processes("resume", out, devices=1, join="call")
    alone = jaxrl.run(
        toy_program(num_steps=300),
        ToyHParams(),
        seeds=3,
        progress=False,
        console=QUIET,
        out=tmp_path / "alone",
        chunk_steps=3,
        checkpoint_every=2,
    )
    for pid, report in enumerate(reports):
        assert (report["process_count"], report["devices"]) == (2, 2)
        _assert_equal_arrays(report["resumed"], alone, f"process {pid}")
    assert reports[1]["writes"] == []
    assert metrics.read_text() == (tmp_path / "alone" / "metrics.jsonl").read_text()
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "done"
    expected = json.loads((tmp_path / "alone" / "results.json").read_text())
    assert results["final"] == expected["final"]


@pytest.mark.parametrize(
    "variables, message",
    [
        ({"JAX_NUM_PROCESSES": "2"}, "missing: JAX_COORDINATOR_ADDRESS, JAX_PRO"),
        (
            {
                "JAX_COORDINATOR_ADDRESS": "127.0.0.1:1",
                "JAX_NUM_PROCESSES": "two",
                "JAX_PROCESS_ID": "0",
            },
            "must be integers",
        ),
    ],
)
def test_incomplete_environment_is_refused(monkeypatch, variables, message):
    from jaxrl import distributed

    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.initialize_from_env() is False
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        distributed.initialize_from_env()
