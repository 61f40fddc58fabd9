"""Compiling a program for a batch of runs: ``init`` and the chunk function.

The chunk function is ``lax.scan`` over ``chunk_steps`` steps, vmapped over
the runs, its state donated; it is compiled once per run, whatever the
number of chunks.
"""

import dataclasses
import time
from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.batched_reset import RUNS_AXIS
from jaxrl.layout import RunLayout
from jaxrl.program import Program, all_finite, flatten_metrics
from jaxrl.sharding import RunPlacement, place_runs


@dataclasses.dataclass
class Compiled:
    """A run's compiled functions and its placed inputs."""

    placement: RunPlacement
    init: Any  # compiled (key_data, hparams) -> state
    chunk: Any  # compiled (state, hparams, start) -> (state, metrics, healthy)
    hparams: Any  # placed (R,) hyperparameters
    key_data: Any  # placed (R, ...) raw keys
    compile_s: float
    metric_dtypes: dict  # metric -> dtype, to read metrics.jsonl back exactly


def compile_program(
    program: Program, layout: RunLayout, hparams: Any, chunk_steps: int
) -> Compiled:
    """Place the runs and compile ``init`` and the chunk function, once."""
    placement = place_runs(layout.num_runs)
    hparams = placement.put(layout.batched_hparams(hparams))
    key_data = placement.put(layout.key_data())
    # WARN: left to itself, XLA may give a state leaf another sharding on the
    # way out than the one it was compiled for on the way in (PPO's zero
    # biases came out replicated), and the next chunk call refuses it; so
    # every output, whose leading axis is the run axis, is split over "runs".
    split = {} if placement.sharding is None else {"out_shardings": placement.sharding}
    start = time.perf_counter()
    init = jax.jit(jax.vmap(init_from_raw(program)), **split)
    init = init.lower(key_data, hparams)
    like = init.out_info
    init = init.compile()
    chunk = jax.jit(chunk_function(program, chunk_steps), donate_argnums=0, **split)
    chunk = chunk.lower(like, hparams, jnp.int32(0))
    dtypes = {k: v.dtype for k, v in flatten_metrics(chunk.out_info[1]).items()}
    compiled_chunk = chunk.compile()
    check_memory(compiled_chunk, placement)
    return Compiled(
        placement,
        init,
        compiled_chunk,
        hparams,
        key_data,
        time.perf_counter() - start,
        dtypes,
    )


def init_from_raw(program: Program):
    def init(key_data, hparams):
        return program.init(jax.random.wrap_key_data(key_data), hparams)

    return init


def chunk_function(program: Program, chunk_steps: int):
    """``(state, hparams, start) -> (state, metrics, healthy)`` for the batch.

    ``metrics`` leaves are ``(R, chunk_steps)``. When ``chunk_steps`` does
    not divide the run, steps past the end are skipped with ``lax.cond``
    (the predicate is shared by every run, so it stays a branch under vmap)
    and their metrics are zeros that the host drops.
    """
    is_healthy = program.is_healthy or all_finite
    divides = program.num_steps % chunk_steps == 0

    def one_run(state, hparams, start):
        def body(state, i):
            if divides:
                return program.step(state, hparams)
            return jax.lax.cond(
                start + i < program.num_steps,
                lambda s: program.step(s, hparams),
                lambda s: (s, _zeros_like_metrics(program, s, hparams)),
                state,
            )

        indices = jnp.arange(chunk_steps, dtype=jnp.int32)
        state, metrics = jax.lax.scan(body, state, indices)
        return state, metrics, is_healthy(state)

    # the named axis lets the optimistic reset skip its draw for every run
    # at once (see jaxrl.batched_reset.RUNS_AXIS)
    return jax.vmap(one_run, in_axes=(0, 0, None), axis_name=RUNS_AXIS)


def _zeros_like_metrics(program: Program, state, hparams):
    shapes = jax.eval_shape(program.step, state, hparams)[1]
    return jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), shapes)


def check_memory(compiled: Any, placement: RunPlacement) -> None:
    """Refuse a run whose chunk needs more memory than a device has free.

    The need is XLA's own account of the compiled chunk (arguments, outputs
    not aliased to them, temporaries) per device; the free memory is the
    device's ``bytes_limit`` less what is in use, or on CPU the host's
    available memory.

    Raises:
        ValueError: with the estimate and the limit.
    """
    try:
        stats = compiled.memory_analysis()
    except (NotImplementedError, RuntimeError, AttributeError):
        return
    if stats is None:
        return
    need = (
        stats.argument_size_in_bytes
        + stats.output_size_in_bytes
        - stats.alias_size_in_bytes
        + stats.temp_size_in_bytes
    )
    device = jax.local_devices()[0]
    device_stats = device.memory_stats() or {}
    if "bytes_limit" in device_stats:
        free = device_stats["bytes_limit"] - device_stats.get("bytes_in_use", 0)
        where = f"{device.platform} device {device.id}"
    else:
        import psutil

        free, where = psutil.virtual_memory().available, "host (CPU device)"
    if need > free:
        raise ValueError(
            f"the run needs about {need / 2**30:.2f} GiB on the {where} for "
            f"{placement.padded_runs} runs but {free / 2**30:.2f} GiB are free; "
            "use fewer seeds or settings, fewer environments, or smaller "
            "networks"
        )
