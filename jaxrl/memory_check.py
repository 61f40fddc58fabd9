"""A run's memory, estimated before anything compiles, against the machine's.

XLA's own account of a compiled chunk (``jaxrl.compiled.check_memory``)
comes only after compiling, and compiling a run far too large for the host
can itself exhaust it. So :func:`check` first estimates from shapes alone,
with ``jax.eval_shape`` (nothing is allocated): the batched run state, held
twice (on the device and as the host copy a checkpoint takes), plus one
chunk of metrics, held twice (on the device and on the host). That is a
lower bound on what the run needs; a run above it cannot fit.

The limit is, in order: the environment variable ``JAXRL_MEMORY_LIMIT``
(bytes, or with a suffix K, M, G, T: ``JAXRL_MEMORY_LIMIT=512M``); on a GPU
or TPU, the device's ``bytes_limit`` less what it has in use; else the
host's available memory (psutil, or ``MemAvailable`` in /proc/meminfo).
``JAXRL_MEMORY_CHECK=0`` or ``jaxrl.run(..., check_memory=False)`` turns
the estimate off.
"""

import os
from pathlib import Path
from typing import Any

import jax
import numpy as np

from jaxrl.compiled import init_from_raw
from jaxrl.layout import RunLayout
from jaxrl.program import Program

LIMIT_VARIABLE = "JAXRL_MEMORY_LIMIT"
SWITCH_VARIABLE = "JAXRL_MEMORY_CHECK"
_SUFFIXES = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def tree_bytes(tree: Any) -> int:
    """Bytes of every array (or ``ShapeDtypeStruct``) leaf of ``tree``."""
    total = 0
    for leaf in jax.tree.leaves(tree):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.eval_shape(jax.random.key_data, leaf)  # the raw words
        count = int(np.prod(leaf.shape, dtype=np.int64))
        total += count * np.dtype(leaf.dtype).itemsize
    return total


def estimate(program: Program, layout: RunLayout, hparams: Any, chunk_steps: int):
    """``(state_bytes, metric_bytes)`` of the whole batch of runs, from shapes.

    ``metric_bytes`` is one chunk of ``chunk_steps`` steps of metrics.
    """
    batched = layout.batched_hparams(hparams)
    init = jax.vmap(init_from_raw(program))
    state = jax.eval_shape(init, layout.key_data(), batched)
    metrics = jax.eval_shape(jax.vmap(program.step), state, batched)[1]
    return tree_bytes(state), tree_bytes(metrics) * chunk_steps


def parse_bytes(text: str) -> int:
    """``"512M"`` -> 536870912; plain digits are bytes.

    Raises:
        ValueError: not a positive number with an optional K/M/G/T suffix.
    """
    clean = text.strip().upper().removesuffix("IB").removesuffix("B")
    suffix = clean[-1:] if clean[-1:] in _SUFFIXES and clean[-1:] else ""
    number = clean[: len(clean) - len(suffix)]
    try:
        value = float(number) * _SUFFIXES[suffix]
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(
            f"{LIMIT_VARIABLE}={text!r} is not a memory size; use bytes or a "
            "number with K, M, G or T (e.g. 512M)"
        )
    return int(value)


def available() -> tuple[int, str]:
    """``(bytes, where)``: the memory a run may use and where it is."""
    if os.environ.get(LIMIT_VARIABLE):
        return parse_bytes(os.environ[LIMIT_VARIABLE]), f"machine ({LIMIT_VARIABLE})"
    device = jax.local_devices()[0]
    stats = device.memory_stats() or {}
    if "bytes_limit" in stats:
        free = stats["bytes_limit"] - stats.get("bytes_in_use", 0)
        return free, f"{device.platform} device {device.id}"
    return _host_available(), "host"


def _host_available() -> int:
    try:
        import psutil
    except ImportError:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("cannot tell the host's free memory") from None
    return int(psutil.virtual_memory().available)


def is_enabled(check_memory: bool = True) -> bool:
    return check_memory and os.environ.get(SWITCH_VARIABLE, "1") != "0"


def check(program: Program, layout: RunLayout, hparams: Any, chunk_steps: int) -> None:
    """Refuse a run whose estimated memory exceeds what is free.

    Raises:
        ValueError: with the estimate, its parts and the limit.
    """
    state, metrics = estimate(program, layout, hparams, chunk_steps)
    need = 2 * state + 2 * metrics
    free, where = available()
    if need > free:
        raise ValueError(
            f"the run needs at least {_size(need)} on the {where} "
            f"({layout.num_runs} runs: state {_size(state)} x 2, metrics "
            f"of one chunk {_size(metrics)} x 2) but {_size(free)} "
            "are free; use fewer seeds or settings, fewer environments, "
            f"smaller chunk_steps, or turn this off with {SWITCH_VARIABLE}=0 "
            "or check_memory=False"
        )


def _size(num_bytes: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if num_bytes >= scale:
            return f"{num_bytes / scale:.2f} {unit}"
    return f"{num_bytes} B"
