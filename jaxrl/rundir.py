"""The run directory: its files, written so that nothing is lost or half-written.

A run directory holds ``config.json`` (everything needed to rebuild and
resume the run), ``metrics.jsonl`` (one line per engine step, appended per
chunk), ``results.json`` (one schema for every algorithm; see
:func:`results_dict`), plots and ``checkpoints/``. JSON files are replaced
atomically (written beside, then renamed) and are strict JSON: NaN and
infinities never appear in them.

``metrics.jsonl`` lines are ``{"step": k, "work": w, "metrics": {name:
[one value per run]}}`` with ``k`` counted from 1, ``w`` the work each run has
done, and non-finite numbers written as the strings ``"nan"``, ``"inf"`` and
``"-inf"`` so that a resumed run reads back exactly what was written.
"""

import contextlib
import errno
import importlib.metadata
import json
import math
import os
import platform
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA_VERSION = 1
CONFIG_FILE, METRICS_FILE, RESULTS_FILE = "config.json", "metrics.jsonl", "results.json"
_PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "gymnax")


class RunDirError(ValueError):
    """A run directory cannot be created or read; the message says why."""


def check_new(path: str | Path, replace: bool = False) -> Path:
    """Check that :func:`create` can make ``path``, without making it.

    Raises:
        RunDirError: as :func:`create`.
    """
    path = Path(path)
    if path.exists():
        if not replace:
            raise RunDirError(
                f"run directory {path} already exists ({describe_existing(path)}); "
                f"use a new --out, `jaxrl resume {path}` to continue it, or "
                "--overwrite to replace it"
            )
        if not (path / CONFIG_FILE).is_file():
            raise RunDirError(
                f"{path} is not a jaxrl run directory; refusing to replace it"
            )
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise RunDirError(f"cannot create {path}: {parent} is a file")
    probe = next((p for p in path.parents if p.exists()), Path("."))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise RunDirError(f"cannot create {path}: {probe} is not writable")
    return path


def create(path: str | Path, replace: bool = False) -> Path:
    """Make a new, empty run directory (and its parents).

    Args:
        path: where.
        replace: delete an existing jaxrl run directory there first (never
            a directory that is not a jaxrl run).

    Raises:
        RunDirError: ``path`` exists already (run directories are never
            reused; ``jaxrl resume`` continues one), a parent is a file, or the
            directory cannot be made (permission, read-only filesystem); the
            message names the path and the reason.
    """
    path = check_new(path, replace)
    if replace and path.exists():
        shutil.rmtree(path)
    try:
        path.mkdir(parents=True)
    except OSError as error:
        reason = {
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.EROFS: "read-only filesystem",
            errno.ENOSPC: "no space left on device",
        }.get(error.errno, error.strerror or str(error))
        raise RunDirError(f"cannot create {path}: {reason}") from None
    return path


def describe_existing(path: Path) -> str:
    """A few words on what an existing directory holds, for error messages."""
    results = path / RESULTS_FILE
    if results.is_file():
        with contextlib.suppress(OSError, ValueError):
            return f"a run with status {json.loads(results.read_text())['status']!r}"
    if (path / CONFIG_FILE).is_file():
        return "a run that never wrote results: it failed or was killed early"
    return "not a jaxrl run" if any(path.iterdir()) else "empty"


def write_json(path: Path, data: Any) -> None:
    """Write strict JSON atomically: to a temporary file beside, then rename."""
    text = json.dumps(jsonable(data), indent=2, allow_nan=False)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def read_json(path: Path) -> dict:
    """A JSON object from ``path``.

    Raises:
        RunDirError: the file is missing, not valid JSON, or not an object.
    """
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise RunDirError(f"{path} does not exist") from None
    except json.JSONDecodeError as error:
        raise RunDirError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise RunDirError(f"{path} does not hold a JSON object")
    return data


def jsonable(value: Any) -> Any:
    """``value`` with arrays as lists and non-finite floats as ``None``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray | np.generic) or hasattr(value, "__array__"):
        return jsonable(np.asarray(value).tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def nonfinite_runs(values: np.ndarray) -> list[int]:
    """Indices of the non-finite entries of a ``(R,)`` array."""
    return np.flatnonzero(~np.isfinite(np.asarray(values, np.float64))).tolist()


# --- metrics.jsonl -----------------------------------------------------------


def _encode(value: float | int) -> float | int | str:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def append_metrics(
    path: Path, first_step: int, work_per_step: int, chunk: dict[str, np.ndarray]
) -> None:
    """Append one line per step of a chunk to ``metrics.jsonl`` and flush it
    (a killed process keeps every chunk it finished; :func:`sync` before a
    checkpoint makes the lines survive a power loss too).

    Args:
        path: the ``metrics.jsonl`` file.
        first_step: the chunk's first step, counted from 1.
        work_per_step: work one step does for one run.
        chunk: ``{name: (R, C) array}``.
    """
    names = sorted(chunk)
    lists = {name: np.asarray(chunk[name]).tolist() for name in names}
    num_steps = next(iter(chunk.values())).shape[1] if chunk else 0
    lines = []
    for t in range(num_steps):
        step = first_step + t
        values = {name: [_encode(run[t]) for run in lists[name]] for name in names}
        record = {"step": step, "work": step * work_per_step, "metrics": values}
        lines.append(json.dumps(record, allow_nan=False) + "\n")
    with open(path, "a") as file:
        file.writelines(lines)
        file.flush()


def sync(path: Path) -> None:
    """Flush ``path`` to the disk (before a checkpoint refers to its lines)."""
    if path.exists():
        with open(path, "rb") as file:
            os.fsync(file.fileno())


def read_metrics(path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Read ``metrics.jsonl`` back.

    A last line cut short by a kill is skipped with a warning; any other bad
    line, or steps that do not increase, raise ``ValueError`` naming the line.
    Values come back exactly as they were computed (as float64).

    Returns:
        ``(steps, work, metrics)``: ``(T,)`` int64 steps, ``(T,)`` float64
        work per run, and ``{name: (R, T) float64}``.
    """
    lines = [
        (i + 1, line)
        for i, line in enumerate(path.read_text().splitlines())
        if line.strip()
    ]
    records = []
    for index, (number, line) in enumerate(lines):
        try:
            record = json.loads(line)
            step, values = int(record["step"]), record["metrics"]
            # NumPy reads "nan", "inf", "-inf" and null (None) as floats.
            decoded = {k: np.asarray(v, np.float64) for k, v in values.items()}
            work = float(np.asarray(record.get("work"), np.float64))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            if index == len(lines) - 1:
                warnings.warn(
                    f"{path}: ignoring line {number}, cut short (the run was "
                    "killed while writing it?)",
                    stacklevel=3,
                )
                break
            raise ValueError(f"{path}, line {number}: not a metrics record") from None
        if records and step <= records[-1][0]:
            raise ValueError(
                f"{path}, line {number}: step {step} does not follow "
                f"step {records[-1][0]}"
            )
        records.append((step, work, decoded))
    names = list(dict.fromkeys(name for _, _, row in records for name in row))
    widths = {row[name].shape for _, _, row in records for name in row}
    if len(widths) > 1 or any(len(shape) != 1 for shape in widths):
        raise ValueError(f"{path}: metrics are not per-run lists of one length "
                         f"(shapes {sorted(widths)})")  # fmt: skip
    (num_runs,) = widths.pop() if widths else (0,)
    metrics = {name: np.full((num_runs, len(records)), np.nan) for name in names}
    for t, (_, _, row) in enumerate(records):
        for name, values in row.items():
            metrics[name][:, t] = values
    steps = np.array([r[0] for r in records], np.int64)
    return steps, np.array([r[1] for r in records], np.float64), metrics


def keep_metrics_up_to(path: Path, step: int) -> None:
    """Drop the lines after ``step`` (work that a resumed run redoes)."""
    if not path.exists():
        return
    kept = []
    with open(path) as file:
        for line in file:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                break
            if record["step"] > step:
                break
            kept.append(line)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text("".join(kept))
    os.replace(temporary, path)


# --- provenance --------------------------------------------------------------


def versions() -> dict[str, str]:
    """Versions of jaxrl, Python and the packages that change numbers."""
    found = {"jaxrl": _version("jaxrl"), "python": platform.python_version()}
    found.update({name: _version(name) for name in _PACKAGES})
    return found


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git_commit() -> str | None:
    """The commit of the jaxrl source tree, where it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None
