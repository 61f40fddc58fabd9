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
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import jax
from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def scan_steps(step: Callable, num_steps: int) -> Callable:
    """``(carry, key) -> carry`` running ``step(carry, key)`` ``num_steps`` times."""

    def run(carry, key):
        keys = jax.random.split(key, num_steps)
        carry, _ = jax.lax.scan(lambda c, k: (step(c, k), None), carry, keys)
        return carry

    return run


def time_compiled(
    fn: Callable, args: tuple, repeats: int, min_seconds: float = 1.0
) -> tuple[float, float]:
    """Compile ``jax.jit(fn)`` for ``args`` and time one call of it.

    After a warm-up call, each of ``repeats`` timings runs the compiled call
    back to back until at least ``min_seconds`` have passed (so fast calls
    are not lost in timer noise and slow libraries do not take minutes).

    Returns:
        ``(compile_seconds, best_seconds_per_call)``.
    """
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
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
    return compile_s, best


def measure(init, step, batch: int, env_steps: int, repeats: int) -> dict:
    """Compile and time ``step`` scanned, per compiled call, over enough
    iterations for about ``env_steps`` environment steps (a twentieth of that
    unbatched, where every iteration is mostly dispatch; at least 20)."""
    iterations = max(20, (env_steps if batch > 1 else env_steps // 20) // batch)
    carry = init(jax.random.key(0))
    compile_s, run_s = time_compiled(
        scan_steps(step, iterations), (carry, jax.random.key(1)), repeats
    )
    return {
        "batch": batch,
        "iterations": iterations,
        "compile_s": compile_s,
        "run_s": run_s,
        "steps_per_s": batch * iterations / run_s,
    }


def machine_info() -> dict:
    """jax version, device, CPU count and git commit, for result files."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    device = jax.devices()[0]
    return {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device": getattr(device, "device_kind", str(device)),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "commit": commit or "unknown",
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
