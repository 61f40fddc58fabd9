"""AURORA's static ``Config`` (sizes, schedule, encoder) and traced ``HParams``.

Values from QDax's AURORA (PAPERS section 8) say so; the others are jaxrl
choices, stated as such. QDax counts its schedule in scans of 5 iterations;
here every count is in iterations (one batch evaluated each), so QDax's
numbers are multiplied by 5.
"""

import dataclasses
import math

from flax import struct

from jaxrl.algos.map_elites.config import TASK, check_genotype_dim, number_or_task
from jaxrl.algos.map_elites.emitters import parse_emitter_spec, split_counts
from jaxrl.program import check_field_types, check_ranges

MAX_COVERAGE_CELLS = 10_000_000  # the coverage grid is a (cells,) bool array


@dataclasses.dataclass(frozen=True)
class Config:
    """Static AURORA settings: changing any of these recompiles.

    ``descriptor_low``, ``descriptor_high`` (the task's coverage grid) and
    ``qd_offset`` take a number or ``"task"``, as in MAP-Elites, and
    ``genotype_dim`` 0 takes the task's own size; :func:`make_program`
    records the values used.
    """

    genotype_dim: int = 0  # genes per genotype; 0: the task's own (maze 67, arm 100)
    batch_size: int = 100  # offspring per iteration (QDax AURORA example)
    num_iterations: int = 1000  # iterations after the first batch (jaxrl)
    archive_capacity: int = 2048  # container slots (jaxrl: twice target_size)
    target_size: int = 1024  # N_target of the size control (QDax)
    latent_size: int = 5  # learned descriptor size (QDax)
    encoder_width: int = 64  # hidden units per autoencoder layer (jaxrl)
    encoder_depth: int = 2  # hidden layers in the encoder and the decoder (jaxrl)
    train_batch_size: int = 128  # autoencoder minibatch rows (QDax)
    num_epochs: int = 100  # epochs per training up to late_after (QDax)
    num_epochs_late: int = 25  # epochs per training after late_after (QDax)
    late_after: int = 500  # num_epochs_late after this iteration (QDax: 100 scans)
    schedule_base: int = 10  # first training; gaps grow by it (QDax: 2 scans of 5)
    control_every: int = 10  # size control period (QDax: every other scan of 5)
    control_start: int = 5  # first size control (QDax: after the first scan of 5)
    warm_start: bool = False  # train on from the last training (QDax: from init's)
    emitter: str = "iso_line"  # a MAP-Elites emitter, or a mix "iso_line:1,sbx:1"
    coverage_cells: int = 100  # task's coverage grid: cells per descriptor axis
    descriptor_low: float | str = TASK  # coverage box: number for every axis, or "task"
    descriptor_high: float | str = TASK  # coverage box: number, or "task"
    qd_offset: float | str = TASK  # qd_score = sum(fitness - offset); "task": its min

    def __post_init__(self):
        check_field_types(self)
        check_genotype_dim(self)
        positive = (
            "batch_size", "num_iterations", "archive_capacity",
            "target_size", "latent_size", "encoder_width", "train_batch_size",
            "num_epochs", "schedule_base", "control_every", "control_start",
            "coverage_cells",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"Config.{name} must be an int >= 1, got {value!r}")
        for name in ("encoder_depth", "num_epochs_late", "late_after"):
            value = getattr(self, name)
            if value < 0:
                raise ValueError(f"Config.{name} must be an int >= 0, got {value!r}")
        if self.target_size > self.archive_capacity:
            raise ValueError(
                f"Config.target_size ({self.target_size}) must not exceed "
                f"archive_capacity ({self.archive_capacity})"
            )
        for name in ("descriptor_low", "descriptor_high", "qd_offset"):
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
        """Evaluations in a run: the first batch and one batch an iteration."""
        return self.batch_size * (self.num_iterations + 1)

    @property
    def control_iterations(self) -> tuple[int, ...]:
        """The iterations (1-based) that run the size control of ``l``:
        ``control_start + k * control_every``, less the training ones."""
        trainings = set(self.training_iterations)
        every = range(self.control_start, self.num_iterations + 1, self.control_every)
        return tuple(i for i in every if i not in trainings)

    @property
    def training_iterations(self) -> tuple[int, ...]:
        """The iterations (1-based, within the run) that train the autoencoder:
        ``b, 3b, 6b, 10b, ...`` for ``b = schedule_base``."""
        out, at, gap = [], self.schedule_base, self.schedule_base
        while at <= self.num_iterations:
            out.append(at)
            gap += self.schedule_base
            at += gap
        return tuple(out)


@struct.dataclass
class HParams:
    """Traced hyperparameters: vmap over any of them in one compilation.

    ``initial_threshold``, ``control_gain`` and ``learning_rate`` are QDax
    AURORA's (l_init 0.2, K = 1e-5, Adam 1e-4); Iso+LineDD's (0.005, 0.05)
    are its example's. The other emitter fields are MAP-Elites' (same meaning
    and defaults).
    """

    initial_threshold: float = 0.2  # traced: l_init, distance in latent space
    control_gain: float = 1e-5  # traced: K of the size control (0: l fixed)
    learning_rate: float = 1e-4  # traced: Adam step of the autoencoder
    sigma_iso: float = 0.005  # traced: Iso+LineDD isotropic noise
    sigma_line: float = 0.05  # traced: Iso+LineDD noise along x_j - x_i
    mutation_sigma: float = 0.05  # traced: Gaussian mutation step
    eta_mutation: float = 20.0  # traced: polynomial mutation index (larger: smaller)
    mutation_rate: float = 0.1  # traced: polynomial mutation, share of genes
    eta_crossover: float = 20.0  # traced: SBX index (larger: closer to parents)
    crossover_rate: float = 0.5  # traced: uniform crossover, share from parent 2


_HPARAM_RANGES = {
    "initial_threshold": (0.0, math.inf, True),
    "control_gain": (0.0, math.inf, True),
    "learning_rate": (0.0, math.inf, False),
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
