"""Novelty search's static ``Config`` (sizes, variant, archive) and traced
``HParams``."""

import dataclasses
import math

from flax import struct

from jaxrl.algos.map_elites.config import TASK, check_genotype_dim, number_or_task
from jaxrl.algos.map_elites.emitters import parse_emitter_spec, split_counts
from jaxrl.algos.novelty_search.novelty_search import INSERTIONS, VARIANTS
from jaxrl.program import check_field_types, check_ranges

MAX_COVERAGE_CELLS = 10_000_000  # the coverage grid is a (cells,) bool array


@dataclasses.dataclass(frozen=True)
class Config:
    """Static novelty-search settings: changing any of these recompiles.

    ``descriptor_low`` and ``descriptor_high`` bound the coverage grid (the
    ``coverage`` metrics only; novelty itself needs no box) and take a number
    or ``"task"``, as in MAP-Elites, and ``genotype_dim`` 0 takes the task's
    own size; :func:`make_program` records the values used. Defaults:
    Lehman & Stanley's k = 15; the 100-DoF arm, population
    and batch 256, and Iso+LineDD with ring insertion, which covered more of
    the arm's descriptor box than a Gaussian step or a threshold archive in
    our runs (see the README).
    """

    genotype_dim: int = 0  # genes per genotype; 0: the task's own (arm 100, maze 67)
    variant: str = "ns"  # "ns" (novelty) or "nslc" (novelty + local competition)
    population_size: int = 256  # individuals kept each generation
    batch_size: int = 256  # offspring evaluated per iteration
    num_iterations: int = 1000  # iterations after the first population
    archive_capacity: int = 4096  # novelty archive slots
    insertion: str = "ring"  # "ring" or "threshold"
    ring_insertions: int = 16  # ring insertion: most novel offspring added per batch
    num_neighbours: int = 15  # k of novelty and local competition (Lehman & Stanley)
    threshold_patience: int = 10  # generations without insertion before it shrinks
    threshold_burst: int = 4  # insertions in one generation that raise it
    emitter: str = "iso_line"  # a MAP-Elites emitter, or a mix like "iso_line:1,sbx:1"
    coverage_cells: int = 100  # coverage grid: cells per descriptor axis
    descriptor_low: float | str = TASK  # coverage box: number for every axis, or "task"
    descriptor_high: float | str = TASK  # coverage box: number, or "task"

    def __post_init__(self):
        check_field_types(self)
        check_genotype_dim(self)
        positive = (
            "population_size", "batch_size", "num_iterations", "archive_capacity",
            "ring_insertions", "num_neighbours", "threshold_patience",
            "threshold_burst", "coverage_cells",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"Config.{name} must be an int >= 1, got {value!r}")
        if self.variant not in VARIANTS:
            raise ValueError(
                f"Config.variant must be 'ns' or 'nslc', got {self.variant!r}"
            )
        if self.insertion not in INSERTIONS:
            raise ValueError(
                f"Config.insertion must be 'threshold' or 'ring', got "
                f"{self.insertion!r}"
            )
        # the first population is inserted like a batch
        limit = min(self.batch_size, self.population_size, self.archive_capacity)
        if self.insertion == "ring" and self.ring_insertions > limit:
            raise ValueError(
                f"Config.ring_insertions ({self.ring_insertions}) must not exceed "
                f"batch_size ({self.batch_size}), population_size "
                f"({self.population_size}) or archive_capacity "
                f"({self.archive_capacity})"
            )
        for name in ("descriptor_low", "descriptor_high"):
            number_or_task(self, name)
        low = number_or_task(self, "descriptor_low")
        high = number_or_task(self, "descriptor_high")
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
        """Evaluations in a run: the first population and one batch an iteration."""
        return self.population_size + self.batch_size * self.num_iterations


@struct.dataclass
class HParams:
    """Traced hyperparameters: vmap over any of them in one compilation.

    The threshold schedule is goNEAT_NS's (the port of Lehman & Stanley's
    maze code): x0.95 after ``threshold_patience`` idle generations, x1.2
    after a burst; its initial 6.0 and floor 0.25 are maze units, so the
    defaults here are rescaled to a unit descriptor box. The emitter fields
    are MAP-Elites' (same meaning and defaults).
    """

    novelty_threshold: float = 0.05  # traced: initial threshold (threshold insertion)
    threshold_floor: float = 0.002  # traced: the threshold never goes below this
    threshold_decay: float = 0.95  # traced: factor after patience runs out (1: fixed)
    threshold_growth: float = 1.2  # traced: factor after a burst (1: fixed)
    sigma_iso: float = 0.005  # traced: Iso+LineDD isotropic noise (x gene range)
    sigma_line: float = 0.05  # traced: Iso+LineDD noise along x_j - x_i
    mutation_sigma: float = 0.05  # traced: Gaussian mutation step (x gene range)
    eta_mutation: float = 20.0  # traced: polynomial mutation index (larger: smaller)
    mutation_rate: float = 0.1  # traced: polynomial mutation, share of genes
    eta_crossover: float = 20.0  # traced: SBX index (larger: closer to parents)
    crossover_rate: float = 0.5  # traced: uniform crossover, share from parent 2


_HPARAM_RANGES = {
    "novelty_threshold": (0.0, math.inf, True),
    "threshold_floor": (0.0, math.inf, True),
    "threshold_decay": (0.0, 1.0, False),
    "threshold_growth": (1.0, math.inf, True),
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
