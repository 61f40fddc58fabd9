"""Seeds x settings: the batch of runs that one compiled program trains.

Run ``r`` is setting ``r // num_seeds`` with seed ``seeds[r % num_seeds]``;
every setting sees the same seeds (the same keys), so settings are compared
on common random numbers.
"""

import dataclasses
import itertools
import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

MAX_SEED = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class RunLayout:
    """Which seed and which setting each run of the batch has.

    Attributes:
        seeds: the distinct seeds, in order.
        settings: hyperparameter overrides, one dict per setting; ``({},)``
            without a sweep.
    """

    seeds: tuple[int, ...]
    settings: tuple[dict, ...] = ({},)

    @property
    def num_runs(self) -> int:
        return len(self.seeds) * len(self.settings)

    def runs(self) -> list[dict]:
        """``[{"seed": s, "setting": i}, ...]`` in run order."""
        return [
            {"seed": seed, "setting": i}
            for i in range(len(self.settings))
            for seed in self.seeds
        ]

    def labels(self) -> list[str]:
        """A short label per setting: ``"lr=0.001 ent_coef=0"`` (``""`` if none)."""
        return [
            " ".join(
                f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in setting.items()
            )
            for setting in self.settings
        ]

    def key_data(self) -> np.ndarray:
        """``(R, ...)`` uint32 raw keys, ``jax.random.key(seed)`` per run."""
        per_seed = np.stack(
            [np.asarray(jax.random.key_data(jax.random.key(s))) for s in self.seeds]
        )
        return np.concatenate([per_seed] * len(self.settings))

    def batched_hparams(self, hparams: Any) -> Any:
        """``hparams`` with every leaf a ``(R,)`` array, the settings applied."""
        names = [f.name for f in dataclasses.fields(hparams)]
        columns = {}
        for name in names:
            base = np.asarray(getattr(hparams, name))
            values = [np.asarray(s.get(name, base), base.dtype) for s in self.settings]
            columns[name] = np.repeat(np.stack(values), len(self.seeds), axis=0)
        return hparams.replace(**columns)


def make_layout(
    seeds: int | Sequence[int], sweep: dict | None, hparams: Any, first_seed: int = 0
) -> RunLayout:
    """Check ``seeds`` and ``sweep`` and lay out the runs.

    Args:
        seeds: a number of seeds (``first_seed``, ``first_seed + 1``, ...)
            or the seeds themselves.
        sweep: ``{hparams field: [values]}``; the grid of every combination
            is run, each with every seed. ``None`` or ``{}``: no sweep.
        hparams: the base hyperparameters (a flax struct dataclass).
        first_seed: the first seed when ``seeds`` is a number.

    Raises:
        ValueError: a seed outside ``[0, 2**31 - 1]``, repeated seeds, no
            seeds, a swept name that is not a traced field, or an empty or
            non-numeric list of values; the message names the problem.
    """
    if isinstance(seeds, bool):
        raise ValueError(f"seeds must be a count or a list of ints, got {seeds!r}")
    if isinstance(seeds, int | np.integer):
        if seeds < 1:
            raise ValueError(f"the number of seeds must be >= 1, got {seeds}")
        seeds = range(first_seed, first_seed + int(seeds))
    seeds = tuple(seeds)
    if not seeds:
        raise ValueError("at least one seed is needed")
    for seed in seeds:
        if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
            raise ValueError(f"seeds must be ints, got {seed!r}")
        if not 0 <= seed <= MAX_SEED:
            raise ValueError(
                f"seed {seed} is outside [0, {MAX_SEED}]: larger seeds would be "
                "truncated by jax.random.key"
            )
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct, got {list(seeds)}")
    return RunLayout(tuple(int(s) for s in seeds), sweep_settings(sweep, hparams))


def sweep_settings(sweep: dict | None, hparams: Any) -> tuple[dict, ...]:
    """Every combination of the swept values, the first name varying slowest."""
    if not sweep:
        return ({},)
    fields = [f.name for f in dataclasses.fields(hparams)]
    for name, values in sweep.items():
        if name not in fields:
            raise ValueError(
                f"cannot sweep {name!r}: it is not a traced hyperparameter of "
                f"{type(hparams).__name__} ({', '.join(fields)}); static Config "
                "fields change shapes and need a run each"
            )
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise ValueError(f"sweep {name!r} needs a list of values, got {values!r}")
        if not values:
            raise ValueError(f"sweep {name!r} has no values")
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(
                    f"sweep {name!r}: values must be numbers, got {value!r}"
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"sweep {name!r}: {value} is not finite")
    names = list(sweep)
    return tuple(
        dict(zip(names, combo, strict=True))
        for combo in itertools.product(*(sweep[n] for n in names))
    )


def parse_sweep(items: Sequence[str]) -> dict[str, list[float]]:
    """``["lr=1e-4,3e-4", "ent_coef=0,0.01"]`` -> ``{"lr": [...], ...}``.

    Raises:
        ValueError: an item without ``=``, a repeated name, or a value that
            is not a number.
    """
    sweep: dict[str, list[float]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name or not text.strip():
            raise ValueError(f"--sweep takes NAME=V1,V2,..., got {item!r}")
        if name in sweep:
            raise ValueError(f"--sweep names {name!r} twice")
        try:
            sweep[name] = [float(v) for v in text.split(",")]
        except ValueError:
            raise ValueError(
                f"--sweep {name}: values must be numbers, got {text!r}"
            ) from None
    return sweep
