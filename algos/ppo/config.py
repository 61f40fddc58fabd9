"""PPO's static ``Config`` (sizes, loop lengths) and traced ``HParams``."""

import dataclasses
import math

from flax import struct

from jaxrl.algos.intrinsic import COUNT_MODES
from jaxrl.batched_reset import RESET_MODES
from jaxrl.program import check_field_types, check_ranges

INTRINSIC_REWARDS = ("none", "rnd", "count", "rdd")
SHAPING_POTENTIALS = ("none", "goal_distance")


@dataclasses.dataclass(frozen=True)
class Config:
    """Static PPO settings: changing any of these recompiles.

    Defaults follow rl-starter-files' MiniGrid PPO (16 environments x 128
    steps, 4 epochs, minibatches of 256), sized so that DoorKey-5x5 is solved
    by 8 vmapped seeds in a few CPU minutes.
    """

    total_steps: int = 200_000  # environment steps per seed
    num_envs: int = 16  # parallel environments per seed
    num_steps: int = 128  # rollout length per update
    num_minibatches: int = 8
    update_epochs: int = 4
    hidden_size: int = 64  # width of the actor and critic MLPs
    embed_dim: int = 8  # per-cell embedding width for gridworld images
    anneal_lr: bool = True  # linear decay of the learning rate to 0
    normalize_advantages: bool = True  # per minibatch
    final_fraction: float = 0.1  # share of updates whose episodes give "final"
    intrinsic: str = "none"  # exploration bonus: none, rnd, count (SimHash) or rdd
    count_mode: str = "lifelong"  # count only: lifelong or episodic counts
    count_key_bits: int = 128  # count only: SimHash bits per observation
    rnd_hidden_size: int = 256  # rnd only: width of target and predictor
    rnd_output_size: int = 512  # rnd only: target feature size (paper: 512)
    rdd_hidden_size: int = 64  # rdd only: width of both networks (paper: 64)
    rdd_output_size: int = 64  # rdd only: target features (paper: 64, Atari 512)
    rdd_sigma: float = 1.0  # rdd only: std of the target draws (paper: 1)
    # a custom potential is make_program's ``potential`` argument
    shaping: str = "none"  # potential-based shaping: none or goal_distance
    gated_shaping: bool = False  # pay shaping at episode end if outcome >= gate
    recurrent: bool = False  # a GRU actor-critic (hidden_size wide)
    action_squash: str = "clip"  # Box actions: Gaussian sample clipped or tanh
    normalize_observations: bool = False  # running mean/std of flat observations
    # how finished episodes restart (jaxrl.batched_reset): auto is optimistic
    # for the gridworlds from 64 envs up, exact otherwise
    reset: str = "auto"  # auto, exact or optimistic
    num_resets: int = 0  # optimistic only: levels a draw adds (0: num_envs // 16)

    def __post_init__(self):
        check_field_types(self)
        positive = (
            "total_steps", "num_envs", "num_steps", "num_minibatches",
            "update_epochs", "hidden_size", "embed_dim", "count_key_bits",
            "rnd_hidden_size", "rnd_output_size", "rdd_hidden_size",
            "rdd_output_size",
        )  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Config.{name} must be an int >= 1, got {value!r}")
        if self.intrinsic not in INTRINSIC_REWARDS:
            raise ValueError(
                f"Config.intrinsic must be one of {', '.join(INTRINSIC_REWARDS)}, "
                f"got {self.intrinsic!r}"
            )
        if not (math.isfinite(self.rdd_sigma) and self.rdd_sigma > 0):
            raise ValueError(
                f"Config.rdd_sigma must be a finite number > 0, got {self.rdd_sigma!r}"
            )
        if self.recurrent and self.num_envs % self.num_minibatches:
            raise ValueError(
                f"Config.recurrent: minibatches are whole environment sequences, "
                f"so num_minibatches ({self.num_minibatches}) must divide num_envs "
                f"({self.num_envs})"
            )
        if self.reset not in RESET_MODES:
            raise ValueError(
                f"Config.reset must be one of {', '.join(RESET_MODES)}, "
                f"got {self.reset!r}"
            )
        if not isinstance(self.num_resets, int) or self.num_resets < 0:
            raise ValueError(
                f"Config.num_resets must be an int >= 0 (0: num_envs // 16), "
                f"got {self.num_resets!r}"
            )
        if self.action_squash not in ("clip", "tanh"):
            raise ValueError(
                f"Config.action_squash must be clip or tanh, got {self.action_squash!r}"
            )
        if self.shaping not in SHAPING_POTENTIALS:
            raise ValueError(
                f"Config.shaping must be one of {', '.join(SHAPING_POTENTIALS)}, "
                f"got {self.shaping!r}"
            )
        if self.count_mode not in COUNT_MODES:
            raise ValueError(
                f"Config.count_mode must be one of {', '.join(COUNT_MODES)}, "
                f"got {self.count_mode!r}"
            )
        if not 0.0 < self.final_fraction <= 1.0:
            raise ValueError(
                f"Config.final_fraction must be in (0, 1], got {self.final_fraction!r}"
            )
        if self.total_steps < self.batch_size:
            raise ValueError(
                f"Config.total_steps ({self.total_steps}) must be at least "
                f"num_envs * num_steps ({self.batch_size}), one update's worth"
            )
        if self.total_steps >= 2**31:
            raise ValueError(
                f"Config.total_steps must be below 2**31, got {self.total_steps}"
            )
        if self.batch_size % self.num_minibatches:
            raise ValueError(
                f"Config.num_minibatches ({self.num_minibatches}) must divide "
                f"num_envs * num_steps ({self.batch_size})"
            )

    @property
    def batch_size(self) -> int:
        """Environment steps collected per update."""
        return self.num_envs * self.num_steps

    @property
    def num_updates(self) -> int:
        """Updates per run; ``total_steps`` is rounded down to whole updates."""
        return self.total_steps // self.batch_size

    @property
    def num_value_heads(self) -> int:
        """1, or 2 with an intrinsic reward (extrinsic and intrinsic values)."""
        return 1 if self.intrinsic == "none" else 2

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_final_updates(self) -> int:
        """Updates at the end of the run whose episodes make the final score."""
        return max(1, math.ceil(self.final_fraction * self.num_updates))


@struct.dataclass
class HParams:
    """Traced PPO hyperparameters: vmap over any of them in one compilation.

    Defaults are rl-starter-files' MiniGrid PPO settings.
    """

    lr: float = 1e-3  # traced: Adam step size (before annealing)
    gamma: float = 0.99  # traced: discount
    gae_lambda: float = 0.95  # traced
    clip_eps: float = 0.2  # traced: ratio clip for policy and value
    ent_coef: float = 0.01  # traced
    vf_coef: float = 0.5  # traced
    max_grad_norm: float = 0.5  # traced: global-norm gradient clip
    # with Config.intrinsic only (Burda et al.'s values): the advantage is
    # ext_coef * A_extrinsic + int_coef * A_intrinsic
    int_coef: float = 1.0  # traced: weight of the intrinsic advantage
    ext_coef: float = 2.0  # traced: weight of the extrinsic one (with a bonus)
    int_gamma: float = 0.99  # traced: discount of the intrinsic return
    # with shaping only: the reward is r + shaping_coef * F (F potential-based)
    shaping_coef: float = 1.0  # traced: scale of the shaping reward F
    # with gated_shaping: the outcome an episode must reach for its shaping
    # to be paid (task-specific; jaxrl gridworlds pay at least 0.1 on success)
    gate_threshold: float = 0.05  # traced: outcome that releases shaping


_HPARAM_RANGES = {
    "lr": (0.0, math.inf, False),
    "gamma": (0.0, 1.0, True),
    "gae_lambda": (0.0, 1.0, True),
    "clip_eps": (0.0, math.inf, False),
    "ent_coef": (0.0, math.inf, True),
    "vf_coef": (0.0, math.inf, True),
    "max_grad_norm": (0.0, math.inf, False),
    "int_coef": (0.0, math.inf, True),
    "ext_coef": (0.0, math.inf, True),
    "int_gamma": (0.0, 1.0, True),
    "shaping_coef": (0.0, math.inf, True),
    "gate_threshold": (-math.inf, math.inf, True),
}


def check_hparams(hparams: HParams) -> None:
    """Raise ``ValueError`` naming any field outside its allowed range.

    Works on scalars and on swept arrays; traced values are not checked.
    """
    check_ranges(hparams, _HPARAM_RANGES)
