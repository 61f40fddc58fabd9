"""Farama MiniGrid's own test suite, unchanged, on jaxrl's environments.

Farama's ``tests/test_envs.py`` and ``tests/test_wrappers.py`` run with
pytest, as they are, while every ``MiniGrid-*`` id that jaxrl has is
re-registered in gymnasium to jaxrl's environment (``jaxrl.to_gymnasium``).
Ids jaxrl lacks (BabyAI, WFC) stay Farama's; tests that made no jaxrl
environment are counted apart. Prints, per test file, what passed and
failed, and the failing tests grouped by cause (a jaxrl defect, a
documented departure from Farama, or unexplained)::

    git clone --branch v3.2.0 --depth 1 \\
        https://github.com/Farama-Foundation/Minigrid /tmp/Minigrid
    nice python benchmarks/farama_suite.py --minigrid /tmp/Minigrid
    nice python benchmarks/farama_suite.py --minigrid /tmp/Minigrid -k Empty
    nice python benchmarks/farama_suite.py --minigrid /tmp/Minigrid --log suite.jsonl
    python benchmarks/farama_suite.py --report suite.jsonl   # the tables again

Arguments it does not know go to pytest (``-k``, ``-x``, ``-n 0``).

The tag should match the installed ``minigrid`` (``pip show minigrid``);
the script warns when the checkout's version differs. ``tests/`` is copied
to a temporary directory and run there, so the installed ``minigrid`` is
the one imported; nothing in it is edited.

How the ids are re-registered: Farama's ``tests/utils.py`` tests the specs
whose entry point is a string starting with ``minigrid.envs``. This file is
also the pytest plugin (``-p farama_suite``): at ``pytest_configure``, before
the tests are collected, it makes itself importable as
``minigrid.envs.jaxrl_suite`` and re-registers each id jaxrl has with entry
point ``minigrid.envs.jaxrl_suite:make_env`` and ``kwargs={"jaxrl_id": ...}``
(Farama's other spec fields are kept). Each test's outcome, and whether it
made a jaxrl environment, goes to a JSON-lines log the script then reads.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

FILES = ("test_envs.py", "test_wrappers.py")
ALIAS = "minigrid.envs.jaxrl_suite"  # the entry points' module (this file)
_LOG_VARIABLE = "FARAMA_SUITE_LOG"
# JAX's persistent compilation cache for the pytest process, unless
# JAX_COMPILATION_CACHE_DIR is set
JAX_CACHE = Path(tempfile.gettempdir()) / "jaxrl_farama_suite_jax_cache"

# Causes of failure, first match wins: (pattern on the failure text, kind,
# what it is). Kinds: "departure" (documented: jaxrl differs on purpose),
# "Farama" (Farama's own environment fails, jaxrl not involved). Anything
# unmatched is "unexplained"; the script exits 1 on any unexplained jaxrl
# failure.
CAUSES: tuple[tuple[str, str, str], ...] = (
    (
        r"No such file or directory: .*wfc[/\\]patterns",
        "Farama",
        "the installed minigrid lacks the WFC pattern images "
        "(minigrid/envs/wfc/patterns/*.png are not in its wheel)",
    ),
    (
        r"action \d+ is not in the action space",
        "departure",
        "out-of-range actions are refused: Farama's Dynamic-Obstacles declares "
        "Discrete(3) yet takes action 4 (drop, a no-op)",
    ),
    (
        r"^\S+::test_no_death_wrapper\n",
        "departure",
        "a seed gives another level than Farama's: the test steps right then "
        "forward into the lava of Farama's seed-2 LavaCrossingS9N1 level "
        "(tests/test_farama_wrappers.py runs NoDeath on Farama's own levels)",
    ),
    (
        r"GymnasiumEnv<MiniGrid-",
        "departure",
        "str(env) names jaxrl's class (GymnasiumEnv), not Farama's per-task "
        "class (EmptyEnv)",
    ),
)


# --------------------------------------------------------------------------
# The pytest plugin (runs inside the pytest process).

_made_jaxrl = False  # whether the running test made a jaxrl environment


def farama_to_jaxrl() -> dict[str, str]:
    """Farama id -> jaxrl id, for every jaxrl gridworld Farama registers."""
    import gymnasium as gym
    import minigrid  # noqa: F401  (registers the MiniGrid-* ids)

    from jaxrl.gymnasium_registration import GRIDWORLD_IDS

    pairs = {}
    for env_id in GRIDWORLD_IDS:
        name, _, version = env_id.rpartition("-v")
        farama = f"MiniGrid-{env_id}" + ("" if name and version.isdigit() else "-v0")
        if farama in gym.registry:
            pairs[farama] = env_id
    return pairs


def make_env(jaxrl_id: str, render_mode: str | None = None, **kwargs: Any):
    """The re-registered ids' entry point: ``jaxrl.to_gymnasium``."""
    global _made_jaxrl
    import jaxrl

    _made_jaxrl = True
    return jaxrl.to_gymnasium(jaxrl_id, render_mode=render_mode, **kwargs)


def pytest_configure(config) -> None:
    """Re-register Farama's ids that jaxrl has (before collection)."""
    import dataclasses

    import gymnasium as gym
    import minigrid.envs

    sys.modules[ALIAS] = sys.modules[__name__]
    minigrid.envs.jaxrl_suite = sys.modules[__name__]
    for farama, env_id in farama_to_jaxrl().items():
        spec = gym.registry.pop(farama)
        gym.registry[farama] = dataclasses.replace(
            spec, entry_point=f"{ALIAS}:make_env", kwargs={"jaxrl_id": env_id}
        )


def pytest_runtest_setup(item) -> None:
    global _made_jaxrl
    _made_jaxrl = False


def pytest_runtest_logreport(report) -> None:
    """One log line a test: its outcome, failure text, and whether jaxrl ran."""
    failed_setup = report.when == "setup" and report.outcome != "passed"
    if report.when != "call" and not failed_setup:
        return
    text = "" if report.passed else _failure_text(report)
    line = {
        "nodeid": report.nodeid,
        "outcome": report.outcome,
        "jaxrl": _made_jaxrl,
        "text": text,
        "seconds": round(report.duration, 3),
    }
    with open(os.environ[_LOG_VARIABLE], "a") as log:
        log.write(json.dumps(line) + "\n")


def _failure_text(report) -> str:
    """The failure's exception lines ("E   ..."), or its short form."""
    text = str(report.longrepr)
    lines = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
    return "\n".join(lines[:12]) if lines else text[-1500:]


# --------------------------------------------------------------------------
# The script.


def checkout_version(minigrid_dir: Path) -> str | None:
    """The ``__version__`` in a Minigrid checkout, or None if not found."""
    init = minigrid_dir / "minigrid" / "__init__.py"
    if not init.exists():
        return None
    found = re.search(r'__version__\s*=\s*"([^"]+)"', init.read_text())
    return found.group(1) if found else None


def run_suite(
    minigrid_dir: Path, pytest_args: list[str], log_copy: Path | None = None
) -> list[dict]:
    """Run Farama's test files under the plugin; returns the log's records
    (also copied to ``log_copy`` when given)."""
    here = Path(__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="farama_suite_") as tmp:
        shutil.copytree(minigrid_dir / "tests", Path(tmp) / "tests")
        log = Path(tmp) / "log.jsonl"
        log.touch()
        env = dict(os.environ)
        env[_LOG_VARIABLE] = str(log)
        # Reruns (after a fix) skip XLA compilation: 76 ids, each compiled
        # for reset, step and rendering, are most of a first run's time.
        env.setdefault("JAX_COMPILATION_CACHE_DIR", str(JAX_CACHE))
        env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        env["PYTHONPATH"] = os.pathsep.join(
            [str(here), tmp, *filter(None, [env.get("PYTHONPATH")])]
        )
        command = [
            sys.executable, "-m", "pytest", "-q", "-p", "farama_suite",
            "-p", "no:cacheprovider", "-p", "no:randomly", "--tb=short",
            "--rootdir", tmp,
            *[f"tests/{name}" for name in FILES], *pytest_args,
        ]  # fmt: skip
        subprocess.run(command, cwd=tmp, env=env, check=False)
        if log_copy is not None:
            shutil.copyfile(log, log_copy)
        return read_log(log)


def read_log(path: Path) -> list[dict]:
    """The records of a log the plugin wrote (one JSON object a line)."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def cause_of(nodeid: str, text: str) -> tuple[str, str]:
    """``(kind, cause)`` of a failed test (see :data:`CAUSES`; the patterns
    see ``"<nodeid>\\n<failure text>"``)."""
    for pattern, kind, cause in CAUSES:
        if re.search(pattern, f"{nodeid}\n{text}", re.MULTILINE):
            return kind, cause
    first = text.strip().splitlines()[0] if text.strip() else "(no message)"
    return "unexplained", first[:160]


def report(records: list[dict]) -> int:
    """Print the tables; returns the number of unexplained jaxrl failures.

    A test counts as "jaxrl" when it made a jaxrl environment, "Farama
    only" otherwise (BabyAI and WFC ids, MissionSpace tests...).
    """
    counts = collections.Counter()
    failures: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
    for record in records:
        path, _, test = record["nodeid"].partition("::")
        file = Path(path).name
        side = "jaxrl" if record["jaxrl"] else "Farama only"
        counts[file, side, record["outcome"]] += 1
        if record["outcome"] == "failed":
            kind, cause = cause_of(record["nodeid"], record["text"])
            counts[file, side, kind] += 1
            failures[f"{kind} ({side})", cause].append(f"{file}::{test}")
    columns = ("passed", "failed", "departure", "Farama", "unexplained", "skipped")
    print(f"\n{'test file':<18} {'runs on':<12}" + "".join(f"{c:>12}" for c in columns))
    for file in FILES:
        for side in ("jaxrl", "Farama only"):
            row = "".join(f"{counts[file, side, c]:>12}" for c in columns)
            print(f"{file:<18} {side:<12}{row}")
    print("(failed = departure + Farama + unexplained)")
    unexplained = 0
    for (kind, cause), tests in sorted(failures.items()):
        print(f"\n{kind}: {len(tests)} failed: {cause}")
        for test in tests[:8]:
            print(f"    {test}")
        if len(tests) > 8:
            print(f"    ... and {len(tests) - 8} more")
        if kind == "unexplained (jaxrl)":
            unexplained += len(tests)
    return unexplained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--minigrid", type=Path,
        help="a Farama-Foundation/Minigrid checkout (its tests/ are run)",
    )  # fmt: skip
    parser.add_argument(
        "--log", type=Path, help="also keep each test's record (JSON lines) here"
    )
    parser.add_argument(
        "--report", type=Path, help="print the tables of a --log file; run nothing"
    )
    args, pytest_args = parser.parse_known_args(argv)
    if args.report is not None:
        return 1 if report(read_log(args.report)) else 0
    if args.minigrid is None:
        parser.error("--minigrid is required (unless --report)")
    if not (args.minigrid / "tests" / "test_envs.py").exists():
        parser.error(f"--minigrid: no tests/test_envs.py under {args.minigrid}")
    import minigrid

    version = checkout_version(args.minigrid)
    if version != minigrid.__version__:
        print(
            f"WARNING: the checkout is minigrid {version}, the installed one "
            f"{minigrid.__version__}: check out the tag v{minigrid.__version__}",
            file=sys.stderr,
        )
    start = time.perf_counter()
    records = run_suite(args.minigrid, pytest_args, args.log)
    if not records:
        print("no test ran (see pytest's output above)", file=sys.stderr)
        return 2
    jaxrl_ids = len(farama_to_jaxrl())
    print(f"\n{jaxrl_ids} Farama ids re-registered to jaxrl; minigrid "
          f"{minigrid.__version__}; {time.perf_counter() - start:.0f} s")  # fmt: skip
    return 1 if report(records) else 0


if __name__ == "__main__":
    sys.exit(main())
