"""Timing, tables and result files shared by the benchmark scripts.

Every benchmark times a jitted ``lax.scan`` over a batched step function:
compile once ahead of time (timed separately), run once to warm up, then take
the best of several runs, each ending in ``block_until_ready``.
"""

import datetime
import json
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
from rich.console import Console
from rich.table import Table

from jaxrl import rundir

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def scan_steps(step: Callable, num_steps: int) -> Callable:
    """``(carry, key) -> carry`` running ``step(carry, key)`` ``num_steps`` times."""

    def run(carry, key):
        keys = jax.random.split(key, num_steps)
        carry, _ = jax.lax.scan(lambda c, k: (step(c, k), None), carry, keys)
        return carry

    return run


def compile_timed(fn: Callable, args: tuple) -> tuple[Any, float]:
    """``(jax.jit(fn).lower(*args).compile(), seconds that took)``."""
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    return compiled, time.perf_counter() - start


def time_call(
    compiled: Callable, args: tuple, repeats: int, min_seconds: float = 1.0
) -> float:
    """Best seconds per call of ``compiled(*args)``.

    After a warm-up call, each of ``repeats`` timings runs the call back to
    back until at least ``min_seconds`` have passed (so fast calls are not
    lost in timer noise and slow libraries do not take minutes).
    """
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    first = time.perf_counter() - start
    calls = max(1, math.ceil(min_seconds / max(first, 1e-6)))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            out = compiled(*args)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def time_compiled(
    fn: Callable, args: tuple, repeats: int, min_seconds: float = 1.0
) -> tuple[float, float]:
    """Compile ``jax.jit(fn)`` for ``args`` and time one call of it
    (:func:`time_call`).

    Returns:
        ``(compile_seconds, best_seconds_per_call)``.
    """
    compiled, compile_s = compile_timed(fn, args)
    return compile_s, time_call(compiled, args, repeats, min_seconds)


MEMORY_FIELDS = (
    "argument_size_in_bytes",
    "output_size_in_bytes",
    "alias_size_in_bytes",
    "temp_size_in_bytes",
    "peak_memory_in_bytes",
)


def memory_stats(compiled: Any) -> dict:
    """The bytes XLA reports for a compiled call (``{}`` where the backend
    reports none): arguments, outputs, aliased, temporaries, peak."""
    try:
        analysis = compiled.memory_analysis()
    except (NotImplementedError, RuntimeError, AttributeError):
        return {}
    if analysis is None:
        return {}
    return {
        field: int(getattr(analysis, field))
        for field in MEMORY_FIELDS
        if getattr(analysis, field, None) is not None
    }


def measure(
    init,
    step,
    batch: int,
    env_steps: int,
    repeats: int,
    min_seconds: float = 1.0,
) -> dict:
    """Compile and time ``step`` scanned, per compiled call, over enough
    iterations for about ``env_steps`` environment steps (a twentieth of that
    unbatched, where every iteration is mostly dispatch; at least 20).

    The result also holds ``memory``, XLA's :func:`memory_stats` of the
    compiled scan (whole batch, not per environment).
    """
    iterations = max(20, (env_steps if batch > 1 else env_steps // 20) // batch)
    args = (init(jax.random.key(0)), jax.random.key(1))
    compiled, compile_s = compile_timed(scan_steps(step, iterations), args)
    run_s = time_call(compiled, args, repeats, min_seconds)
    return {
        "batch": batch,
        "iterations": iterations,
        "compile_s": compile_s,
        "run_s": run_s,
        "steps_per_s": batch * iterations / run_s,
        "memory": memory_stats(compiled),
    }


def machine_info() -> dict:
    """jax backend, device, CPU count, platform, package versions and git
    commit, for result files (versions and commit as in a run directory's
    ``config.json``)."""
    device = jax.devices()[0]
    return {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device": getattr(device, "device_kind", str(device)),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "versions": rundir.versions(),
        "commit": rundir.git_commit() or "unknown",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def print_table(title: str, columns: list[str], rows: list[list]) -> None:
    """Print ``rows`` (lists of already formatted cells) as a rich table."""
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*[str(cell) for cell in row])
    Console(width=max(Console().width, 160)).print(table)


def save_results(name: str, payload: dict, path: str | None = None) -> Path:
    """Write ``payload`` plus :func:`machine_info` as JSON; never overwrites.

    Default path: ``benchmarks/results/<name>-<UTC timestamp>.json``.
    """
    if path is None:
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
        out = RESULTS_DIR / f"{name}-{stamp}.json"
    else:
        out = Path(path)
    if out.exists():
        raise FileExistsError(f"{out} exists; refusing to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": machine_info(), **payload}, indent=2))
    return out


def rate(value: float) -> str:
    """Steps per second, compact: ``1.23M``, ``456k``, ``789``."""
    if value >= 1e6:
        return f"{value / 1e6:.2f}M"
    if value >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.0f}"


def peer_python(venv_dir: Path, peer: str) -> Path:
    """The Python of ``peer``'s own virtual environment under ``venv_dir``."""
    return venv_dir / peer / "bin" / "python"


def setup_peers(venv_dir: Path, requirements: dict[str, list[str]]) -> None:
    """Create ``venv_dir/<peer>`` for each peer and pip-install its pinned
    requirement strings there (from the package index pip is configured
    with)."""
    import subprocess
    import sys

    for peer, packages in requirements.items():
        if not peer_python(venv_dir, peer).exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv_dir / peer)],
                           check=True)  # fmt: skip
        pip = [str(peer_python(venv_dir, peer)), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, *packages], check=True)
