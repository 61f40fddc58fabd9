"""Fault injection: interrupts, kills, corrupted checkpoints and bad input.

Drives ``jaxrl train ppo`` and ``jaxrl resume`` as a user would, in
subprocesses, on a small PPO run (Empty-5x5, 2 seeds, a checkpoint every
other chunk), and sorts each case's outcome:

- **recovered**: the run ends complete (after ``jaxrl resume`` where it was
  stopped) with final scores equal, bit for bit, to an uninterrupted run's;
- **refused cleanly**: a non-zero exit with a short error and no Python
  traceback, and every file that existed before is still there;
- **silent**: anything else (a wrong result, a traceback, lost files).

Cases: SIGINT, SIGTERM and SIGKILL at random points of the run, and SIGINT
twice (the second stops at once, between checkpoints; then resume); the
newest checkpoint truncated, with flipped bytes, with a file removed, or
with garbage metadata (then resume); a save cut short by a kill
(a leftover temporary checkpoint folder); a malformed config.json given to
``jaxrl resume``; a run over the memory limit (``JAXRL_MEMORY_LIMIT``);
malformed command lines.
Silent must be 0.

    python benchmarks/faults.py
    python benchmarks/faults.py --kills 3 --seed 1
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import print_table, save_results

RUN = ["--env", "Empty-5x5", "--total-steps", "65536", "--num-envs", "4",
       "--num-steps", "32", "--num-minibatches", "2", "--update-epochs", "1",
       "--hidden-size", "16", "--seeds", "2", "--chunk-steps", "16",
       "--checkpoint-every", "2", "--no-progress"]  # fmt: skip
JAXRL = [sys.executable, "-m", "jaxrl.cli"]
BAD_COMMANDS = {
    "negative total steps": ["--total-steps", "-5"],
    "NaN learning rate": ["--lr", "nan"],
    "zero envs": ["--num-envs", "0"],
    "unknown env": ["--env", "Nope-5x5"],
    "continuous env with a discrete-only switch": [
        "--env",
        "Pendulum-v1",
        "--recurrent",
        "true",
    ],
    "string for a bool": ["--anneal-lr", "maybe"],
    "unknown intrinsic": ["--intrinsic", "curiosity"],
    "zero seeds": ["--seeds", "0"],
    "sweep of an unknown field": ["--sweep", "nope=1,2"],
    "out under a file": ["--out", "{file}/run"],
    "out in a read-only place": ["--out", "/proc/jaxrl-run"],
}


def train(out: Path, extra=()) -> subprocess.Popen:
    return subprocess.Popen(
        [*JAXRL, "train", "ppo", *RUN, *extra, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def call(args, env=None) -> tuple[int, str]:
    env = None if env is None else {**os.environ, **env}
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, env=env)
    return done.returncode, done.stdout + done.stderr


def final_of(run_dir: Path) -> dict | None:
    path = run_dir / "results.json"
    if not path.exists():
        return None
    results = json.loads(path.read_text())
    return results["final"] if results.get("status") == "done" else None


def clean_refusal(code: int, output: str) -> bool:
    return code != 0 and "Traceback" not in output and len(output.strip()) > 0


def files_of(run_dir: Path) -> set[str]:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()}


def interrupt_case(
    work: Path, sig: int, delay: float, reference: dict, again: float | None = None
) -> tuple:
    """``sig`` ``delay`` s into the run; with ``again``, the same signal once
    more ``again`` s later (a second Ctrl-C stops at once, between
    checkpoints)."""
    out = work / f"run-{signal.Signals(sig).name}-{delay:.2f}-{again}"
    process = train(out)
    lines = []
    for line in process.stdout:  # wait until the compiled run is stepping
        lines.append(line)
        if "compiled in" in line:
            break
    time.sleep(delay)
    process.send_signal(sig)
    if again is not None:
        time.sleep(again)
        process.send_signal(sig)
    rest, _ = process.communicate(timeout=600)
    output = "".join(lines) + rest
    if process.returncode == 0:  # it finished before the signal landed
        return _verdict(final_of(out) == reference, output, "finished first")
    if "Traceback" in output:
        return "silent", "traceback on " + signal.Signals(sig).name
    before = files_of(out) if out.exists() else set()
    code, resumed = call([*JAXRL, "resume", str(out), "--no-progress"])
    if code == 0:
        lost = before - files_of(out) - _replaced(before)
        ok = final_of(out) == reference and not lost
        return _verdict(ok, resumed, f"exit {process.returncode}, resumed")
    if clean_refusal(code, resumed):
        return "refused cleanly", _last_line(resumed)
    return "silent", _last_line(resumed)


def _replaced(names: set[str]) -> set[str]:
    """Files a resumed run legitimately rewrites or prunes (old checkpoints,
    results and logs)."""
    return {n for n in names if n.startswith("checkpoints/") or n in (
        "results.json", "metrics.jsonl", "learning_curves.png")}  # fmt: skip


def corrupt(step_dir: Path, how: str) -> None:
    files = sorted((p for p in step_dir.rglob("*") if p.is_file()),
                   key=lambda p: p.stat().st_size)  # fmt: skip
    largest = files[-1]
    if how == "truncated":
        largest.write_bytes(largest.read_bytes()[: largest.stat().st_size // 2])
    elif how == "flipped bytes":
        data = bytearray(largest.read_bytes())
        for i in range(len(data) // 3, len(data) // 3 + 16):
            data[i] ^= 0xFF
        largest.write_bytes(bytes(data))
    elif how == "missing file":
        largest.unlink()
    elif how == "bad metadata":
        for meta in step_dir.rglob("*METADATA*"):
            meta.write_text("{not json")
    else:
        raise ValueError(how)


def corruption_case(work: Path, stopped: Path, how: str, reference: dict) -> tuple:
    out = work / f"corrupt-{how.replace(' ', '-')}"
    shutil.copytree(stopped, out)
    steps = sorted((p for p in (out / "checkpoints").iterdir() if p.name.isdigit()),
                   key=lambda p: int(p.name))  # fmt: skip
    corrupt(steps[-1], how)
    before = files_of(out)
    code, output = call([*JAXRL, "resume", str(out), "--no-progress"])
    if code == 0:
        lost = before - files_of(out) - _replaced(before)
        ok = final_of(out) == reference and not lost
        return _verdict(ok, output, "fell back to an older checkpoint")
    if clean_refusal(code, output):
        return "refused cleanly", _last_line(output)
    return "silent", _last_line(output)


def cut_short_case(work: Path, stopped: Path, reference: dict) -> tuple:
    """A kill during a save leaves a temporary folder beside the checkpoints
    (orbax renames it into place only when complete)."""
    out = work / "cut-short"
    shutil.copytree(stopped, out)
    newest = max(int(p.name) for p in (out / "checkpoints").iterdir()
                 if p.name.isdigit())  # fmt: skip
    partial = out / "checkpoints" / f"{newest + 1}.orbax-checkpoint-tmp-1"
    shutil.copytree(out / "checkpoints" / str(newest), partial)
    corrupt(partial, "truncated")
    before = files_of(out)
    code, output = call([*JAXRL, "resume", str(out), "--no-progress"])
    if code == 0:
        lost = before - files_of(out) - _replaced(before)
        ok = final_of(out) == reference and not lost
        return _verdict(ok, output, "resumed from the last complete checkpoint")
    return "silent", _last_line(output)


BAD_CONFIGS = {
    "not JSON": lambda c: "{not json",
    "not an object": lambda c: "[1, 2]",
    "empty object": lambda c: "{}",
    "seeds a string": lambda c: json.dumps({**c, "seeds": "x"}),
    "schedule of strings": lambda c: json.dumps(
        {**c, "schedule": {"chunk_steps": "1"}}
    ),
}


def bad_config_case(work: Path, stopped: Path, name: str) -> tuple:
    out = work / f"config-{len(list(work.iterdir()))}"
    shutil.copytree(stopped, out)
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(BAD_CONFIGS[name](config))
    before = files_of(out)
    code, output = call([*JAXRL, "resume", str(out), "--no-progress"])
    if clean_refusal(code, output) and files_of(out) == before:
        return "refused cleanly", _last_line(output)
    return "silent", f"exit {code}: {_last_line(output)}"


def memory_case(work: Path) -> tuple:
    out = work / "memory"
    full = [*JAXRL, "train", "ppo", *RUN, "--out", str(out)]
    code, output = call(full, env={"JAXRL_MEMORY_LIMIT": "4K"})
    if clean_refusal(code, output) and not out.exists() and "4.00 KiB" in output:
        return "refused cleanly", _last_line(output)
    return "silent", f"exit {code}: {_last_line(output)}"


def bad_command_case(work: Path, name: str, args: list[str]) -> tuple:
    blocker = work / "a-file"
    blocker.write_text("")
    args = [a.replace("{file}", str(blocker)) for a in args]
    out = work / f"bad-{len(list(work.iterdir()))}"
    full = [*JAXRL, "train", "ppo", *RUN, "--out", str(out), *args]
    code, output = call(full)
    if clean_refusal(code, output) and not out.exists():
        return "refused cleanly", _last_line(output)
    return "silent", f"exit {code}: {_last_line(output)}"


def _verdict(ok: bool, output: str, note: str) -> tuple:
    return ("recovered", note) if ok else ("silent", f"{note}: {_last_line(output)}")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "")[:110]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=2,
                        help="random points per signal")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        code, output = call([*JAXRL, "train", "ppo", *RUN, "--out", str(work / "ref")])
        reference = final_of(work / "ref")
        if code != 0 or reference is None:
            sys.exit(f"the reference run failed:\n{output}")
        stopped = None
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            for _ in range(args.kills):
                delay = rng.uniform(0.2, 3.0)
                verdict, note = interrupt_case(work, sig, delay, reference)
                cases.append((f"{signal.Signals(sig).name} after {delay:.1f} s",
                              verdict, note))  # fmt: skip
        for _ in range(args.kills):
            delay, again = rng.uniform(0.2, 3.0), rng.uniform(0.3, 1.0)
            verdict, note = interrupt_case(work, signal.SIGINT, delay, reference, again)
            cases.append((f"SIGINT twice, after {delay:.1f} s and {again:.1f} s more",
                          verdict, note))  # fmt: skip
        # a stopped run with several checkpoints, to damage
        stopped = work / "stopped"
        process = train(stopped)
        for line in process.stdout:
            if "compiled in" in line:
                break
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=600)
        results = stopped / "results.json"
        if json.loads(results.read_text())["status"] == "done":
            # it finished before the signal landed: reopen it, so that the
            # damaged checkpoints below are read by a real resume
            results.write_text(results.read_text().replace('"done"', '"interrupted"'))
        for how in ("truncated", "flipped bytes", "missing file", "bad metadata"):
            verdict, note = corruption_case(work, stopped, how, reference)
            cases.append((f"newest checkpoint {how}", verdict, note))
        cases.append(
            ("save cut short by a kill", *cut_short_case(work, stopped, reference))
        )
        for name in BAD_CONFIGS:
            cases.append(
                (f"resume, config.json {name}", *bad_config_case(work, stopped, name))
            )
        cases.append(("run larger than the memory limit", *memory_case(work)))
        for name, bad in BAD_COMMANDS.items():
            verdict, note = bad_command_case(work, name, bad)
            cases.append((f"bad input: {name}", verdict, note))
    print_table("Fault injection", ["case", "outcome", "what happened"],
                [list(c) for c in cases])  # fmt: skip
    counts = {k: sum(c[1] == k for c in cases)
              for k in ("recovered", "refused cleanly", "silent")}  # fmt: skip
    print_table("Summary", ["cases tried", "recovered", "refused cleanly", "silent"],
                [[len(cases), counts["recovered"], counts["refused cleanly"],
                  counts["silent"]]])  # fmt: skip
    saved = save_results("faults", {"cases": cases, "counts": counts})
    print(f"results: {saved}")
    if counts["silent"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
