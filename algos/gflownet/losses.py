"""GFlowNet objectives, each a pure function of one trajectory (rlax style).

Arrays are one trajectory's, time-major: per step ``(T,)``, per state
``(T+1,)`` (``s_0 .. s_T``; the state after the exit step is terminal).
Log-probabilities are the trained policy's; steps with ``is_valid`` False
(padding after the exit) are ignored. :func:`gfn_loss` vmaps them over a
batch and reduces, choosing the objective by name.

Notation: ``x`` is the object, ``R`` the reward, ``P_F``/``P_B`` the forward
and backward policies, ``F`` a state flow, ``Z`` the partition function.
"""

import jax
import jax.numpy as jnp

from jaxrl.algos.gflownet.config import LOSS_NAMES, OP_LOSS_NAMES
from jaxrl.algos.gflownet.policies import masked_log_softmax, masked_logsumexp
from jaxrl.algos.gflownet.trajectories import Terms


def trajectory_balance(log_z, log_pf, log_pb, log_reward, is_valid):
    """Trajectory balance residual (Malkin et al., 2022, arXiv 2201.13259).

    ``log Z + sum_t log P_F(s_{t+1}|s_t) - log R(x) - sum_t log P_B(s_t|s_{t+1})``;
    the loss is its square.

    Args:
        log_z: () learned log Z.
        log_pf, log_pb: ``(T,)``.
        log_reward: () log R(x).
        is_valid: ``(T,)`` bool.

    Returns:
        () residual.
    """
    total = jnp.sum(jnp.where(is_valid, log_pf - log_pb, 0.0))
    return log_z + total - log_reward


def log_partition_estimate(log_pf, log_pb, log_reward, is_valid):
    """One trajectory's estimate of log Z (Zhang et al., 2023, arXiv
    2302.05446, section 3.2): ``zeta = log R(x) + sum log P_B - sum log P_F``.

    Returns:
        () zeta; it equals log Z for every trajectory exactly when trajectory
        balance holds.
    """
    return log_reward - jnp.sum(jnp.where(is_valid, log_pf - log_pb, 0.0))


def vargrad_loss(zeta):
    """VarGrad / log-partition variance loss over a batch (Zhang et al., 2023):
    ``mean_b (zeta_b - mean(zeta))^2``, no learned Z.

    Args:
        zeta: ``(B,)`` from :func:`log_partition_estimate`.
    """
    return jnp.mean(jnp.square(zeta - jnp.mean(zeta)))


def detailed_balance(log_flow, log_pf, log_pb, log_reward, is_valid, is_exit):
    """Detailed balance residuals (Bengio et al., 2023, "GFlowNet
    Foundations", arXiv 2111.09266).

    ``log F(s) + log P_F(s'|s) - log F(s') - log P_B(s|s')`` per step, with
    ``F := R(x)`` on the exit step's target (``F(x -> s_f) = R(x)``).

    Args:
        log_flow: ``(T+1,)`` log F(s_t); entry 0 is log F(s0) = log Z.
        log_pf, log_pb: ``(T,)``.
        log_reward: () log R(x).
        is_valid, is_exit: ``(T,)`` bool.

    Returns:
        ``(T,)`` residuals, 0 on steps not taken.
    """
    target = jnp.where(is_exit, log_reward, log_flow[1:])
    residual = log_flow[:-1] + log_pf - target - log_pb
    return jnp.where(is_valid, residual, 0.0)


def forward_looking_db(
    log_flow_tilde, log_pf, log_pb, state_log_reward, is_valid, is_exit
):
    """Forward-looking DB residuals (Pan et al., 2023, arXiv 2302.01687).

    Detailed balance with the flow parameterised as
    ``log F(s) = log F~(s) + log R(s)`` (energy ``E(s) = -log R(s)``, defined
    for every state). On the exit step the target is R(x), so the residual
    is ``log F~(x) + log P_F(exit|x)`` (the terminal F~ is 1).

    Args:
        log_flow_tilde: ``(T+1,)`` log F~(s_t) (the network's output).
        log_pf, log_pb: ``(T,)``.
        state_log_reward: ``(T+1,)`` log R(s_t).
        is_valid, is_exit: ``(T,)`` bool.

    Returns:
        ``(T,)`` residuals, 0 on steps not taken.
    """
    moved = state_log_reward[:-1] - log_flow_tilde[1:] - state_log_reward[1:]
    residual = log_flow_tilde[:-1] + log_pf - log_pb + jnp.where(is_exit, 0.0, moved)
    return jnp.where(is_valid, residual, 0.0)


def modified_db(state_log_reward, log_pf, log_pb, log_pf_exit, is_valid, is_exit):
    """Modified DB residuals (Deleu et al., 2022, DAG-GFlowNet, arXiv
    2202.13903, section 3.2), for environments where every state may exit.

    ``log R(s) + log P_F(s'|s) + log P_F(exit|s') - log R(s') - log P_B(s|s')
    - log P_F(exit|s)`` on each non-exit step; no flows and no Z.

    Args:
        state_log_reward: ``(T+1,)`` log R(s_t).
        log_pf, log_pb: ``(T,)``.
        log_pf_exit: ``(T+1,)`` log P_F(exit | s_t).
        is_valid, is_exit: ``(T,)`` bool.

    Returns:
        ``(T,)`` residuals, 0 on exit steps and steps not taken.
    """
    residual = (
        state_log_reward[:-1] + log_pf + log_pf_exit[1:]
        - state_log_reward[1:] - log_pb - log_pf_exit[:-1]
    )  # fmt: skip
    return jnp.where(is_valid & ~is_exit, residual, 0.0)


def subtrajectory_balance(log_flow, log_pf, log_pb, log_reward, is_valid, is_exit, lam):
    """SubTB(lambda) of one trajectory (Madan et al., 2023, arXiv 2209.12782).

    ``sum_{i<j} lam^(j-i) (log F(s_i) + sum_{t=i}^{j-1} log P_F - log F(s_j)
    - sum_{t=i}^{j-1} log P_B)^2 / sum_{i<j} lam^(j-i)`` over the nodes
    ``s_0 .. s_n, s_f`` of the trajectory, where ``F(s_0) = Z`` and the node
    after the exit step has flow R(x). Pairs ending at that node with
    ``i = 0`` are trajectory balance; ``j = i + 1`` is detailed balance.

    Args:
        log_flow: ``(T+1,)`` log F(s_t); entry 0 is log Z.
        log_pf, log_pb: ``(T,)``.
        log_reward: () log R(x).
        is_valid, is_exit: ``(T,)`` bool.
        lam: () lambda > 0.

    Returns:
        () the weighted mean of squared sub-trajectory residuals.
    """
    after_exit = jnp.concatenate([jnp.zeros((1,), bool), is_exit])
    node_flow = jnp.where(after_exit, log_reward, log_flow)
    is_node = jnp.concatenate([jnp.ones((1,), bool), is_valid])
    zero = jnp.zeros((1,), log_pf.dtype)
    cum = jnp.concatenate([zero, jnp.cumsum(jnp.where(is_valid, log_pf - log_pb, 0.0))])
    # residual[i, j] = log F(s_i) - log F(s_j) + cum[j] - cum[i]
    residual = (node_flow - cum)[:, None] - (node_flow - cum)[None, :]
    num_nodes = node_flow.shape[0]
    i, j = jnp.meshgrid(jnp.arange(num_nodes), jnp.arange(num_nodes), indexing="ij")
    use = (i < j) & is_node[None, :]
    weight = jnp.where(use, jnp.power(lam, (j - i).astype(log_pf.dtype)), 0.0)
    return jnp.sum(weight * jnp.square(residual)) / jnp.sum(weight)


def flow_matching(
    log_edge, is_edge, log_edge_in, is_parent, log_reward, is_valid, is_exit
):
    """Flow matching residuals (Bengio et al., 2021, arXiv 2106.04399),
    in log space without its epsilon, with the exit as an edge.

    The forward policy's logits are the log edge flows ``log F(s -> s')``
    (so ``P_F = softmax`` of them). For each visited state other than s0 and
    the terminal one: ``log sum_parents F(p -> s) - log sum_children F(s -> c)``
    (the exit edge among the children); and for the object x,
    ``log F(x -> s_f) - log R(x)`` (reward matching).

    Args:
        log_edge: ``(T+1, A)`` log edge flows out of s_t.
        is_edge: ``(T+1, A)`` bool, P_F's mask.
        log_edge_in: ``(T+1, A)`` log edge flow from parent ``a`` of s_t.
        is_parent: ``(T+1, A)`` bool: parent ``a`` exists.
        log_reward: () log R(x).
        is_valid, is_exit: ``(T,)`` bool.

    Returns:
        ``(flow, reward)``: ``(T+1,)`` flow-matching residuals (0 where not
        applied) and the () reward-matching residual.
    """
    is_interior = jnp.concatenate([jnp.zeros((1,), bool), is_valid & ~is_exit])
    inflow = masked_logsumexp(log_edge_in, is_parent)
    outflow = masked_logsumexp(log_edge, is_edge)
    flow = jnp.where(is_interior, inflow - outflow, 0.0)
    exit_flow = jnp.sum(jnp.where(is_exit, log_edge[:-1, -1], 0.0))
    return flow, exit_flow - log_reward


# Two log rewards closer than this are a tie (the OP-GFN code's 1e-6).
ORDER_TIE_TOLERANCE = 1e-6


def order_labels(log_reward, partner_log_reward, tie_tolerance=ORDER_TIE_TOLERANCE):
    """Pairwise order labels (Chen & Mauch, 2024, Order-Preserving GFlowNets,
    arXiv 2310.00386): the target probability that ``x`` ranks above its
    partner ``x'``.

    Args:
        log_reward, partner_log_reward: same shape, the true log R of each
            object and of its partner.
        tie_tolerance: ``|log R(x) - log R(x')|`` at most this is a tie.

    Returns:
        1 where ``R(x) > R(x')``, 0 where ``R(x) < R(x')``, 1/2 on a tie (the
        label pair ``(1/2, 1/2)``).
    """
    gap = log_reward - partner_log_reward
    won = (gap > 0).astype(jnp.result_type(gap, jnp.float32))
    return jnp.where(jnp.abs(gap) <= tie_tolerance, 0.5, won)


def pairwise_order_loss(log_r_hat, partner_log_r_hat, label):
    """Cross-entropy between the pair's order label ``(label, 1 - label)`` and
    ``softmax([log R^(x), log R^(x')])``: for a strict order this is
    ``-log sigmoid(log R^(winner) - log R^(loser))``.

    Args:
        log_r_hat, partner_log_r_hat: the learned log R^ of ``x`` and ``x'``.
        label: :func:`order_labels`.

    Returns:
        the per-pair loss, the shape of the inputs.
    """
    margin = log_r_hat - partner_log_r_hat
    return -(
        label * jax.nn.log_sigmoid(margin) + (1.0 - label) * jax.nn.log_sigmoid(-margin)
    )


def order_loss(
    log_r_hat, log_reward, partner, tie_tolerance=ORDER_TIE_TOLERANCE, is_valid=None
):
    """The single-objective order-preserving loss of a batch (Chen & Mauch,
    2024): each object is paired with ``partner`` (a permutation of the
    batch, as in the paper's code), labelled by :func:`order_labels` from the
    true rewards, and scored by :func:`pairwise_order_loss` on the learned
    estimates; the mean over pairs.

    Args:
        log_r_hat: ``(B,)`` the GFlowNet's own log R^(x).
        log_reward: ``(B,)`` the true log R(x); used for the labels only (no
            gradient flows into it).
        partner: ``(B,)`` int, the index of each object's partner.
        tie_tolerance: see :func:`order_labels`.
        is_valid: ``(B,)`` bool or None: only pairs of two valid objects
            count.

    Returns:
        () the mean pairwise cross-entropy over the counted pairs (0 if none).
    """
    log_reward = jax.lax.stop_gradient(log_reward)
    label = order_labels(log_reward, log_reward[partner], tie_tolerance)
    loss = pairwise_order_loss(log_r_hat, log_r_hat[partner], label)
    if is_valid is None:
        return jnp.mean(loss)
    counted = is_valid & is_valid[partner]
    total = jnp.sum(jnp.where(counted, loss, 0.0))
    return total / jnp.maximum(jnp.sum(counted), 1).astype(loss.dtype)


def non_dominated(objectives, is_valid=None):
    """``(N,)`` bool: the points no other point Pareto-dominates (maximisation).

    ``y`` dominates ``x`` when ``y >= x`` in every objective and ``y > x`` in
    at least one. Equal points do not dominate each other, so every copy of
    a non-dominated point is non-dominated (no deduplication, as the OP-GFN
    code's ``is_non_dominated(..., deduplicate=False)``).

    Args:
        objectives: ``(N, K)``.
        is_valid: ``(N,)`` bool or None: invalid points neither dominate nor
            are non-dominated.
    """
    if is_valid is None:
        is_valid = jnp.ones(objectives.shape[:1], bool)
    x, y = objectives[:, None, :], objectives[None, :, :]  # [i, j]: j against i
    dominates = jnp.all(y >= x, axis=-1) & jnp.any(y > x, axis=-1) & is_valid[None]
    return is_valid & ~jnp.any(dominates, axis=1)


def pareto_order_loss(log_r_hat, objectives, is_valid=None):
    """The multi-objective order-preserving loss (Chen & Mauch, 2024): the
    cross-entropy between ``softmax`` over the batch of log R^ and the label
    that is uniform over the batch's non-dominated objects.

    Args:
        log_r_hat: ``(B,)`` the GFlowNet's own log R^(x).
        objectives: ``(B, K)`` the true objective values (maximised); labels
            only.
        is_valid: ``(B,)`` bool or None: the softmax and the labels are over
            the valid objects only.

    Returns:
        () ``-sum_i label_i log softmax(log R^)_i`` (0 with no valid object).
    """
    if is_valid is None:
        is_valid = jnp.ones(log_r_hat.shape, bool)
    is_best = non_dominated(jax.lax.stop_gradient(objectives), is_valid)
    label = is_best / jnp.maximum(jnp.sum(is_best), 1)
    log_q = masked_log_softmax(log_r_hat, is_valid)
    return -jnp.sum(jnp.where(is_best, label * log_q, 0.0))


def tb_log_reward_estimate(log_z, log_pf, log_pb, is_valid):
    """The TB parameterisation's own log R^(x) for one trajectory:
    ``log Z + sum_t log P_F - sum_t log P_B`` (OP-TB's estimate).

    Returns:
        () log R^(x).
    """
    return log_z + jnp.sum(jnp.where(is_valid, log_pf - log_pb, 0.0))


def op_detailed_balance(log_flow, log_pf, log_pb, is_valid, is_exit):
    """Order-preserving DB for one trajectory (Chen & Mauch, 2024, and their
    code): detailed balance on the moves, and on the exit step the estimate
    ``log R^(x) = log F(x) + log P_F(exit | x)`` in place of a residual.

    Args:
        log_flow: ``(T+1,)`` log F(s_t); entry 0 is log Z.
        log_pf, log_pb: ``(T,)``.
        is_valid, is_exit: ``(T,)`` bool.

    Returns:
        ``((T,) residuals`` (0 on the exit step and steps not taken),
        ``() log R^(x))``.
    """
    residual = detailed_balance(log_flow, log_pf, log_pb, 0.0, is_valid & ~is_exit,
                                is_exit)  # fmt: skip
    log_r_hat = jnp.sum(jnp.where(is_exit, log_flow[:-1] + log_pf, 0.0))
    return residual, log_r_hat


def op_subtb_pieces(log_flow, log_pf, log_pb, is_valid, is_exit):
    """One trajectory's sub-trajectories for order-preserving SubTB (Chen &
    Mauch, 2024, and their code), by length ``k = 1 .. T`` (steps, the exit
    included).

    A piece from state ``s_i`` to state ``s_j`` (no exit) has the SubTB
    residual ``log F(s_i) + sum_{t=i}^{j-1} (log P_F - log P_B) - log F(s_j)``;
    a piece from ``s_i`` through the exit has no residual but the estimate
    ``log R^(x) = log F(s_i) + sum_{t>=i} (log P_F - log P_B)`` (with
    ``F(s_0) = Z``; from ``s_0`` it is OP-TB's estimate).

    Args:
        log_flow: ``(T+1,)`` log F(s_t); entry 0 is log Z.
        log_pf, log_pb: ``(T,)``.
        is_valid, is_exit: ``(T,)`` bool.

    Returns:
        ``(squares, counts, log_r_hat, has_piece)``, each ``(T,)`` with entry
        ``k - 1`` for length ``k``: the sum of squared residuals and the
        number of pieces without the exit, and the estimate of the piece
        through the exit and whether the trajectory has one (it has ``k <=
        n + 1`` for ``n`` moves).
    """
    num_steps = log_pf.shape[0]
    is_state = jnp.concatenate([jnp.ones((1,), bool), is_valid & ~is_exit])
    zero = jnp.zeros((1,), log_pf.dtype)
    cum = jnp.concatenate([zero, jnp.cumsum(jnp.where(is_valid, log_pf - log_pb, 0.0))])
    level = log_flow - cum  # residual[i, j] = level[i] - level[j]
    residual = level[:, None] - level[None, :]
    node = jnp.arange(num_steps + 1)
    length = node[None, :] - node[:, None]
    use = (length > 0) & is_state[:, None] & is_state[None, :]
    by_length = (length[..., None] == jnp.arange(1, num_steps + 1)) & use[..., None]
    squares = jnp.sum(
        jnp.where(by_length, jnp.square(residual)[..., None], 0.0), (0, 1)
    )
    counts = jnp.sum(by_length, (0, 1))
    num_moves = jnp.sum(is_valid & ~is_exit)
    start = num_moves + 1 - jnp.arange(1, num_steps + 1)  # first node, by length
    has_piece = start >= 0
    log_r_hat = (level + cum[-1])[jnp.clip(start, 0, num_steps)]
    return squares, counts, jnp.where(has_piece, log_r_hat, 0.0), has_piece


def gfn_loss(
    name: str,
    terms: Terms,
    subtb_lambda: jax.Array,
    *,
    partner: jax.Array | None = None,
    op_weight: jax.Array | float = 0.1,
    op_kl_weight: jax.Array | float = 0.0,
) -> jax.Array:
    """The batch loss of objective ``name`` (``LOSS_NAMES`` or ``OP_LOSS_NAMES``).

    tb, subtb, vargrad: means over trajectories; db, fldb, mdb: means over
    the transitions their residuals cover; fm: mean flow-matching term over
    interior states plus mean reward-matching term over trajectories.
    op-tb: the order loss alone on TB's log R^; op-db, op-subtb and op-fm:
    their balance terms plus ``op_weight`` times the order loss on their log R^
    (see :func:`order_preserving_loss`).

    Args:
        partner: ``(B,)`` each object's partner in the pairwise order loss (a
            permutation); needed by the OP objectives on a single objective.
        op_weight: the order loss's weight in op-db, op-subtb and op-fm.
        op_kl_weight: the weight of :func:`backward_kl_term` in every OP
            objective (lambda_KL; 0 for plain OP-GFN, 0.1 for OP-GFN-KL).
    """
    if name in OP_LOSS_NAMES:
        loss = order_preserving_loss(name, terms, partner, op_weight, subtb_lambda)
        return loss + op_kl_weight * backward_kl_term(terms)
    if name not in LOSS_NAMES:
        known = ", ".join(LOSS_NAMES + OP_LOSS_NAMES)
        raise ValueError(f"unknown loss {name!r}; known: {known}")
    t = terms
    per_traj = jax.vmap  # time-major inputs: the batch axis is 1
    log_flow = t.log_flow.at[0].set(t.log_z)  # F(s0) = Z
    if name == "tb":
        z_axis = 0 if jnp.ndim(t.log_z) else None  # a log Z per trajectory
        residual = per_traj(trajectory_balance, in_axes=(z_axis, 1, 1, 0, 1))(
            t.log_z, t.log_pf, t.log_pb, t.log_reward, t.is_valid
        )
        return jnp.mean(jnp.square(residual))
    if name == "vargrad":
        zeta = per_traj(log_partition_estimate, in_axes=(1, 1, 0, 1))(
            t.log_pf, t.log_pb, t.log_reward, t.is_valid
        )
        return vargrad_loss(zeta)
    if name == "db":
        residual = per_traj(detailed_balance, in_axes=(1, 1, 1, 0, 1, 1))(
            log_flow, t.log_pf, t.log_pb, t.log_reward, t.is_valid, t.is_exit
        )
        return _mean_over(residual, t.is_valid)
    if name == "fldb":
        tilde = t.log_flow.at[0].set(t.log_z - t.state_log_reward[0])
        residual = per_traj(forward_looking_db, in_axes=1)(
            tilde, t.log_pf, t.log_pb, t.state_log_reward, t.is_valid, t.is_exit
        )
        return _mean_over(residual, t.is_valid)
    if name == "mdb":
        residual = per_traj(modified_db, in_axes=1)(
            t.state_log_reward, t.log_pf, t.log_pb, t.log_pf_exit, t.is_valid,
            t.is_exit,
        )  # fmt: skip
        return _mean_over(residual, t.is_valid & ~t.is_exit)
    if name == "subtb":
        losses = per_traj(subtrajectory_balance, in_axes=(1, 1, 1, 0, 1, 1, None))(
            log_flow, t.log_pf, t.log_pb, t.log_reward, t.is_valid, t.is_exit,
            subtb_lambda,
        )  # fmt: skip
        return jnp.mean(losses)
    if name == "fm":
        if t.log_edge is None:
            raise ValueError("flow matching needs Terms built with use_parent_flows")
        flow, reward = per_traj(flow_matching, in_axes=(1, 1, 1, 1, 0, 1, 1))(
            t.log_edge, t.is_edge, t.log_edge_in, t.is_parent, t.log_reward,
            t.is_valid, t.is_exit,
        )  # fmt: skip
        is_interior = jnp.concatenate(
            [jnp.zeros_like(t.is_valid[:1]), t.is_valid & ~t.is_exit]
        )
        return _mean_over(flow, is_interior) + jnp.mean(jnp.square(reward))
    raise AssertionError(f"loss {name!r} is listed but not implemented")


def order_preserving_loss(
    name: str,
    terms: Terms,
    partner: jax.Array | None,
    op_weight: jax.Array | float = 0.1,
    subtb_lambda: jax.Array | float = 0.9,
) -> jax.Array:
    """An order-preserving objective (Chen & Mauch, 2024, arXiv 2310.00386).

    The reward estimate is the GFlowNet's own log R^(x); the true reward only
    labels the order. With ``terms.objectives`` (several objectives) the
    order loss is :func:`pareto_order_loss`, otherwise :func:`order_loss`
    over the pairs ``(b, partner[b])``.

    - op-tb: :func:`order_loss` on ``log Z + sum log P_F - sum log P_B``,
      with no balance term (no weight: it is the whole loss). The order loss
      does not depend on log Z, which therefore is not learned.
    - op-db: :func:`op_detailed_balance`, the mean squared residual over the
      moves plus ``op_weight`` times the order loss on
      ``log F(x) + log P_F(exit | x)``.
    - op-fm: :func:`flow_matching`'s mean over interior states, with the
      reward-matching term replaced by ``op_weight`` times the order loss
      on ``log R^(x) = log F(x -> s_f)``, the exit edge's flow.
    - op-subtb: :func:`op_subtb_pieces`; for each length ``k``, the mean
      squared residual of the batch's pieces of that length without the
      exit plus ``op_weight`` times the order loss among the pieces of that
      length through the exit (one per long enough trajectory; pairs with a
      missing piece are left out); lengths weighted by ``lambda^(k-1)``
      normalised to sum 1 (``subtb_lambda``; the OP-GFN code's "geometric"
      weighting, over ``T = env.max_length`` lengths).
    """
    t = terms
    if name == "op-tb":
        # WARN: the order loss is blind to log Z, but rounding leaves its
        # gradient a tiny nonzero that Adam would scale up to full steps: a
        # random walk of log Z. Stopping the gradient keeps it at its start.
        log_z = jax.lax.stop_gradient(t.log_z)
        log_r_hat = jax.vmap(tb_log_reward_estimate, in_axes=(None, 1, 1, 1))(
            log_z, t.log_pf, t.log_pb, t.is_valid
        )
        return _order_term(t, log_r_hat, partner)
    if name == "op-db":
        log_flow = t.log_flow.at[0].set(t.log_z)
        residual, log_r_hat = jax.vmap(op_detailed_balance, in_axes=1, out_axes=(1, 0))(
            log_flow, t.log_pf, t.log_pb, t.is_valid, t.is_exit
        )
        balance = _mean_over(residual, t.is_valid)
        return balance + op_weight * _order_term(t, log_r_hat, partner)
    if name == "op-fm":
        if t.log_edge is None:
            raise ValueError("flow matching needs Terms built with use_parent_flows")
        flow, exit_flow = jax.vmap(flow_matching, in_axes=(1, 1, 1, 1, None, 1, 1))(
            t.log_edge, t.is_edge, t.log_edge_in, t.is_parent, 0.0, t.is_valid,
            t.is_exit,
        )  # fmt: skip
        is_interior = jnp.concatenate(
            [jnp.zeros_like(t.is_valid[:1]), t.is_valid & ~t.is_exit]
        )
        order = _order_term(t, exit_flow, partner)
        return _mean_over(flow, is_interior) + op_weight * order
    if name == "op-subtb":
        log_flow = t.log_flow.at[0].set(t.log_z)
        squares, counts, log_r_hat, has_piece = jax.vmap(op_subtb_pieces, in_axes=1)(
            log_flow, t.log_pf, t.log_pb, t.is_valid, t.is_exit
        )  # each (B, T)
        weight = jnp.power(
            subtb_lambda, jnp.arange(squares.shape[1], dtype=squares.dtype)
        )
        weight = weight / jnp.sum(weight)
        balance = jnp.sum(squares, 0) / jnp.maximum(jnp.sum(counts, 0), 1)
        order = jax.vmap(
            lambda est, valid: _order_term(t, est, partner, valid), in_axes=1
        )(log_r_hat, has_piece)
        return jnp.sum(weight * (balance + op_weight * order))
    raise ValueError(f"unknown order-preserving loss {name!r}; known: "
                     f"{', '.join(OP_LOSS_NAMES)}")  # fmt: skip


def backward_kl_term(terms: Terms) -> jax.Array:
    """The OP-GFN-KL regulariser (Chen & Mauch, 2024, and their code): the
    mean over the batch's visited states other than s0 and the objects of
    ``KL(uniform over the valid parents || P_B(. | s))``; 0 without a
    learned P_B. It keeps P_B from collapsing while only orders are fitted.
    """
    if terms.backward_kl is None:
        raise ValueError("the KL term needs Terms with backward_kl")
    is_state = jnp.concatenate(
        [jnp.zeros_like(terms.is_valid[:1]), terms.is_valid & ~terms.is_exit]
    )
    count = jnp.maximum(jnp.sum(is_state), 1).astype(terms.backward_kl.dtype)
    return jnp.sum(jnp.where(is_state, terms.backward_kl, 0.0)) / count


def _order_term(terms: Terms, log_r_hat, partner, is_valid=None):
    if terms.objectives is not None:
        return pareto_order_loss(log_r_hat, terms.objectives, is_valid)
    if partner is None:
        raise ValueError("a single-objective order loss needs partner (a "
                         "permutation of the batch)")  # fmt: skip
    return order_loss(log_r_hat, terms.log_reward, partner, is_valid=is_valid)


def _mean_over(residual: jax.Array, counted: jax.Array) -> jax.Array:
    """Mean squared residual over the ``counted`` entries (0 if none)."""
    count = jnp.maximum(jnp.sum(counted), 1).astype(residual.dtype)
    return jnp.sum(jnp.square(residual)) / count
