"""Checkpoints of whole run states with orbax, verified on the way back.

:class:`Checkpoints` keeps the last few checkpoints of a run in
``RUN_DIR/checkpoints/<step>/`` through orbax's ``CheckpointManager``, which
writes each one beside its final place and renames it when complete, so a
kill never leaves a half-written checkpoint that looks whole. Every
checkpoint also records a SHA-256 checksum of every array, the run's
fingerprint (what would make its state mean something else: algorithm,
target, config, seeds, settings) and the jaxrl version; a checkpoint that
fails any of these checks is refused with an error saying which, and the
newest one that passes is used instead.

Typed PRNG keys are stored as their raw ``key_data`` and wrapped again on
restore. Zero-size arrays (which orbax cannot store) are left out and rebuilt
from the ``like`` tree.
"""

import contextlib
import hashlib
import logging
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

_STATE, _META = "state", "meta"


class CheckpointError(RuntimeError):
    """No usable checkpoint; the message names each one tried and why."""


def is_typed_key(x) -> bool:
    """True for typed PRNG key arrays and for their ``ShapeDtypeStruct``s."""
    dtype = getattr(x, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _key_impl(x):
    if isinstance(x, jax.Array):
        return jax.random.key_impl(x)
    # WARN: jax has no public way to read the implementation of a shape-only
    # key; its key dtype carries it.
    return x.dtype._impl


def _to_raw(tree):
    """Typed keys become their ``key_data`` (shape-only leaves stay shape-only)."""

    def raw(x):
        if not is_typed_key(x):
            return x
        if isinstance(x, jax.ShapeDtypeStruct):
            return jax.eval_shape(jax.random.key_data, x)
        return jax.random.key_data(x)

    return jax.tree.map(raw, tree)


def _is_empty(x) -> bool:
    return getattr(x, "size", None) == 0


def _without_empty(tree):
    return jax.tree.map(lambda x: None if _is_empty(x) else x, tree)


def _checksums(leaves: list[np.ndarray]) -> list[str]:
    return [
        hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest() for x in leaves
    ]


def host_copy(tree: Any) -> Any:
    """The tree as NumPy arrays on the host, typed keys as raw key data.

    In a multi-process run every process gets the whole (gathered) arrays.
    """
    raw = _to_raw(tree)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return jax.tree.map(
            np.array, multihost_utils.process_allgather(raw, tiled=True)
        )
    # np.array copies: a view of a device buffer would change under donation
    return jax.tree.map(np.array, jax.device_get(raw))


def _is_closed_loop_noise(unraisable) -> bool:
    return (
        isinstance(unraisable.exc_value, RuntimeError)
        and str(unraisable.exc_value) == "Event loop is closed"
    )


def _drop_closed_loop_noise() -> None:
    """Keep a failed read's leftovers off the terminal.

    WARN: when one array of a damaged checkpoint cannot be read, orbax's
    restore fails and closes its asyncio loop while tensorstore still reads
    the others; each read that ends later calls into the closed loop, and
    Python prints its ``RuntimeError('Event loop is closed')`` with a
    traceback, dozens of times, after the clear error. Those (and nothing
    else) are dropped from here on; any other unraisable exception still
    reaches the previous hook.
    """
    previous = sys.unraisablehook
    if getattr(previous, "drops_closed_loop_noise", False):
        return

    def hook(unraisable) -> None:
        if not _is_closed_loop_noise(unraisable):
            previous(unraisable)

    hook.drops_closed_loop_noise = True
    sys.unraisablehook = hook


@contextlib.contextmanager
def _quiet_orbax():
    """Hide orbax's and tensorstore's log noise on a failed read."""
    loggers = [logging.getLogger(name) for name in ("absl", "orbax", "jax")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class Checkpoints:
    """The checkpoints of one run directory.

    Args:
        directory: ``RUN_DIR/checkpoints``.
        fingerprint: JSON-ready facts that a restored state must match.
        keep: how many of the newest checkpoints to keep.
    """

    def __init__(self, directory: str | Path, fingerprint: dict, keep: int = 3):
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an int >= 1, got {keep!r}")
        self.directory = Path(directory).absolute()
        self.fingerprint = fingerprint
        # cleanup_tmp_directories: a save cut short by a kill leaves a temporary
        # folder, never a checkpoint; it is removed when the run goes on
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=True, cleanup_tmp_directories=True
        )
        with _quiet_orbax():  # it logs an error per unreadable step metadata
            self._manager = ocp.CheckpointManager(self.directory, options=options)

    def steps(self) -> list[int]:
        """Steps with a complete checkpoint, oldest first."""
        with _quiet_orbax():
            self._manager.reload()
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any, extra: dict | None = None) -> float:
        """Save ``state`` as of ``step``; returns the seconds the caller waited.

        The arrays are copied to the host first, so the caller may donate or
        overwrite ``state`` at once; writing finishes in the background.
        ``extra`` is JSON-ready bookkeeping kept with it (:meth:`extra`).
        """
        start = time.perf_counter()
        raw = _without_empty(host_copy(state))
        leaves = jax.tree.leaves(raw)
        meta = {
            "step": int(step),
            "fingerprint": self.fingerprint,
            "jaxrl": _jaxrl_version(),
            "checksums": _checksums(leaves),
            "extra": extra or {},
        }
        self._manager.save(
            int(step),
            args=ocp.args.Composite(
                **{_STATE: ocp.args.StandardSave(raw), _META: ocp.args.JsonSave(meta)}
            ),
        )
        return time.perf_counter() - start

    def extra(self, step: int) -> dict:
        """The ``extra`` saved with the checkpoint of ``step``."""
        return self._read_meta(step).get("extra", {})

    def wait(self) -> None:
        """Block until every checkpoint started is on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.close()

    def restore_latest(self, like: Any) -> tuple[int, Any, list[str]]:
        """The newest checkpoint that passes every check.

        Args:
            like: a pytree (arrays or ``jax.ShapeDtypeStruct``) with the
                state's structure, shapes and dtypes; typed keys come back
                typed.

        Returns:
            ``(step, state, refused)``: ``state`` as NumPy arrays (typed keys
            as JAX keys), and one line per newer checkpoint that was refused.

        Raises:
            CheckpointError: no checkpoint passes; the message has one line
                per checkpoint tried.
        """
        refused = []
        for step in reversed(self.steps()):
            try:
                return step, self.restore(step, like), refused
            except CheckpointError as error:
                refused.append(str(error))
        if not refused:
            raise CheckpointError(f"no checkpoint in {self.directory}")
        raise CheckpointError("no usable checkpoint:\n  " + "\n  ".join(refused))

    def restore(self, step: int, like: Any) -> Any:
        """Restore and verify the checkpoint of ``step`` (see :meth:`restore_latest`).

        Raises:
            CheckpointError: it is unreadable, from another run or version,
                or an array's checksum differs.
        """
        where = f"checkpoint {self.directory / str(step)}"
        meta = self._read_meta(step)
        _check_meta(where, meta, self.fingerprint)
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _to_raw(like))
        abstract_kept = _without_empty(abstract)
        with _quiet_orbax():
            try:
                raw = self._manager.restore(
                    step,
                    args=ocp.args.Composite(
                        **{_STATE: ocp.args.StandardRestore(abstract_kept)}
                    ),
                )[_STATE]
            except Exception as error:  # noqa: BLE001
                _drop_closed_loop_noise()
                raise CheckpointError(
                    f"{where}: arrays unreadable ({_first_line(error)})"
                ) from None
        leaves = [np.asarray(x) for x in jax.tree.leaves(raw)]
        if _checksums(leaves) != meta.get("checksums"):
            raise CheckpointError(
                f"{where}: array checksums differ from the "
                "ones recorded when it was saved (corrupted)"
            )
        return _rebuild(raw, abstract, like)

    def _read_meta(self, step: int) -> dict:
        where = f"checkpoint {self.directory / str(step)}"
        with _quiet_orbax():
            try:
                return self._manager.restore(
                    step, args=ocp.args.Composite(**{_META: ocp.args.JsonRestore()})
                )[_META]
            except Exception as error:  # noqa: BLE001 (orbax raises many kinds)
                raise CheckpointError(
                    f"{where}: metadata unreadable ({_first_line(error)})"
                ) from None


def _check_meta(where: str, meta: dict, fingerprint: dict) -> None:
    if meta.get("jaxrl") != _jaxrl_version():
        raise CheckpointError(
            f"{where} was written by jaxrl {meta.get('jaxrl')}, this is "
            f"{_jaxrl_version()}"
        )
    if meta.get("fingerprint") != fingerprint:
        saved = meta.get("fingerprint") or {}
        differ = sorted(
            k
            for k in set(saved) | set(fingerprint)
            if saved.get(k) != fingerprint.get(k)
        )
        raise CheckpointError(
            f"{where} belongs to a different run (differs in: {', '.join(differ)})"
        )


def _rebuild(raw: Any, abstract: Any, like: Any) -> Any:
    """Put back the zero-size leaves and re-wrap typed keys."""

    def is_none(x):
        return x is None

    raw_leaves = jax.tree.leaves(raw, is_leaf=is_none)
    abstract_leaves, structure = jax.tree.flatten(abstract, is_leaf=is_none)

    def leaf(r, a):
        if a is None:  # a None field of the state (an unused part)
            return None
        return np.zeros(a.shape, a.dtype) if _is_empty(a) else np.asarray(r)

    full = jax.tree.unflatten(
        structure,
        [leaf(r, a) for r, a in zip(raw_leaves, abstract_leaves, strict=True)],
    )
    return jax.tree.map(
        lambda r, x: (
            jax.random.wrap_key_data(r, impl=_key_impl(x)) if is_typed_key(x) else r
        ),
        full,
        like,
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def _jaxrl_version() -> str:
    from jaxrl import __version__

    return __version__
