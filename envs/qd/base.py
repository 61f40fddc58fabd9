"""What a quality-diversity task is here, and the registry of task ids.

A task is a pure, batched ``score(genotypes, key) -> (fitness, descriptors,
extras)`` plus the facts an algorithm needs to search it: the genotype size,
the box that the descriptors live in, the genotype bounds (if any) and where
to draw the first genotypes. :class:`Task` carries all of them, so an
algorithm gets one object and knows no task by name.
"""

import dataclasses
import difflib
import inspect
import math
from collections.abc import Callable
from typing import Any

import jax

ScoreFn = Callable[[jax.Array, jax.Array], tuple[jax.Array, jax.Array, Any]]


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
    """A QD task: a batched scoring function and its search space.

    Fitness is maximised. Calling the task scores a batch::

        fitness, descriptors, extras = task(genotypes, key)

    with ``genotypes`` ``(N, genotype_dim)`` float32, ``fitness`` ``(N,)``,
    ``descriptors`` ``(N, descriptor_dim)``; ``extras`` is a pytree the task
    may fill: ``"observation"`` ``(N, O)`` (what a learned behaviour space
    encodes: the arm's link ends, the maze's path) and, where a task knows
    success, ``"is_solved"`` ``(N,)`` bool.

    Attributes:
        name: the task id (``"arm"``).
        score_fn: ``(genotypes, key) -> (fitness, descriptors, extras)``, pure.
        genotype_dim: length of one genotype.
        descriptor_low: lower corner of the descriptor box, one value an axis.
        descriptor_high: upper corner of the descriptor box.
        genotype_bounds: ``(low, high)`` for every gene, or None when the
            genotype is unbounded. Variation operators clip offspring to it
            only where it is given.
        init_bounds: the box that first genotypes are drawn from uniformly
            (``genotype_bounds`` when None).
        min_fitness: the lowest fitness (or a lower bound on it) of a
            genotype inside the bounds, or inside ``init_bounds`` for an
            unbounded genotype: the default QD-score offset, so that every
            such elite adds a non-negative amount. None when the task knows
            no such value (offset 0).
    """

    name: str
    score_fn: ScoreFn
    genotype_dim: int
    descriptor_low: tuple[float, ...]
    descriptor_high: tuple[float, ...]
    genotype_bounds: tuple[float, float] | None = None
    init_bounds: tuple[float, float] | None = None
    min_fitness: float | None = None

    def __post_init__(self):
        if not isinstance(self.genotype_dim, int) or self.genotype_dim < 1:
            raise ValueError(
                f"Task.genotype_dim must be an int >= 1, got {self.genotype_dim!r}"
            )
        low, high = tuple(self.descriptor_low), tuple(self.descriptor_high)
        if not low or len(low) != len(high):
            raise ValueError(
                "Task.descriptor_low and descriptor_high must be non-empty and of "
                f"the same length, got {low} and {high}"
            )
        if not all(math.isfinite(a) and math.isfinite(b) and a < b
                   for a, b in zip(low, high, strict=True)):  # fmt: skip
            raise ValueError(
                f"Task descriptor bounds must be finite with low < high, got "
                f"{low} and {high}"
            )
        for name in ("genotype_bounds", "init_bounds"):
            value = getattr(self, name)
            if value is not None and not (
                len(value) == 2
                and all(math.isfinite(v) for v in value)
                and value[0] < value[1]
            ):
                raise ValueError(
                    f"Task.{name} must be None or (low, high) with low < high, "
                    f"got {value!r}"
                )
        if self.genotype_bounds is None and self.init_bounds is None:
            raise ValueError(
                "an unbounded task (genotype_bounds=None) needs init_bounds, the "
                "box its first genotypes are drawn from"
            )
        object.__setattr__(self, "descriptor_low", tuple(map(float, low)))
        object.__setattr__(self, "descriptor_high", tuple(map(float, high)))

    @property
    def descriptor_dim(self) -> int:
        return len(self.descriptor_low)

    @property
    def initial_bounds(self) -> tuple[float, float]:
        """The box first genotypes are drawn from."""
        return self.init_bounds or self.genotype_bounds  # type: ignore[return-value]

    def __call__(self, genotypes: jax.Array, key: jax.Array):
        return self.score_fn(genotypes, key)


_FACTORIES: dict[str, Callable[..., Task]] = {}


def register_task(task_id: str, factory: Callable[..., Task]) -> None:
    """Make ``make_task(task_id, **kwargs)`` call ``factory(**kwargs)``.

    Raises:
        ValueError: the id is taken.
    """
    if task_id in _FACTORIES:
        raise ValueError(f"task {task_id!r} is already registered")
    _FACTORIES[task_id] = factory


def task_ids() -> list[str]:
    """Registered task ids, in registration order."""
    return list(_FACTORIES)


def make_task(task_id: str, **kwargs) -> Task:
    """Build a registered task by id (``"arm"``, ``"sphere"``, ``"rastrigin"``).

    Every task here takes ``genotype_dim`` (the arm's number of joints, the
    functions' dimension).

    Raises:
        ValueError: unknown id (the message lists the known ones and the
            closest match).
        TypeError: a keyword the task does not take.
    """
    return _factory(task_id)(**kwargs)


def default_genotype_dim(task_id: str) -> int | None:
    """The genotype size ``make_task(task_id)`` builds when given none (the
    arm's 100 joints, the hard maze's 67 genes, ...), read off the factory's
    signature without building the task; None when the factory has no
    default ``genotype_dim``.

    Raises:
        ValueError: unknown id (the message lists the known ones).
    """
    parameter = inspect.signature(_factory(task_id)).parameters.get("genotype_dim")
    if parameter is None or not isinstance(parameter.default, int):
        return None
    return parameter.default


def _factory(task_id: str) -> Callable[..., Task]:
    if task_id not in _FACTORIES:
        close = difflib.get_close_matches(task_id, list(_FACTORIES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown QD task {task_id!r}{hint}; known: {', '.join(_FACTORIES)}"
        )
    return _FACTORIES[task_id]
