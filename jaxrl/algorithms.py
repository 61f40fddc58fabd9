"""The algorithm registry: what ``jaxrl train ALGO`` and ``jaxrl resume`` know.

An algorithm registers once, with its static ``Config`` and traced
``HParams`` dataclasses and a ``make_program(config, target) -> Program``;
the command line then has ``jaxrl train NAME`` with a flag per field, and
``jaxrl resume`` can rebuild its program from a run directory. jaxrl's own
algorithms register when their package is imported; another package can
register through the ``jaxrl.algorithms`` entry-point group (the entry point
is a module that calls :func:`register` on import).
"""

import dataclasses
import importlib
import importlib.metadata
from collections.abc import Callable
from typing import Any

from jaxrl.program import Program

_BUILTIN_MODULES = (
    "jaxrl.algos.ppo",
    "jaxrl.algos.gflownet",
    "jaxrl.algos.map_elites",
    "jaxrl.algos.novelty_search",
    "jaxrl.algos.ns_es",
    "jaxrl.algos.aurora",
    "jaxrl.algos.serene",
)
_ALGORITHMS: dict[str, "Algorithm"] = {}
_loaded = False


@dataclasses.dataclass(frozen=True)
class Algorithm:
    """One trainable algorithm, as the command line and ``resume`` see it.

    Attributes:
        name: the command name (``"ppo"``).
        summary: one line for ``jaxrl train --help``.
        config_type: frozen dataclass of static settings (every field a flag).
        hparams_type: flax struct dataclass of traced hyperparameters (every
            field a flag, and sweepable).
        make_program: ``(config, target) -> Program``; raises ``ValueError``
            or ``TypeError`` for a target it cannot run on.
        target_kind: what the target is: ``"env"`` or ``"task"`` (the flag).
        default_target: the target when none is given.
    """

    name: str
    summary: str
    config_type: type
    hparams_type: type
    make_program: Callable[[Any, str], Program]
    target_kind: str = "env"
    default_target: str | None = None


def register(algorithm: Algorithm, *, overwrite: bool = False) -> None:
    """Add ``algorithm`` to the registry.

    Raises:
        ValueError: the name is taken (and ``overwrite`` is False), or the
            target kind is not ``"env"`` or ``"task"``.
    """
    if algorithm.target_kind not in ("env", "task"):
        raise ValueError(
            f"target_kind must be 'env' or 'task', got {algorithm.target_kind!r}"
        )
    if algorithm.name in _ALGORITHMS and not overwrite:
        raise ValueError(f"algorithm {algorithm.name!r} is already registered")
    _ALGORITHMS[algorithm.name] = algorithm


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    for entry in importlib.metadata.entry_points(group="jaxrl.algorithms"):
        entry.load()


def names() -> list[str]:
    """Registered algorithm names, in registration order."""
    _load()
    return list(_ALGORITHMS)


def get(name: str) -> Algorithm:
    """The algorithm called ``name``.

    Raises:
        ValueError: no such algorithm; the message lists the known ones.
    """
    _load()
    if name not in _ALGORITHMS:
        raise ValueError(
            f"unknown algorithm {name!r}; known: {', '.join(_ALGORITHMS) or 'none'}"
        )
    return _ALGORITHMS[name]


def program_from_config(saved: dict) -> Program:
    """Rebuild a run's program from its ``config.json`` (for ``resume``).

    Raises:
        ValueError: the run's algorithm is not registered here.
    """
    algorithm = get(saved["algorithm"])
    config = algorithm.config_type(**saved["config"])
    return algorithm.make_program(config, saved["target"])
