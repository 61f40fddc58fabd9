"""NS-ES's static ``Config`` (sizes, variant, archive) and traced ``HParams``."""

import dataclasses
import math

from flax import struct

from jaxrl.algos.map_elites.config import TASK, check_genotype_dim, number_or_task
from jaxrl.program import check_field_types, check_ranges

VARIANTS = ("ns-es", "nsr-es")
MAX_COVERAGE_CELLS = 10_000_000  # the coverage grid is a (cells,) float32 array


@dataclasses.dataclass(frozen=True)
class Config:
    """Static NS-ES settings: changing any of these recompiles.

    One generation evaluates ``2 * num_pairs`` perturbations of one member of
    the meta-population and then the updated member itself. Defaults: the
    task's own genotype size (``genotype_dim`` 0: the hard maze's 67-gene
    controller by default); Conti et al. (2018): a meta-population
    of 5 (their Humanoid runs), 1,000 episodes a batch (500 antithetic pairs)
    and k = 10. ``descriptor_low``, ``descriptor_high`` and ``qd_offset``
    take a number or ``"task"``, as in MAP-Elites; they only shape the
    coverage grid and the QD score (novelty needs no box).
    """

    genotype_dim: int = 0  # genes per genotype; 0: the task's own (maze 67, arm 100)
    variant: str = "ns-es"  # "ns-es" (novelty) or "nsr-es" (novelty + reward)
    meta_population_size: int = 5  # M: parameter vectors searched in turn
    num_pairs: int = 500  # n: antithetic pairs a generation (2n evaluations)
    num_iterations: int = 1000  # generations (one Adam step each)
    archive_capacity: int = 2048  # novelty archive slots (a ring buffer)
    num_neighbours: int = 10  # k of novelty (Conti et al.)
    coverage_cells: int = 100  # coverage grid: cells per descriptor axis
    descriptor_low: float | str = TASK  # coverage box: number for every axis, or "task"
    descriptor_high: float | str = TASK  # coverage box: number, or "task"
    qd_offset: float | str = TASK  # qd_score = sum(fitness - offset); "task": its min

    def __post_init__(self):
        check_field_types(self)
        check_genotype_dim(self)
        positive = (
            "meta_population_size", "num_pairs", "num_iterations",
            "archive_capacity", "num_neighbours", "coverage_cells",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"Config.{name} must be an int >= 1, got {value!r}")
        if self.variant not in VARIANTS:
            raise ValueError(
                f"Config.variant must be 'ns-es' or 'nsr-es', got {self.variant!r}"
            )
        if self.meta_population_size > self.archive_capacity:
            raise ValueError(
                f"Config.meta_population_size ({self.meta_population_size}) must "
                f"not exceed archive_capacity ({self.archive_capacity}): every "
                "member's descriptor starts in the archive"
            )
        for name in ("descriptor_low", "descriptor_high", "qd_offset"):
            number_or_task(self, name)
        low = number_or_task(self, "descriptor_low")
        high = number_or_task(self, "descriptor_high")
        if low is not None and high is not None and not low < high:
            raise ValueError(
                f"Config.descriptor_low ({low}) must be below descriptor_high ({high})"
            )

    @property
    def batch_size(self) -> int:
        """Evaluations a generation: the ``2n`` perturbations and the update."""
        return 2 * self.num_pairs + 1

    @property
    def num_evaluations(self) -> int:
        """Evaluations in a run: the first meta-population and every generation."""
        return self.meta_population_size + self.batch_size * self.num_iterations


@struct.dataclass
class HParams:
    """Traced hyperparameters: vmap over any of them in one compilation.

    Defaults are Conti et al.'s (``uber-research/deep-neuroevolution``):
    Adam with step size 0.01 on ``-g + weight_decay * theta`` (their
    ``l2coeff`` 0.005) and noise standard deviation 0.02; Adam's moments are
    optax's defaults (0.9, 0.999, eps 1e-8), as in that code.
    """

    learning_rate: float = 0.01  # traced: Adam step size
    sigma: float = 0.02  # traced: perturbation standard deviation
    weight_decay: float = 0.005  # traced: L2 coefficient added to -g


_HPARAM_RANGES = {
    "learning_rate": (0.0, math.inf, False),
    "sigma": (0.0, math.inf, False),
    "weight_decay": (0.0, math.inf, True),
}


def check_hparams(hparams: HParams) -> None:
    """Raise ``ValueError`` naming any field outside its allowed range.

    Works on scalars and on swept arrays; traced values are not checked.
    """
    check_ranges(hparams, _HPARAM_RANGES)
