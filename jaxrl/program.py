"""What an algorithm hands the experiment engine: a :class:`Program`.

A program is a pure ``init(key, hparams) -> state`` and a pure
``step(state, hparams) -> (state, metrics)``, the number of steps a run takes
and how much work one step does. :func:`scan_program` runs it in one
``lax.scan`` (the notebook path, ``make_train``); ``jaxrl.run`` runs the same
program in chunks with checkpoints, progress and a run directory. Both call
the same ``step``, so they give the same numbers.
"""

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


class Curve(NamedTuple):
    """A learning curve the engine plots and ``jaxrl report`` overlays.

    ``weight`` names a metric holding how many samples each step's value
    averages (e.g. episodes ended); steps with weight 0 have no value.
    """

    metric: str
    label: str
    weight: str | None = None


@dataclasses.dataclass(frozen=True)
class Program:
    """One algorithm run, as the engine sees it.

    Attributes:
        init: ``(key, hparams) -> state``, pure; ``state`` a pytree of arrays.
        step: ``(state, hparams) -> (state, metrics)``, pure; ``metrics`` a
            pytree of scalars (``()`` arrays) describing this step.
        num_steps: steps in a whole run.
        work_per_step: work one step does for one run, in ``work_unit``.
        work_unit: ``"env steps"``, ``"evaluations"`` or ``"trajectories"``.
        final: host-side ``(history) -> {name: (R,) array}``: the run's final
            scores from the whole metrics history (``{name: (R, T) array}``,
            dotted names as in :func:`flatten_metrics`).
        primary: the headline final metric (progress bar, reports).
        curves: what to plot against work.
        lower_is_better: final metrics where lower is better.
        is_healthy: ``state -> () bool``, False once a run has diverged;
            default: every floating leaf of the state is finite.
        check_hparams: ``hparams -> None`` raising ``ValueError`` naming a
            field out of range; ``jaxrl.run`` calls it on every setting before
            compiling.
        description: JSON-ready facts naming the run (algorithm, target,
            config), written into ``config.json`` and checked on resume.
        artifacts: host-side ``(state, run_dir) -> [paths written]``, called
            once when a run that writes files ends (not failed), with the
            final state (every leaf with the run axis first): files a
            program adds to its run directory (a distribution, a picture).
    """

    init: Callable[[jax.Array, Any], Any]
    step: Callable[[Any, Any], tuple[Any, Any]]
    num_steps: int
    work_per_step: int
    work_unit: str
    final: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
    primary: str
    curves: tuple[Curve, ...] = ()
    lower_is_better: tuple[str, ...] = ()
    is_healthy: Callable[[Any], jax.Array] | None = None
    check_hparams: Callable[[Any], None] | None = None
    description: dict = dataclasses.field(default_factory=dict)
    artifacts: Callable[[Any, Path], list[Path]] | None = None

    def __post_init__(self):
        for name in ("num_steps", "work_per_step"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Program.{name} must be an int >= 1, got {value!r}")
        if not callable(self.init) or not callable(self.step):
            raise TypeError("Program.init and Program.step must be callable")


@struct.dataclass
class TrainOutput:
    """What a scanned program returns: the final state and the metrics
    history (every leaf with a leading ``[num_steps]`` axis)."""

    state: Any
    metrics: Any


def last_values(names) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """A ``Program.final``: the last step's value of each metric in ``names``.

    The function returned maps ``{name: (R, T) array}`` to ``{name: (R,)}``
    for every name in ``names`` that the history holds (the QD programs'
    rule: their metrics are already running totals or best-so-far values).
    """
    names = tuple(names)

    def final(history: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {
            name: np.asarray(history[name])[:, -1] for name in names if name in history
        }

    return final


def scan_program(
    program: Program, default_hparams: Any = None
) -> Callable[..., TrainOutput]:
    """The whole program in one ``lax.scan``: ``train(key, hparams)``.

    Pure, jit- and vmap-able; ``jax.jit(jax.vmap(train, in_axes=(0, None)))``
    runs many seeds in one compilation. ``hparams`` defaults to
    ``default_hparams``; concrete values go through ``program.check_hparams``
    (traced ones cannot be checked and pass).

    WARN: compiled in one piece with ``init``, XLA may round a few float
    operations differently from ``jaxrl.run`` (which compiles ``init`` and
    the loop apart), so the two agree to float rounding, not bit for bit.
    ``jaxrl.run`` agrees bit for bit with itself whatever the chunk size,
    and with a resumed run.
    """

    def train(key: jax.Array, hparams: Any = None) -> TrainOutput:
        hparams = default_hparams if hparams is None else hparams
        if hparams is None:
            raise TypeError("train needs hparams (this program has no default)")
        if program.check_hparams is not None:
            program.check_hparams(hparams)
        state = program.init(key, hparams)
        state, metrics = jax.lax.scan(
            lambda s, _: program.step(s, hparams), state, length=program.num_steps
        )
        return TrainOutput(state=state, metrics=metrics)

    return train


def check_field_types(config: Any) -> None:
    """Raise ``ValueError`` for a dataclass field whose value is not of its
    annotated type (``bool``, ``int``, ``float`` or ``str``).

    ``bool`` is not accepted for ``int`` or ``float`` (nor ``int`` for
    ``bool``), so ``"false"`` or ``1`` never silently become a switch; an
    ``int`` is accepted for a ``float``.
    """
    hints = {f.name: f.type for f in dataclasses.fields(config)}
    for name, kind in hints.items():
        kind = {"bool": bool, "int": int, "float": float, "str": str}.get(kind, kind)
        value = getattr(config, name)
        if kind is bool:
            ok = isinstance(value, bool | np.bool_)
        elif kind is int:
            ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, int | float | np.integer | np.floating)
            ok = ok and not isinstance(value, bool)
        elif kind is str:
            ok = isinstance(value, str)
        else:
            continue
        if not ok:
            article = "an" if kind is int else "a"
            raise ValueError(
                f"{type(config).__name__}.{name} must be {article} {kind.__name__}, "
                f"got {type(value).__name__} {value!r}"
            )


def check_ranges(hparams: Any, ranges: dict[str, tuple]) -> None:
    """Raise ``ValueError`` naming the first field of ``hparams`` outside its range.

    Args:
        hparams: a dataclass of numbers or arrays (a swept batch is fine);
            traced values (inside ``jit``) cannot be checked and pass.
        ranges: ``{field: (low, high, low_included)}``; ``high`` is included,
            and every value must be finite.
    """
    for name, (low, high, low_included) in ranges.items():
        value = getattr(hparams, name)
        if isinstance(value, jax.core.Tracer):
            continue
        array = np.asarray(value, dtype=np.float64)
        above_low = array >= low if low_included else array > low
        if not (np.all(np.isfinite(array)) and np.all(above_low & (array <= high))):
            opening = "[" if low_included else "("
            closing = "]" if math.isfinite(high) else ")"  # values must be finite
            raise ValueError(
                f"{type(hparams).__name__}.{name} must be in "
                f"{opening}{low}, {high}{closing}, got {value!r}"
            )


def all_finite(tree: Any) -> jax.Array:
    """() bool: every inexact (float or complex) leaf of ``tree`` is finite."""
    checks = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree.leaves(tree)
        if hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    return jnp.all(jnp.stack(checks)) if checks else jnp.bool_(True)


def flatten_metrics(metrics: Any) -> dict[str, Any]:
    """A metrics pytree as ``{dotted name: leaf}`` (``"loss.policy"``).

    NamedTuple and dataclass fields, dict keys and sequence indices make the
    name's parts; leaves that are ``None`` are left out.
    """
    flat, _ = jax.tree_util.tree_flatten_with_path(metrics)
    return {".".join(_key_name(k) for k in path): leaf for path, leaf in flat}


def _key_name(key) -> str:
    for attribute in ("name", "key", "idx"):
        if hasattr(key, attribute):
            return str(getattr(key, attribute))
    return str(key)
