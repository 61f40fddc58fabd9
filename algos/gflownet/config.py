"""GFlowNet training's static ``Config`` and traced ``HParams``."""

import dataclasses
import math

import jax
import numpy as np
from flax import struct

from jaxrl.algos.gflownet.preference import PREFERENCE_LOSSES, PREFERENCES
from jaxrl.program import check_field_types, check_ranges

# Objectives by name (see jaxrl.algos.gflownet.losses).
LOSS_NAMES = ("tb", "db", "mdb", "fldb", "subtb", "vargrad", "fm")
# Order-preserving objectives (Chen & Mauch, 2024): the true reward only
# labels the order of the objects; the learned log R^ is what is sampled.
OP_LOSS_NAMES = ("op-tb", "op-db", "op-subtb", "op-fm")
# Objectives that learn a state flow log F(s) (a network head).
FLOW_LOSSES = ("db", "fldb", "subtb", "op-db", "op-subtb")
# Objectives whose log Z is the log_z parameter itself (op-tb's order loss
# does not depend on it: there it stays at its initial 0).
LOG_Z_LOSSES = ("tb", "db", "fldb", "subtb", "op-tb", "op-db", "op-subtb")
# Objectives that evaluate every parent of every state (flow matching's
# incoming edge flows): the visited states alone do not do.
PARENT_FLOW_LOSSES = ("fm", "op-fm")
# Objectives a conditional GFlowNet trains with: a reward scale and a log Z
# per trajectory (not the order-preserving ones, which ignore the scale;
# not vargrad, whose batch log Z mixes betas; not fm, which evaluates parents).
CONDITIONAL_LOSSES = ("tb", "db", "subtb", "fldb", "mdb")
# How the objectives evaluate the network along a batch (Config.rollout).
ROLLOUTS = ("auto", "padded", "compacted", "reused")


@dataclasses.dataclass(frozen=True)
class Config:
    """Static GFlowNet settings: changing any of these recompiles.

    Defaults follow torchgfn's HyperGrid example (tutorials/examples/
    train_hypergrid.py: 16 trajectories a batch, MLPs of 2 hidden layers of
    256 units, validation every 100 iterations).

    ``rollout="auto"`` resolves to ``"padded"`` for fm and op-fm, to
    ``"reused"`` with a shared trunk (without replay), else to
    ``"compacted"`` (:attr:`resolved_rollout`). Reused is compacted without
    the loss's forward pass: sampling runs P_F and keeps the hidden
    activations, the other heads run once over the kept rows after the loop,
    and the loss takes its outputs from there and rebuilds the gradient from
    them (on-policy: exploration only reshapes P_F's logits; replayed
    trajectories were not in that pass). With separate MLPs that runs P_B's
    network on every padded slot, which cost more than it saved. Measured
    before sampling drew one uniform array an iteration (TB, HyperGrid D=4
    H=8, 2x256, 2 loaded CPU cores, load about 4.5; process CPU ms per
    iteration, best of 2, compacted / reused): shared trunk batch 16 (2000
    iterations) 3.24 / 3.16, batch 256 (300) 46.3 / 42.2; separate MLPs
    5.09 / 5.32 and 70.3 / 75.7. Compacted
    evaluates the network on the shortest prefix of the sorted visited
    states that holds them all (under ``vmap``, all the batch's): ``B * 2**k``
    rows up to an eighth of the ``(T+1) * B`` slots, then multiples of that
    eighth (``trajectories.prefix_lengths``); padded on all the slots. With
    doubling prefixes only, a trained batch just past a power of two ran
    padded: at batch 256, 300 iterations, 249 ms per iteration against 170
    with the eighths (2 loaded CPU cores, load about 11). Measured before
    that change (benchmarks/
    compare_gfn.py's setting: TB on HyperGrid D=4 H=8, MLPs 2x256, one seed,
    2 loaded CPU cores), ms per iteration padded / compacted, whole runs
    (``--rollouts --repeats 1``): batch 16, 2000 iterations 7.92 / 5.73;
    batch 256, 300 iterations 143.2 / 80.4; short runs (trajectories are
    shorter early on): batch 2 1.55 / 1.29, 4 2.63 / 1.90, 8 4.14 / 2.85,
    16 7.50 / 4.30, 32 14.35 / 7.58, 64 28.42 / 15.38, 128 70.47 / 41.91;
    two seeds under ``vmap``, batch 16, 100 iterations: 14.84 / 9.80. No
    batch size favoured padded, so there is no threshold.
    """

    # objective: tb, db, mdb, fldb, subtb, vargrad, fm; op-tb, op-db,
    # op-subtb, op-fm
    loss: str = "tb"
    num_iterations: int = 10_000  # training iterations (batches) per seed
    batch_size: int = 16  # trajectories sampled per iteration
    eval_every: int = 100  # iterations between exact evaluations (one step)
    hidden_size: int = 256  # width of the 2 hidden layers of each MLP
    use_learned_backward: bool = True  # false: uniform P_B over the parents
    use_shared_trunk: bool = False  # one trunk for P_F, P_B and log F
    # auto: compacted where the loss allows it, else padded (see the class
    # docstring); padded: the loss evaluates the network on every (T+1)*B
    # state slot; compacted: on a prefix that holds the visited states (same
    # loss; not for fm and op-fm, which evaluate every parent); reused: as
    # compacted, but the loss reuses the network outputs and activations of
    # the sampling pass (one forward pass an iteration; not with replay)
    rollout: str = "auto"
    # rewards with several objectives: objects drawn from the exact
    # terminating distribution at each evaluation for hypervolume and IGD
    # (1280: the OP-GFN code's 2-objective evaluation, 10 batches of 128)
    pareto_samples: int = 1280
    # on-device replay of whole trajectories (jaxrl.algos.gflownet.replay):
    # 0 is off; else the buffer's capacity in trajectories (>= batch_size)
    replay_size: int = 0
    replay_batch: int = 0  # stored trajectories trained on beside each batch
    replay_priority: str = "uniform"  # uniform, or reward: in proportion to R(x)
    # a conditional GFlowNet over the reward exponent beta: each trajectory
    # draws beta in [HParams.beta_low, beta_high] and is trained on R(x)**beta;
    # the networks and log Z see beta; evaluations use beta = 1
    conditional: bool = False
    # preference-conditioned GFlowNet (the PC-GFN baseline of Chen & Mauch,
    # 2024) on a reward with several objectives: "none", or "dirichlet": each
    # trajectory draws weights w ~ Dirichlet(preference_alpha) and beta as a
    # conditional run does, and trains on (w . r(x))**beta; the networks and
    # log Z see [w, beta]; evaluations use beta = HParams.beta_high and the
    # mixture over preference_eval fixed weights (jaxrl.algos.gflownet.preference)
    preference: str = "none"
    preference_alpha: float = 1.5  # Dirichlet concentration (PC-GFN: 1.5)
    preference_eval: int = 64  # fixed preference vectors of each evaluation

    def __post_init__(self):
        check_field_types(self)
        if self.loss not in LOSS_NAMES + OP_LOSS_NAMES:
            raise ValueError(
                f"Config.loss must be one of {', '.join(LOSS_NAMES)}; got "
                f"{self.loss!r} (or order-preserving: {', '.join(OP_LOSS_NAMES)})"
            )
        if self.rollout not in ROLLOUTS:
            raise ValueError(f"Config.rollout must be one of {', '.join(ROLLOUTS)}, "
                             f"got {self.rollout!r}")  # fmt: skip
        if self.rollout in ("compacted", "reused") and self.loss in PARENT_FLOW_LOSSES:
            raise ValueError(
                f"Config.rollout={self.rollout!r} does not support loss "
                f"{self.loss!r} (it evaluates every parent); use padded"
            )
        if self.rollout == "reused" and self.replay_size:
            raise ValueError(
                "Config.rollout='reused' reuses the sampling pass, which replayed "
                "trajectories (Config.replay_size) did not go through; use "
                "compacted or padded"
            )
        for name in ("num_iterations", "batch_size", "eval_every", "hidden_size",
                     "pareto_samples"):  # fmt: skip
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"Config.{name} must be an int >= 1, got {value!r}")
        self._check_replay()
        self._check_preference()
        if self.conditional and self.loss not in CONDITIONAL_LOSSES:
            raise ValueError(
                f"Config.conditional trains on R(x)**beta with a log Z of beta; "
                f"loss {self.loss!r} does not take that (use one of "
                f"{', '.join(CONDITIONAL_LOSSES)})"
            )
        if self.conditional and self.replay_size:
            raise ValueError(
                "Config.conditional and replay (Config.replay_size) do not go "
                "together: stored trajectories do not keep their beta"
            )
        if self.num_iterations % self.eval_every:
            raise ValueError(
                f"Config.eval_every ({self.eval_every}) must divide "
                f"Config.num_iterations ({self.num_iterations})"
            )
        if self.num_iterations >= 2**31:
            raise ValueError(
                f"Config.num_iterations must be below 2**31, got {self.num_iterations}"
            )

    def _check_replay(self) -> None:
        if self.replay_priority not in ("uniform", "reward"):
            raise ValueError(
                f"Config.replay_priority must be uniform or reward, got "
                f"{self.replay_priority!r}"
            )
        for name in ("replay_size", "replay_batch"):
            if getattr(self, name) < 0:
                raise ValueError(f"Config.{name} must be an int >= 0, got "
                                 f"{getattr(self, name)!r}")  # fmt: skip
        if (self.replay_size == 0) != (self.replay_batch == 0):
            raise ValueError(
                "Config.replay_size and Config.replay_batch are both 0 (no "
                f"replay) or both >= 1; got {self.replay_size} and "
                f"{self.replay_batch}"
            )
        if 0 < self.replay_size < self.batch_size:
            raise ValueError(
                f"Config.replay_size ({self.replay_size}) must hold at least one "
                f"batch (Config.batch_size = {self.batch_size})"
            )

    def _check_preference(self) -> None:
        if self.preference not in PREFERENCES:
            allowed = ", ".join(PREFERENCES)
            raise ValueError(f"Config.preference must be one of {allowed}, "
                             f"got {self.preference!r}")  # fmt: skip
        alpha = self.preference_alpha
        if not (math.isfinite(alpha) and alpha > 0):
            raise ValueError(
                f"Config.preference_alpha must be a finite float > 0, got {alpha!r}"
            )
        if self.preference_eval < 1:
            raise ValueError(f"Config.preference_eval must be an int >= 1, got "
                             f"{self.preference_eval!r}")  # fmt: skip
        if self.preference == "none":
            return
        if self.loss not in PREFERENCE_LOSSES:
            raise ValueError(
                f"Config.preference={self.preference!r} trains on (w . r)**beta "
                f"with a log Z of [w, beta]; loss {self.loss!r} does not take that "
                f"(use one of {', '.join(PREFERENCE_LOSSES)})"
            )
        if self.replay_size:
            raise ValueError(
                "Config.preference and replay (Config.replay_size) do not go "
                "together: stored trajectories do not keep their preference"
            )

    @property
    def is_preference(self) -> bool:
        """Each trajectory is conditioned on preference weights over the
        objectives (``preference != "none"``)."""
        return self.preference != "none"

    @property
    def train_batch(self) -> int:
        """Trajectories each loss sees: the sampled batch plus the replayed."""
        return self.batch_size + self.replay_batch

    @property
    def resolved_rollout(self) -> str:
        """``"padded"``, ``"compacted"`` or ``"reused"``: ``rollout`` with ``"auto"``
        resolved (compacted unless the loss evaluates every parent)."""
        if self.rollout != "auto":
            return self.rollout
        if self.loss in PARENT_FLOW_LOSSES:
            return "padded"
        if self.use_shared_trunk and not self.replay_size:
            return "reused"
        return "compacted"

    @property
    def num_evaluations(self) -> int:
        """Engine steps per run: each is ``eval_every`` iterations then one
        exact evaluation."""
        return self.num_iterations // self.eval_every

    @property
    def is_order_preserving(self) -> bool:
        """The objective is order-preserving (op-*): the true reward only
        labels orders."""
        return self.loss in OP_LOSS_NAMES

    @property
    def uses_flow(self) -> bool:
        """The objective needs a state-flow head."""
        return self.loss in FLOW_LOSSES


@struct.dataclass
class HParams:
    """Traced GFlowNet hyperparameters: vmap over any of them in one compilation.

    Learning rates are torchgfn's HyperGrid example defaults (lr 1e-3,
    lr_Z 0.1); SubTB's lambda is torchgfn's default 0.9.
    """

    lr: float = 1e-3  # traced: Adam step size of the networks
    lr_log_z: float = 0.1  # traced: Adam step size of log Z
    epsilon: float = 0.0  # traced: share of uniform random valid actions
    temperature: float = 1.0  # traced: sampling temperature of P_F's logits
    subtb_lambda: float = 0.9  # traced: (OP-)SubTB's geometric weight per step
    # traced: lambda_OP, the order loss's weight in op-db, op-subtb and op-fm
    # (the OP-GFN code's README: 0.1 for DB, FM and SubTB; OP-TB has none)
    op_weight: float = 0.1
    # traced: lambda_KL, the weight of KL(uniform || P_B) in every op-* loss
    # (0: OP-GFN; the OP-GFN code's README uses 0.1 for its OP-GFN-KL)
    op_kl_weight: float = 0.0
    # traced, Config.conditional or Config.preference only: the range of the
    # reward exponent beta drawn (uniformly) for each trajectory; a setting
    # of this library, not of a paper (a preference run with a fixed beta,
    # as in the OP-GFN paper's tables, sets beta_low = beta_high)
    beta_low: float = 1.0
    beta_high: float = 4.0


_HPARAM_RANGES = {
    "lr": (0.0, math.inf, False),
    "lr_log_z": (0.0, math.inf, True),
    "epsilon": (0.0, 1.0, True),
    "temperature": (0.0, math.inf, False),
    "subtb_lambda": (0.0, math.inf, False),
    "op_weight": (0.0, math.inf, True),
    "op_kl_weight": (0.0, math.inf, True),
    "beta_low": (0.0, math.inf, False),
    "beta_high": (0.0, math.inf, False),
}


def check_hparams(hparams: HParams) -> None:
    """Raise ``ValueError`` naming any field outside its allowed range.

    Works on scalars and on swept arrays; traced values are not checked.
    """
    check_ranges(hparams, _HPARAM_RANGES)
    low, high = hparams.beta_low, hparams.beta_high
    if not any(isinstance(v, jax.core.Tracer) for v in (low, high)) and np.any(
        np.asarray(low) > np.asarray(high)
    ):
        raise ValueError(
            f"HParams.beta_low ({low!r}) must not exceed HParams.beta_high ({high!r})"
        )
