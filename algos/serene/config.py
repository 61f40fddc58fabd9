"""SERENE's static ``Config`` (sizes, schedule, emitters, archives) and
traced ``HParams``."""

import dataclasses
import math

from flax import struct

from jaxrl.algos.map_elites.config import TASK, check_genotype_dim, number_or_task
from jaxrl.program import check_field_types, check_ranges

REWARDS = ("fitness", "solved", TASK)
MAX_COVERAGE_CELLS = 10_000_000  # the coverage grid is a MAP-Elites grid archive


@dataclasses.dataclass(frozen=True)
class Config:
    """Static SERENE settings: changing any of these recompiles.

    Defaults are SERENE's (Paolo et al. 2021, ``parameters.py``) where the
    paper's code has the value: population 100 with 2 offspring a parent
    (batch 200), k = 15, 5 random offspring archived a generation, chunks of
    1,000 evaluations, emitter population 6 (12 offspring a generation),
    6-generation candidate bootstrap, improvement over 3 reward lists, and the
    "custom" stagnation window ``int(20 D / 6 + 120)`` compared over its first
    and last 20 reward lists. ``genotype_dim`` 0 takes the task's own size
    (the hard maze's 67 genes, 5 hidden units). Fields marked "jaxrl choice"
    have no value in the paper: they are capacities that fixed shapes need,
    or the number of emitters run side by side (SERENE runs one at a time).
    ``num_running`` 1 runs one promoted emitter at a time, chosen by SERENE's
    rule (a random pick from the first Pareto front of ancestor novelty
    against the reward archive and improvement; the highest improvement
    while the reward archive is empty) at the start of every exploitation
    chunk and whenever the chosen one stops; the other promoted emitters
    keep their slots and wait. 0 (the default) runs every promoted emitter.

    ``reward`` says what counts as the sparse reward: ``"fitness"`` (the
    task's fitness; > 0 means found), ``"solved"`` (the fitness where the
    task's ``extras["is_solved"]`` holds, else 0) or ``"task"`` (``"solved"``
    when the task reports ``is_solved``, else ``"fitness"``).
    """

    genotype_dim: int = 0  # genes per genotype; 0: the task's own (maze 67, arm 100)
    reward: str = TASK  # "fitness", "solved" (extras is_solved) or "task"
    population_size: int = 100  # novelty-search population (SERENE)
    batch_size: int = 200  # evaluations per generation, both phases (SERENE)
    num_iterations: int = 1000  # generations after the first population
    chunk_size: int = 1000  # evaluations per chunk, a multiple of batch_size
    archive_capacity: int = 4096  # novelty archive slots, a ring (jaxrl choice)
    archive_insertions: int = 5  # random offspring archived a generation (SERENE)
    num_neighbours: int = 15  # k of novelty (SERENE)
    num_emitters: int = 16  # emitter slots run side by side (jaxrl choice)
    num_running: int = 0  # emitters run at once, chosen as SERENE; 0: all (jaxrl)
    emitter_population: int = 6  # emitter population; 2 offspring each (SERENE)
    bootstrap_generations: int = 6  # candidate's generations before promotion
    improvement_window: int = 3  # reward lists averaged for the improvement
    stagnation_base: int = 120  # stagnation window: int(per_gene D / pop + base)
    stagnation_per_gene: float = 20.0  # stagnation window, per gene (SERENE)
    stagnation_span: int = 20  # reward lists compared at each end of the window
    max_emitter_steps: int = 0  # stop an emitter after this many steps (0: never)
    candidate_capacity: int = 64  # emitter candidates waiting (jaxrl choice)
    reward_archive_capacity: int = 1024  # reward archive slots (jaxrl choice)
    feedback_capacity: int = 32  # novel emitter agents kept per slot (jaxrl choice)
    coverage_cells: int = 100  # coverage grid: cells per descriptor axis
    descriptor_low: float | str = TASK  # coverage box: number for every axis, or "task"
    descriptor_high: float | str = TASK  # coverage box: number, or "task"
    qd_offset: float | str = TASK  # qd_score = sum(fitness - offset); "task": its min

    def __post_init__(self):
        check_field_types(self)
        check_genotype_dim(self)
        positive = (
            "population_size", "batch_size", "num_iterations",
            "chunk_size", "archive_capacity", "archive_insertions",
            "num_neighbours", "num_emitters", "emitter_population",
            "bootstrap_generations", "improvement_window", "stagnation_span",
            "candidate_capacity", "reward_archive_capacity", "feedback_capacity",
            "coverage_cells",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"Config.{name} must be an int >= 1, got {value!r}")
        if not 0 <= self.num_running <= self.num_emitters:
            raise ValueError(
                f"Config.num_running must be in [0, num_emitters "
                f"({self.num_emitters})], got {self.num_running!r}"
            )
        for name in ("stagnation_base", "max_emitter_steps"):
            if getattr(self, name) < 0:
                raise ValueError(
                    f"Config.{name} must be an int >= 0, got {getattr(self, name)!r}"
                )
        per_gene = self.stagnation_per_gene
        if not (math.isfinite(per_gene) and per_gene >= 0):
            raise ValueError(
                "Config.stagnation_per_gene must be a finite number >= 0, got "
                f"{self.stagnation_per_gene!r}"
            )
        if self.reward not in REWARDS:
            raise ValueError(
                f"Config.reward must be 'fitness', 'solved' or 'task', got "
                f"{self.reward!r}"
            )
        if self.feedback_capacity < self.emitter_population:
            raise ValueError(
                f"Config.feedback_capacity ({self.feedback_capacity}) must be at "
                f"least emitter_population ({self.emitter_population}): a "
                "generation's novel members each need their own place"
            )
        if self.chunk_size % self.batch_size:
            raise ValueError(
                f"Config.chunk_size ({self.chunk_size}) must be a multiple of "
                f"batch_size ({self.batch_size}): a chunk is whole generations"
            )
        if self.emitter_batch * self.num_emitters > self.batch_size:
            raise ValueError(
                f"Config.num_emitters ({self.num_emitters}) x 2 x "
                f"emitter_population ({self.emitter_population}) = "
                f"{self.emitter_batch * self.num_emitters} rows exceeds batch_size "
                f"({self.batch_size}); every emitter's offspring must fit in one "
                "generation"
            )
        if self.archive_insertions > min(self.batch_size, self.archive_capacity):
            raise ValueError(
                f"Config.archive_insertions ({self.archive_insertions}) must not "
                f"exceed batch_size ({self.batch_size}) or archive_capacity "
                f"({self.archive_capacity})"
            )
        if self.archive_insertions * self.num_emitters > self.archive_capacity:
            raise ValueError(
                f"Config.archive_capacity ({self.archive_capacity}) must hold "
                f"archive_insertions x num_emitters ({self.archive_insertions} x "
                f"{self.num_emitters}): every emitter may end in one generation"
            )
        if self.improvement_window > self.bootstrap_generations:
            raise ValueError(
                f"Config.improvement_window ({self.improvement_window}) must not "
                f"exceed bootstrap_generations ({self.bootstrap_generations})"
            )
        need = max(self.stagnation_span, self.bootstrap_generations)
        # with genotype_dim 0 the window is checked once the task's size is in
        if self.genotype_dim and self.stagnation_window < need:
            raise ValueError(
                f"the stagnation window int(stagnation_per_gene x genotype_dim / "
                f"emitter_population + stagnation_base) = {self.stagnation_window} "
                f"must be at least stagnation_span and bootstrap_generations "
                f"({need}); raise Config.stagnation_base"
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
    def emitter_batch(self) -> int:
        """Offspring one emitter evaluates a generation: 2 per member."""
        return 2 * self.emitter_population

    @property
    def chunk_generations(self) -> int:
        """Generations in one chunk."""
        return self.chunk_size // self.batch_size

    @property
    def stagnation_window(self) -> int:
        """SERENE's "custom" stagnation window ``B`` (reward lists kept)."""
        per_gene = self.stagnation_per_gene * self.genotype_dim
        return int(per_gene / self.emitter_population + self.stagnation_base)

    @property
    def num_evaluations(self) -> int:
        """Evaluations in a run: the first population and one batch a generation."""
        return self.population_size + self.batch_size * self.num_iterations


@struct.dataclass
class HParams:
    """Traced hyperparameters: vmap over any of them in one compilation.

    SERENE's values: novelty search mutates with sigma 0.05 (also the
    emitter's step when its nearest genome is at distance 0), and an
    emitter's first step is that distance divided by 3. Like MAP-Elites'
    ``mutation_sigma``, sigma is in units of the gene range where the task
    bounds its genes (0.5 on the maze's [-5, 5]); that scaling is jaxrl's.
    """

    mutation_sigma: float = 0.05  # traced: NS Gaussian mutation step (x gene range)
    sigma_divisor: float = 3.0  # traced: emitter step = nearest genome distance / this


_HPARAM_RANGES = {
    "mutation_sigma": (0.0, math.inf, True),
    "sigma_divisor": (0.0, math.inf, False),
}


def check_hparams(hparams: HParams) -> None:
    """Raise ``ValueError`` naming any field outside its allowed range.

    Works on scalars and on swept arrays; traced values are not checked.
    """
    check_ranges(hparams, _HPARAM_RANGES)
