"""Runs over several processes (hosts) joined by ``jax.distributed``.

Every process runs the same ``jaxrl.run`` (or ``jaxrl.resume``) call. The
run axis is laid over every process's devices (:mod:`jaxrl.sharding`), all
processes write the orbax checkpoints together, and process 0 alone writes
the other files of the run directory. The run directory must therefore be
on a filesystem that every process sees under the same path.

A process joins the others with ``jax.distributed.initialize``, which must
come before anything starts a JAX backend (``import jaxrl`` starts none, but
``jaxrl.make``, ``jaxrl.algos`` and ``jax.devices()`` do). The ``jaxrl``
command calls it itself when these variables are set::

    JAX_COORDINATOR_ADDRESS=10.0.0.1:1234  # process 0's address, any free port
    JAX_NUM_PROCESSES=2
    JAX_PROCESS_ID=0                      # 0 .. JAX_NUM_PROCESSES - 1
"""

import os
from collections.abc import Callable
from typing import TypeVar

import jax
import numpy as np

T = TypeVar("T")

ENV_ADDRESS, ENV_NUM, ENV_ID = (
    "JAX_COORDINATOR_ADDRESS",
    "JAX_NUM_PROCESSES",
    "JAX_PROCESS_ID",
)
_MESSAGE_BYTES = 2048


def initialize_from_env() -> bool:
    """Join a multi-process run described by the environment variables above.

    Does nothing unless ``JAX_NUM_PROCESSES`` or ``JAX_PROCESS_ID`` is set, or
    when ``jax.distributed`` is already initialized (by the caller).

    Returns:
        Whether this call joined the processes.

    Raises:
        ValueError: only some of the three variables are set, or not as ints.
        RuntimeError: a JAX backend has started already (from jax).
    """
    if ENV_NUM not in os.environ and ENV_ID not in os.environ:
        return False
    if jax.distributed.is_initialized():
        return False
    names = (ENV_ADDRESS, ENV_NUM, ENV_ID)
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise ValueError(
            f"a multi-process run needs {ENV_ADDRESS}, {ENV_NUM} and {ENV_ID}; "
            f"missing: {', '.join(missing)}"
        )
    try:
        num_processes, process_id = int(os.environ[ENV_NUM]), int(os.environ[ENV_ID])
    except ValueError:
        raise ValueError(
            f"{ENV_NUM} and {ENV_ID} must be integers, got "
            f"{os.environ[ENV_NUM]!r} and {os.environ[ENV_ID]!r}"
        ) from None
    jax.distributed.initialize(
        coordinator_address=os.environ[ENV_ADDRESS],
        num_processes=num_processes,
        process_id=process_id,
    )
    return True


class MainProcessError(RuntimeError):
    """What :func:`on_main_process` raises in the other processes when the
    action failed in process 0; the message is process 0's error."""


def is_main_process() -> bool:
    """True in process 0, the one that writes the run directory's files."""
    return jax.process_index() == 0


def on_main_process(action: Callable[[], T]) -> T | None:
    """``action()`` in process 0 only; every process waits for it to end.

    Returns:
        What ``action`` returned in process 0; None in the others.

    Raises:
        Whatever ``action`` raised, in process 0; :class:`MainProcessError`
        with the same message in the others (instead of waiting for process 0
        forever).
    """
    if jax.process_count() == 1:
        return action()
    from jax.experimental import multihost_utils

    result, failure, message = None, None, b""
    if is_main_process():
        try:
            result = action()
        except Exception as error:  # noqa: BLE001 (re-raised below)
            failure = error
            message = f"{type(error).__name__}: {error}".encode()[:_MESSAGE_BYTES]
    # a collective: it also makes the other processes wait for process 0
    padded = np.zeros(_MESSAGE_BYTES + 1, np.uint8)
    padded[0] = failure is not None
    padded[1 : 1 + len(message)] = np.frombuffer(message, np.uint8)
    agreed = np.asarray(multihost_utils.broadcast_one_to_all(padded))
    if failure is not None:
        raise failure
    if agreed[0]:
        text = agreed[1:].tobytes().rstrip(b"\0").decode(errors="replace")
        raise MainProcessError(f"process 0 failed: {text}")
    return result


def any_process(flag: bool) -> bool:
    """True in every process if ``flag`` is True in any (a collective)."""
    if jax.process_count() == 1:
        return bool(flag)
    from jax.experimental import multihost_utils

    flags = multihost_utils.process_allgather(np.asarray(bool(flag)))
    return bool(np.any(flags))
