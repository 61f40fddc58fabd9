"""MAP-Elites' static ``Config`` (sizes, archive, emitter) and traced ``HParams``."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.algos.map_elites.emitters import parse_emitter_spec, split_counts
from jaxrl.program import check_field_types, check_ranges

TASK = "task"  # the value of a field that the task decides
TASK_GENOTYPE_DIM = 0  # Config.genotype_dim that takes the task's own size


@dataclasses.dataclass(frozen=True)
class Config:
    """Static MAP-Elites settings: changing any of these recompiles.

    Defaults follow the 100-DoF arm benchmark of the project's reference
    table (100 x 100 grid, Iso+LineDD, batch 1,024, about 1M evaluations).
    ``genotype_dim`` 0 takes the task's own size (the arm's 100 joints, the
    hard maze's 67 genes). ``descriptor_low``, ``descriptor_high`` and
    ``qd_offset`` take a number or ``"task"``;
    :func:`jaxrl.algos.map_elites.make_program` replaces 0 and ``"task"`` by
    the task's values in the config it records, so run directories show the
    numbers used.
    """

    genotype_dim: int = 0  # genes per genotype; 0: the task's own (arm 100, maze 67)
    batch_size: int = 1024  # offspring evaluated per iteration
    num_iterations: int = 1000  # iterations after the first batch
    archive: str = "grid"  # "grid" or "cvt"
    grid_cells: int = 100  # grid archive: cells per descriptor axis
    num_centroids: int = 1024  # cvt archive: number of cells
    cvt_samples: int = 50_000  # cvt archive: uniform samples for k-means
    cvt_iterations: int = 30  # cvt archive: Lloyd iterations
    cvt_seed: int = 0  # cvt archive: seed of the samples (same cells every run)
    descriptor_low: float | str = TASK  # number for every axis, or "task"
    descriptor_high: float | str = TASK  # number for every axis, or "task"
    emitter: str = "iso_line"  # an emitter, or a mix like "iso_line:0.5,sbx:0.5"
    qd_offset: float | str = TASK  # qd_score = sum(fitness - offset); "task": its min

    def __post_init__(self):
        check_field_types(self)
        check_genotype_dim(self)
        positive = (
            "batch_size", "num_iterations", "grid_cells", "num_centroids",
            "cvt_samples", "cvt_iterations",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Config.{name} must be an int >= 1, got {value!r}")
        if self.archive not in ("grid", "cvt"):
            raise ValueError(
                f"Config.archive must be 'grid' or 'cvt', got {self.archive!r}"
            )
        if self.archive == "cvt" and self.num_centroids > self.cvt_samples:
            raise ValueError(
                f"Config.num_centroids ({self.num_centroids}) must not exceed "
                f"Config.cvt_samples ({self.cvt_samples})"
            )
        if not isinstance(self.cvt_seed, int) or self.cvt_seed < 0:
            raise ValueError(
                f"Config.cvt_seed must be an int >= 0, got {self.cvt_seed!r}"
            )
        for name in ("descriptor_low", "descriptor_high", "qd_offset"):
            number_or_task(self, name)
        low, high = (
            number_or_task(self, "descriptor_low"),
            number_or_task(self, "descriptor_high"),
        )
        if low is not None and high is not None and not low < high:
            raise ValueError(
                f"Config.descriptor_low ({low}) must be below descriptor_high ({high})"
            )
        try:
            parts = parse_emitter_spec(self.emitter)
            split_counts(tuple(w for _, w in parts), self.batch_size)
        except ValueError as error:
            raise ValueError(f"Config.emitter: {error}") from None

    @property
    def num_evaluations(self) -> int:
        """Evaluations in a run: the first batch and one batch an iteration."""
        return self.batch_size * (self.num_iterations + 1)


def check_genotype_dim(config) -> None:
    """Raise ``ValueError`` unless ``config.genotype_dim`` is an int >= 0
    (0: the task's own size, filled in when the program is built)."""
    value = config.genotype_dim
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(
            f"Config.genotype_dim must be an int >= 0 (0: the task's own size), "
            f"got {value!r}"
        )


def make_task_for(task_id: str, genotype_dim: int):
    """The registered QD task ``task_id`` with ``genotype_dim`` genes; with
    ``TASK_GENOTYPE_DIM`` (0), at the task's own default size (what
    ``jaxrl train ALGO --task ID`` builds).

    Raises:
        ValueError: an unknown task, a task with no size of its own while
            ``genotype_dim`` is 0, or a size the task cannot take (the
            message names ``Config.genotype_dim`` and the task's own size).
    """
    from jaxrl.envs import qd

    own = qd.default_genotype_dim(task_id)  # raises for an unknown id
    if genotype_dim == TASK_GENOTYPE_DIM:
        if own is None:
            raise ValueError(
                f"task {task_id!r} has no genotype size of its own: set "
                "Config.genotype_dim (--genotype-dim)"
            )
        return qd.make_task(task_id)
    try:
        return qd.make_task(task_id, genotype_dim=genotype_dim)
    except ValueError as error:
        hint = "" if own is None else f" (0, the default, takes its own: {own})"
        raise ValueError(
            f"Config.genotype_dim (--genotype-dim) {genotype_dim} does not fit "
            f"task {task_id!r}{hint}: {error}"
        ) from None


def number_or_task(config: Config, name: str) -> float | None:
    """The field as a finite float, or None when it is ``"task"``.

    Raises:
        ValueError: neither a finite number nor ``"task"``.
    """
    value = getattr(config, name)
    if isinstance(value, str):
        if value == TASK:
            return None
        try:
            value = float(value)
        except ValueError:
            value = math.nan
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(
            f"Config.{name} must be a finite number or 'task', got "
            f"{getattr(config, name)!r}"
        )
    return float(value)


@struct.dataclass
class HParams:
    """Traced emitter hyperparameters: vmap over any of them in one compilation.

    Iso+LineDD's defaults are those of the 100-DoF arm benchmark in the
    project's reference table (QDax's brax examples use the same); the
    polynomial operators' distribution indices are NSGA-II's (Deb et al.
    2002); the rest are plain choices of ours.
    """

    sigma_iso: float = 0.005  # traced: Iso+LineDD isotropic noise (x gene range)
    sigma_line: float = 0.05  # traced: Iso+LineDD noise along x_j - x_i
    mutation_sigma: float = 0.05  # traced: Gaussian mutation step (x gene range)
    eta_mutation: float = 20.0  # traced: polynomial mutation index (larger: smaller)
    mutation_rate: float = 0.1  # traced: polynomial mutation, share of genes
    eta_crossover: float = 20.0  # traced: SBX index (larger: closer to parents)
    crossover_rate: float = 0.5  # traced: uniform crossover, share from parent 2


_HPARAM_RANGES = {
    "sigma_iso": (0.0, math.inf, True),
    "sigma_line": (0.0, math.inf, True),
    "mutation_sigma": (0.0, math.inf, True),
    "eta_mutation": (0.0, math.inf, True),
    "mutation_rate": (0.0, 1.0, True),
    "eta_crossover": (0.0, math.inf, True),
    "crossover_rate": (0.0, 1.0, True),
}


def check_hparams(hparams: HParams) -> None:
    """Raise ``ValueError`` naming any field outside its allowed range.

    Works on scalars and on swept arrays; traced values are not checked.
    """
    check_ranges(hparams, _HPARAM_RANGES)


def descriptor_box(config, task) -> tuple[tuple[float, ...], ...]:
    """``(low, high)`` per descriptor axis: the config's numbers where set,
    else the task's own bounds.

    Raises:
        ValueError: an axis whose low is not below its high.
    """
    k = task.descriptor_dim
    low = number_or_task(config, "descriptor_low")
    high = number_or_task(config, "descriptor_high")
    low = task.descriptor_low if low is None else (low,) * k
    high = task.descriptor_high if high is None else (high,) * k
    if not all(a < b for a, b in zip(low, high, strict=True)):
        raise ValueError(f"descriptor bounds need low < high, got {low} and {high}")
    return tuple(low), tuple(high)


def as_task(task, config, genotype_bounds, init_bounds):
    """A :class:`jaxrl.envs.qd.Task` as is; a bare ``score`` function wrapped
    in one (its descriptor size read off one evaluation's shapes).

    Raises:
        ValueError: ``config.genotype_dim`` is neither 0 nor the task's
            size, or is 0 with a bare score function (which has no size).
    """
    from jaxrl.envs.qd import Task

    if isinstance(task, Task):
        if config.genotype_dim not in (TASK_GENOTYPE_DIM, task.genotype_dim):
            raise ValueError(
                f"Config.genotype_dim is {config.genotype_dim} but the task "
                f"{task.name!r} has genotype_dim {task.genotype_dim} (0 takes "
                "the task's own)"
            )
        return task
    if not callable(task):
        raise TypeError(f"task must be a Task or a score function, got {task!r}")
    if config.genotype_dim == TASK_GENOTYPE_DIM:
        raise ValueError(
            "a bare score function has no genotype size of its own: set "
            "Config.genotype_dim to the length of one genotype"
        )
    low = number_or_task(config, "descriptor_low")
    high = number_or_task(config, "descriptor_high")
    if low is None or high is None:
        raise ValueError(
            "a bare score function has no descriptor bounds of its own: set "
            "Config.descriptor_low and descriptor_high to numbers (they bound "
            "the archive and the coverage grid)"
        )
    shapes = jax.eval_shape(
        task,
        jax.ShapeDtypeStruct((2, config.genotype_dim), jnp.float32),
        jax.eval_shape(jax.random.key, 0),
    )
    k = shapes[1].shape[-1]
    return Task(
        name=getattr(task, "__name__", "custom"),
        score_fn=task,
        genotype_dim=config.genotype_dim,
        descriptor_low=(low,) * k,
        descriptor_high=(high,) * k,
        genotype_bounds=genotype_bounds,
        init_bounds=init_bounds,
    )
