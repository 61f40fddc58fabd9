"""GFlowNets: objectives by name, policies, exact evaluation, training.

Example::

    env, reward = make_gfn_env("hypergrid", ndim=2, height=8)
    train = gflownet.make_train(gflownet.Config(loss="tb"), env, reward)
    out = jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, gflownet.HParams())
    out.metrics.l1  # (seeds, num_evaluations)
"""

from jaxrl.algos.gflownet.config import (
    LOSS_NAMES,
    OP_LOSS_NAMES,
    Config,
    HParams,
    check_hparams,
)
from jaxrl.algos.gflownet.evaluation import (
    Enumeration,
    ExactMetrics,
    enumerate_states,
    exact_metrics,
    terminating_log_probs,
)
from jaxrl.algos.gflownet.losses import (
    backward_kl_term,
    detailed_balance,
    flow_matching,
    forward_looking_db,
    gfn_loss,
    log_partition_estimate,
    modified_db,
    non_dominated,
    op_detailed_balance,
    op_subtb_pieces,
    order_labels,
    order_loss,
    order_preserving_loss,
    pairwise_order_loss,
    pareto_order_loss,
    subtrajectory_balance,
    tb_log_reward_estimate,
    trajectory_balance,
    vargrad_loss,
)
from jaxrl.algos.gflownet.pareto import (
    ParetoMetrics,
    hypervolume_2d,
    igd,
    pareto_metrics,
)
from jaxrl.algos.gflownet.policies import (
    MASKED_LOGIT,
    GFNPolicy,
    Linear,
    PolicyOutputs,
    behaviour_log_probs,
    behaviour_probs,
    draw_actions,
    masked_log_softmax,
    masked_logsumexp,
)
from jaxrl.algos.gflownet.train import (
    GFNParams,
    GFNState,
    Metrics,
    final_scores,
    make_optimizer,
    make_program,
    make_train,
)
from jaxrl.algos.gflownet.trajectories import (
    Terms,
    Trajectories,
    map_states,
    sample_trajectories,
    trajectory_terms,
)
from jaxrl.program import TrainOutput

__all__ = [
    "LOSS_NAMES", "MASKED_LOGIT", "OP_LOSS_NAMES", "Config", "Enumeration",
    "ExactMetrics",
    "GFNParams", "GFNPolicy", "GFNState", "HParams", "Linear", "Metrics",
    "ParetoMetrics",
    "PolicyOutputs",
    "Terms", "TrainOutput", "Trajectories", "backward_kl_term",
    "behaviour_log_probs", "behaviour_probs", "check_hparams",
    "detailed_balance", "draw_actions", "enumerate_states", "exact_metrics",
    "final_scores",
    "flow_matching", "forward_looking_db", "gfn_loss", "hypervolume_2d", "igd",
    "log_partition_estimate",
    "make_optimizer", "make_program", "make_train", "map_states", "masked_log_softmax",
    "masked_logsumexp", "modified_db", "non_dominated", "op_detailed_balance",
    "op_subtb_pieces",
    "order_labels", "order_loss", "order_preserving_loss", "pairwise_order_loss",
    "pareto_metrics", "pareto_order_loss", "sample_trajectories",
    "subtrajectory_balance", "tb_log_reward_estimate", "terminating_log_probs",
    "trajectory_balance", "trajectory_terms", "vargrad_loss",
]  # fmt: skip


def _program_for(config: Config, env_id: str):
    """``jaxrl train gfn --env ENV``: a GFlowNet on a registered environment."""
    from jaxrl.envs.gfn import make_gfn_env

    env, reward = make_gfn_env(env_id)
    return make_program(config, env, reward, target=env_id)


def _register() -> None:
    from jaxrl import algorithms

    algorithms.register(
        algorithms.Algorithm(
            name="gfn",
            summary="GFlowNet (tb, db, mdb, fldb, subtb, vargrad, fm; "
            "order-preserving op-tb, op-db, op-subtb, op-fm) on a GFlowNet "
            "environment, exact evaluation",
            config_type=Config,
            hparams_type=HParams,
            make_program=_program_for,
            target_kind="env",
            default_target="hypergrid",
        ),
        overwrite=True,
    )


_register()
