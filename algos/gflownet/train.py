"""GFlowNet training as an engine program, and ``make_train`` for notebooks.

One engine step is ``eval_every`` training iterations (sample a batch of
trajectories with the behaviour policy, compute the objective with the
forward policy's own log-probabilities, one Adam update) followed by one
exact evaluation of the forward policy. The evaluation schedule is thus
static (a Python loop length), not a ``lax.cond`` on a step counter that
``vmap`` would batch.

An enumerable environment is evaluated over every state (L1, KL, JSD, log Z
error, Spearman over every object). One too large to enumerate is evaluated
on its modes: it must be a tree (``env.is_tree``) and its reward must list
its modes (``mode_distances(state) -> (K,)``, ``mode_threshold``,
``test_objects()``); ``modes_found`` then counts the modes some sampled
object has come within ``mode_threshold`` of (the set is kept in the state),
and ``spearman`` compares the exact log p(x) with log R(x) on the test
objects. The other distances are left out of its metrics.
"""

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxrl.algos.gflownet.artifacts import write_artifacts
from jaxrl.algos.gflownet.checks import check_log_rewards
from jaxrl.algos.gflownet.config import (
    LOG_Z_LOSSES,
    OP_LOSS_NAMES,
    PARENT_FLOW_LOSSES,
    Config,
    HParams,
    check_hparams,
)
from jaxrl.algos.gflownet.evaluation import (
    enumerate_states,
    exact_metrics,
    mark_found_modes,
    spearman,
    terminating_log_probs,
    tree_log_probs,
)
from jaxrl.algos.gflownet.losses import gfn_loss, log_partition_estimate
from jaxrl.algos.gflownet.pareto import ParetoMetrics, pareto_metrics
from jaxrl.algos.gflownet.policies import (
    _MLP,
    GFNPolicy,
    forward_and_hidden,
    masked_logsumexp,
    parameter_gradient,
    remaining_outputs,
)
from jaxrl.algos.gflownet.preference import (
    append_condition,
    draw_preferences,
    evaluation_preferences,
    mixture_log_probs,
    preference_condition,
    scalarise_terms,
)
from jaxrl.algos.gflownet.replay import ReplayBuffer, add, draw, init_buffer
from jaxrl.algos.gflownet.trajectories import (
    Compaction,
    compacted_switch,
    compaction,
    map_states,
    prefix_apply,
    reused_apply,
    sample_keeping,
    sample_trajectories,
    trajectory_terms,
    visited_states,
)
from jaxrl.program import Curve, Program, all_finite, scan_program


@struct.dataclass
class GFNParams:
    """Trained parameters: the networks, and log Z (its own learning rate)."""

    net: Any  # flax parameters of GFNPolicy
    # () float32; Config.conditional: the parameters of the log Z(beta) MLP
    log_z: Any


@struct.dataclass
class GFNState:
    """Everything a run carries from one step to the next."""

    params: GFNParams
    opt_state: Any  # optax state
    key: jax.Array  # typed PRNG key
    iteration: jax.Array  # () int32, training iterations done
    # (num_states,) bool: objects sampled at least once; (0,) where the
    # environment is not enumerable
    is_visited: jax.Array
    batch_log_z: jax.Array  # () float32, last batch's mean log Z estimate
    replay: ReplayBuffer | None = None  # Config.replay_size > 0 only
    # (num_modes,) bool, a reward that lists its modes on an environment that
    # is not enumerable: modes some sampled object came within
    # mode_threshold of; None otherwise
    is_mode_found: jax.Array | None = None


class Metrics(NamedTuple):
    """Per-step metrics (one step = ``eval_every`` iterations + evaluation).

    Fields marked "enumerable" are None (absent from the history) for an
    environment evaluated on its modes."""

    loss: jax.Array  # () mean training loss over the step's iterations
    log_reward: jax.Array  # () mean log R of the objects sampled for training
    l1: jax.Array | None  # () sum_x |p(x) - R(x)/Z| (enumerable)
    l1_mean: jax.Array | None  # () the same, averaged over objects (enumerable)
    kl: jax.Array | None  # () KL(R/Z || p) (enumerable)
    jsd: jax.Array | None  # () Jensen-Shannon divergence, p and R/Z (enumerable)
    log_z: jax.Array  # () the learned log Z
    logz_error: jax.Array | None  # () |learned log Z - true log Z| (enumerable)
    # () int32: enumerable, reward modes (is_mode) sampled at least once; else
    # modes some sampled object came within the reward's mode_threshold of
    modes_found: jax.Array
    # () Spearman correlation of log p(x) and log R(x) over every object
    # (enumerable) or over the reward's test objects
    spearman: jax.Array
    # rewards with several objectives only (else None, absent from the
    # history): probability on the true front, IGD, IGD+, hypervolume
    pareto: ParetoMetrics | None = None


LOG_Z_WIDTH = 32  # hidden width of a conditional GFlowNet's log Z(beta) MLP
_LOWER_IS_BETTER = ("l1", "kl", "logz_error", "jsd", "pareto.igd", "pareto.igd_plus")


@dataclasses.dataclass(frozen=True)
class _Setup:
    """Python-side objects a run closes over (static)."""

    config: Config
    env: Any
    reward: Any
    network: GFNPolicy
    state_ndim: int  # ndim of the first leaf of one state
    # Config.conditional or preference: condition (.., C) -> log Z (.., 1)
    log_z_model: Any = None
    num_modes: int = 0  # modes the reward lists (not enumerable), else 0
    num_objectives: int = 0  # K of a reward with several objectives, else 0

    @property
    def is_enumerable(self) -> bool:
        return bool(getattr(self.env, "is_enumerable", False))

    @property
    def condition_width(self) -> int:
        """C, the columns appended to each observation: ``[w, beta]`` for a
        preference-conditioned run, ``beta`` for a conditional one, or none."""
        if self.config.is_preference:
            return self.num_objectives + 1
        return 1 if self.config.conditional else 0


class _Condition(NamedTuple):
    """What each trajectory of a conditional or preference batch is
    conditioned on."""

    inputs: jax.Array  # (B, C) appended to the observations: beta, or [w, beta]
    beta: jax.Array  # (B,) the reward exponent
    weights: jax.Array | None  # (B, K) preference weights (Config.preference)


def make_program(config: Config, env, reward, target: str | None = None) -> Program:
    """A GFlowNet as an engine program.

    Args:
        config: static settings (``config.loss`` picks the objective).
        env: an enumerable :class:`~jaxrl.envs.gfn.base.GFNEnvironment`
            (exact evaluation lists its states), or a tree-shaped one
            (``is_tree``) whose reward lists its modes (see the module
            docstring).
        reward: an object with ``log_reward(state)``, and ``is_mode(state)``
            for ``modes_found`` (0 without it); on an environment that is not
            enumerable, ``mode_distances``, ``mode_threshold`` and
            ``test_objects`` too. A reward with several
            objectives also has ``objectives(state) -> (K,)`` (maximised) and
            optionally ``reference_point`` (the hypervolume's, default 0):
            it trains with an order-preserving loss or preference-conditioned
            (``Config.preference``, :mod:`.preference`), and each
            evaluation adds ``pareto`` metrics (:mod:`.pareto`).
        target: the environment's id, recorded in the run directory.

    Returns:
        A :class:`jaxrl.program.Program`; ``work_per_step`` is
        ``eval_every * batch_size`` trajectories.

    Raises:
        TypeError: ``config`` is not a gflownet ``Config``.
        ValueError: the environment cannot be enumerated (and is not a tree
            with a reward that lists its modes), a reward is zero,
            negative or NaN (no finite log R), or the objective needs every
            state to be able to exit and here it cannot, or the reward has
            several objectives and the loss is not order-preserving nor the
            run preference-conditioned, or a preference-conditioned run has
            a reward with one objective.
    """
    if not isinstance(config, Config):
        raise TypeError(
            f"config must be a gflownet.Config, got {type(config).__name__}"
        )
    is_enumerable = bool(getattr(env, "is_enumerable", False))
    if not is_enumerable:
        _check_mode_evaluation(env, reward)
    if config.loss in ("mdb", "fldb") and not env.has_exit_everywhere:
        raise ValueError(
            f"loss {config.loss!r} needs log R on every state (every state may "
            f"exit); {env!r} does not allow that"
        )
    is_multi = hasattr(reward, "objectives")
    if config.is_preference and not is_multi:
        raise ValueError(
            f"Config.preference={config.preference!r} weighs the objectives of a "
            f"reward with several (reward.objectives); {reward!r} has one scalar "
            "reward: use Config.preference='none'"
        )
    if is_multi and not (config.is_order_preserving or config.is_preference):
        raise ValueError(
            f"{reward!r} has several objectives and no scalar reward to balance; "
            f"Config.loss must be order-preserving ({', '.join(OP_LOSS_NAMES)}), "
            f"got {config.loss!r}, or Config.preference 'dirichlet' (a scalar "
            "reward per preference)"
        )
    if is_multi and not is_enumerable:
        raise ValueError(f"{reward!r} has several objectives; their metrics need an "
                         f"enumerable environment, and {env!r} is not")  # fmt: skip
    num_modes = 0
    if is_enumerable:
        check_log_rewards(env, reward)
    else:
        num_modes = _check_test_objects(env, reward)
    network = GFNPolicy(
        num_actions=env.num_actions,
        hidden_size=config.hidden_size,
        use_learned_backward=config.use_learned_backward,
        use_flow=config.uses_flow,
        use_shared_trunk=config.use_shared_trunk,
    )
    curves = (Curve("l1", "L1 to R/Z"), Curve("kl", "KL(R/Z || p)"))
    if not is_enumerable:
        curves = (Curve("spearman", "Spearman(log p, log R), test set"),)
    if is_multi:
        curves = (Curve("pareto.mass", "probability on the Pareto front"),
                  Curve("pareto.igd", "IGD to the Pareto front"))  # fmt: skip
    state_ndim = jax.tree.leaves(jax.eval_shape(env.initial_state))[0].ndim
    is_conditioned = config.conditional or config.is_preference
    log_z_model = _MLP(LOG_Z_WIDTH, 1) if is_conditioned else None
    num_objectives = 0
    if is_multi:
        s0 = jax.eval_shape(env.initial_state)
        num_objectives = jax.eval_shape(reward.objectives, s0).shape[-1]
    setup = _Setup(config, env, reward, network, state_ndim, log_z_model, num_modes,
                   num_objectives)  # fmt: skip
    artifacts = None
    # a preference-conditioned policy has no one distribution to write
    if is_enumerable and not config.is_preference:

        def artifacts(state, run_dir):
            return write_artifacts(env, reward, network, state, run_dir,
                                   conditional=config.conditional)  # fmt: skip

    return Program(
        init=lambda key, hparams: _init(setup, key, hparams),
        step=lambda state, hparams: _step(setup, hparams, state),
        num_steps=config.num_evaluations,
        work_per_step=config.eval_every * config.batch_size,
        work_unit="trajectories",
        final=final_scores,
        primary="pareto.mass" if is_multi else "l1" if is_enumerable else "modes_found",
        curves=(*curves, Curve("modes_found", "modes found")),
        lower_is_better=_LOWER_IS_BETTER,
        is_healthy=lambda state: all_finite((state.params, state.opt_state)),
        check_hparams=check_hparams,
        artifacts=artifacts,
        description={
            "algorithm": "gfn",
            "target": target or repr(env),
            "config": dataclasses.asdict(config),
        },
    )


def make_train(config: Config, env, reward):
    """GFlowNet training for notebooks: :func:`make_program` in one scan.

    Returns:
        ``train(key, hparams=HParams()) -> TrainOutput``, pure and
        jit/vmap-able; metrics leaves have a leading ``[num_evaluations]``
        axis.
    """
    return scan_program(make_program(config, env, reward), HParams())


def make_optimizer(hparams: HParams) -> optax.GradientTransformation:
    """Adam on the networks (``lr``) and on log Z (``lr_log_z``).

    Built inside the step so that traced learning rates work under vmap.
    """

    def labels(params: GFNParams) -> GFNParams:
        return GFNParams(
            net=jax.tree.map(lambda _: "net", params.net),
            log_z=jax.tree.map(lambda _: "log_z", params.log_z),
        )

    return optax.multi_transform(
        {"net": optax.adam(hparams.lr), "log_z": optax.adam(hparams.lr_log_z)},
        labels,
    )


def final_scores(history: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each run's last evaluation: ``l1``, ``kl``, ``jsd``, ``logz_error``
    (enumerable environments), ``modes_found``, ``spearman`` (and the
    ``pareto.*`` metrics of a reward with several objectives), as ``(R,)``
    float64 arrays."""
    names = ("l1", "kl", "jsd", "logz_error", "modes_found", "spearman")
    names += ("pareto.mass", "pareto.igd", "pareto.igd_plus", "pareto.hypervolume")
    return {
        name: np.asarray(history[name], np.float64)[:, -1]
        for name in names
        if name in history
    }


def _init(setup: _Setup, key: jax.Array, hparams: HParams) -> GFNState:
    key, k_net, k_log_z = jax.random.split(key, 3)
    obs = jnp.zeros((1, setup.env.observation_size), jnp.float32)
    if setup.log_z_model is None:
        params = GFNParams(setup.network.init(k_net, obs), jnp.float32(0.0))
    else:
        ones = jnp.ones((1, setup.condition_width), jnp.float32)
        net = setup.network.init(k_net, append_condition(obs, ones))
        params = GFNParams(net, setup.log_z_model.init(k_log_z, ones))
    return GFNState(
        params=params,
        opt_state=make_optimizer(hparams).init(params),
        key=key,
        iteration=jnp.int32(0),
        is_visited=jnp.zeros(
            (setup.env.num_states if setup.is_enumerable else 0,), bool
        ),
        batch_log_z=jnp.float32(0.0),
        replay=_empty_replay(setup),
        is_mode_found=(
            None if setup.is_enumerable else jnp.zeros((setup.num_modes,), bool)
        ),
    )


def _empty_replay(setup: _Setup) -> ReplayBuffer | None:
    config = setup.config
    if config.replay_size == 0:
        return None
    like = jax.eval_shape(
        lambda key: sample_trajectories(
            setup.env, lambda obs: jnp.zeros((obs.shape[0], setup.env.num_actions)),
            key, 1, 0.0, 1.0,
        ),
        jax.random.key(0),
    )  # fmt: skip
    return init_buffer(like, config.replay_size)


def _with_inputs(obs: jax.Array, inputs: jax.Array | None) -> jax.Array:
    """``obs`` with the condition ``inputs (B, C)`` appended, if any."""
    return obs if inputs is None else append_condition(obs, inputs)


def _apply(setup: _Setup, net_params, states, inputs=None):
    """Policy outputs for states with any leading shape (``inputs``: each
    trajectory's condition ``(B, C)``, broadcast over the leading axes)."""
    num_axes = jax.tree.leaves(states)[0].ndim - setup.state_ndim
    obs = map_states(setup.env.observe, states, num_axes)
    return setup.network.apply(net_params, _with_inputs(obs, inputs))


def _compacted(setup: _Setup, net_params, plan: Compaction, length: int, inputs=None):
    """``apply`` for :func:`trajectory_terms` that runs the network on the
    first ``length`` rows of ``plan``, which hold the visited states
    (:func:`prefix_apply`); outputs of the padding repeats are zeros, which
    no objective reads."""

    def apply(states):
        lead = jax.tree.leaves(states)[0].shape[:2]
        obs = _with_inputs(map_states(setup.env.observe, states, 2), inputs)
        obs = obs.reshape(plan.order.shape[0], -1)
        out = prefix_apply(lambda o: setup.network.apply(net_params, o), obs, plan,
                           length)  # fmt: skip
        return jax.tree.map(lambda x: x.reshape(*lead, *x.shape[1:]), out)

    return apply


def _reused(setup: _Setup, net_params, plan: Compaction, length: int, kept):
    """``apply`` for :func:`trajectory_terms` that hands back the outputs the
    sampling pass ``kept`` (:func:`_sampling_policy`), their gradient rebuilt
    from its activations on the first ``length`` rows of ``plan``
    (:func:`reused_apply`)."""

    def gradient(net_params, rows, cotangent):
        return parameter_gradient(setup.network, net_params, *rows, cotangent)

    def apply(states):
        lead = jax.tree.leaves(states)[0].shape[:2]
        n = plan.order.shape[0]
        obs, hidden, outputs = jax.tree.map(lambda x: x.reshape(n, *x.shape[2:]), kept)
        out = reused_apply(gradient, net_params, outputs, (obs, hidden), plan, length)
        return jax.tree.map(lambda x: x.reshape(*lead, *x.shape[1:]), out)

    return apply


def _sampling_policy(setup: _Setup, net_params, inputs):
    """``obs -> (forward logits, (forward logits, hidden))`` for
    :func:`sample_keeping`: P_F, and the activations its gradient needs
    kept; :func:`_kept_outputs` adds the rest after the loop."""

    def policy(obs):
        logits, hidden = forward_and_hidden(setup.network, net_params,
                                            _with_inputs(obs, inputs))  # fmt: skip
        return logits, (logits, hidden)

    return policy


def _kept_outputs(setup: _Setup, net_params, inputs, traj, kept):
    """What :func:`_reused` takes, ``(obs, hidden, outputs)`` with leaves
    ``(T+1, B, ...)``, from the sampling loop's ``(forward logits, hidden)``:
    the observations and the other heads, for every state at once."""
    logits, hidden = kept
    obs = _with_inputs(map_states(setup.env.observe, traj.states, 2), inputs)
    outputs, hidden = remaining_outputs(setup.network, net_params, obs, logits, hidden)
    return obs, hidden, outputs


def _loss(params: GFNParams, setup: _Setup, hparams: HParams, traj, partner,
          condition: _Condition | None = None, plan: Compaction | None = None,
          length: int = 0, kept=None):  # fmt: skip
    """The objective on ``traj``; with a ``plan`` (compacted rollouts) the
    network runs on its first ``length`` rows only, and with what the
    sampling pass ``kept`` (reused rollouts) not at all (its backward pass
    runs on those rows)."""
    inputs = None if condition is None else condition.inputs
    if kept is not None:
        apply = _reused(setup, params.net, plan, length, kept)
    elif plan is not None:
        apply = _compacted(setup, params.net, plan, length, inputs)
    else:
        def apply(states):
            return _apply(setup, params.net, states, inputs)
    log_z = params.log_z
    if setup.log_z_model is not None:
        log_z = setup.log_z_model.apply(params.log_z, inputs)[:, 0]
    weights = None if condition is None else condition.weights
    terms = trajectory_terms(
        setup.env,
        setup.reward,
        traj,
        apply,
        log_z,
        use_parent_flows=setup.config.loss in PARENT_FLOW_LOSSES,
        reward_scale=None if condition is None or weights is not None
        else condition.beta,
    )  # fmt: skip
    if weights is not None:  # (w . r)**beta in place of the (absent) scalar R
        terms = scalarise_terms(terms, setup.reward, traj.states, weights,
                                condition.beta)  # fmt: skip
    loss = gfn_loss(
        setup.config.loss, terms, hparams.subtb_lambda, partner=partner,
        op_weight=hparams.op_weight, op_kl_weight=hparams.op_kl_weight,
    )  # fmt: skip
    return loss, terms


def _iteration(setup: _Setup, hparams: HParams, optimizer, state: GFNState):
    """One training iteration: sample, loss, Adam update, visited objects."""
    config, env = setup.config, setup.env
    partner = None
    if config.is_order_preserving:  # only these draw a pairing (same streams)
        key, k_sample, k_pair = jax.random.split(state.key, 3)
        partner = jax.random.permutation(k_pair, config.train_batch)
    else:
        key, k_sample = jax.random.split(state.key)
    key, condition = _draw_condition(setup, hparams, key)
    inputs = None if condition is None else condition.inputs

    def forward_logits(obs):
        return setup.network.apply(
            state.params.net, _with_inputs(obs, inputs),
            method=GFNPolicy.forward_logits,
        )  # fmt: skip

    rollout = config.resolved_rollout
    kept = None
    if rollout == "reused":
        # the behaviour policy's logits are P_F's (epsilon and temperature
        # only reshape them), so the loss may reuse this pass on-policy
        traj, kept = sample_keeping(
            env, _sampling_policy(setup, state.params.net, inputs), k_sample,
            config.batch_size, hparams.epsilon, hparams.temperature,
        )  # fmt: skip
        kept = _kept_outputs(setup, state.params.net, inputs, traj, kept)
    else:
        traj = sample_trajectories(
            env, forward_logits, k_sample, config.batch_size, hparams.epsilon,
            hparams.temperature,
        )  # fmt: skip
    objects = jax.tree.map(lambda x: x[-1], traj.states)
    trained = traj
    if state.replay is not None:
        key, k_replay = jax.random.split(key)
        replay = add(state.replay, traj, jax.vmap(setup.reward.log_reward)(objects))
        replayed = draw(replay, k_replay, config.replay_batch, config.replay_priority)
        trained = jax.tree.map(lambda a, b: jnp.concatenate([a, b], axis=1),
                               traj, replayed)  # fmt: skip
        state = state.replace(replay=replay)
    grad_fn = jax.value_and_grad(_loss, has_aux=True)
    if rollout in ("compacted", "reused"):
        # the switch on the prefix length holds the whole gradient (see
        # compacted_switch)
        plan, lengths = compaction(visited_states(trained).reshape(-1),
                                   config.train_batch)  # fmt: skip

        def branch(length, params):
            return grad_fn(params, setup, hparams, trained, partner, condition,
                           plan, length, kept)  # fmt: skip

        (loss, terms), grads = compacted_switch(plan, lengths, branch, state.params)
    else:
        (loss, terms), grads = grad_fn(state.params, setup, hparams, trained,
                                       partner, condition)  # fmt: skip
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    zeta = jax.vmap(log_partition_estimate, in_axes=(1, 1, 0, 1))(
        terms.log_pf, terms.log_pb, terms.log_reward, terms.is_valid
    )
    if setup.is_enumerable:
        index = jax.vmap(env.state_index)(objects)
        state = state.replace(is_visited=state.is_visited.at[index].set(True))
    else:
        distances = jax.vmap(setup.reward.mode_distances)(objects)
        state = state.replace(
            is_mode_found=mark_found_modes(
                state.is_mode_found, distances, setup.reward.mode_threshold
            )
        )
    state = state.replace(
        params=optax.apply_updates(state.params, updates),
        opt_state=opt_state,
        key=key,
        iteration=state.iteration + 1,
        batch_log_z=jnp.mean(zeta),
    )
    return state, (loss, jnp.mean(terms.log_reward[: config.batch_size]))


def _draw_condition(setup: _Setup, hparams: HParams, key: jax.Array):
    """``(key, condition)``: each trajectory's beta, uniform in ``[beta_low,
    beta_high]``, and with ``Config.preference`` its weights ``w ~
    Dirichlet(preference_alpha)``; condition None for an unconditioned run."""
    config = setup.config
    if not (config.conditional or config.is_preference):
        return key, None
    if config.is_preference:
        key, k_beta, k_weights = jax.random.split(key, 3)
    else:  # the conditional run's streams, unchanged
        key, k_beta = jax.random.split(key)
    beta = jax.random.uniform(
        k_beta, (config.batch_size,), minval=hparams.beta_low,
        maxval=hparams.beta_high,
    )  # fmt: skip
    if not config.is_preference:
        return key, _Condition(beta[:, None], beta, None)
    weights = draw_preferences(k_weights, config.preference_alpha,
                               config.batch_size, setup.num_objectives)  # fmt: skip
    return key, _Condition(preference_condition(weights, beta), beta, weights)


def _step(setup: _Setup, hparams: HParams, state: GFNState):
    """``eval_every`` training iterations, then one evaluation (exact over
    every state, or on the modes of an environment that is not enumerable)."""
    optimizer = make_optimizer(hparams)
    state, (losses, log_rewards) = jax.lax.scan(
        lambda s, _: _iteration(setup, hparams, optimizer, s),
        state,
        length=setup.config.eval_every,
    )
    if setup.is_enumerable:
        state, metrics = _exact_evaluation(setup, state, hparams)
    else:
        state, metrics = _mode_evaluation(setup, state)
    return state, metrics._replace(
        loss=jnp.mean(losses), log_reward=jnp.mean(log_rewards)
    )


def _exact_evaluation(setup: _Setup, state: GFNState, hparams: HParams):
    """Metrics over every state of an enumerable environment (``loss`` and
    ``log_reward`` are filled in by the caller). A preference-conditioned
    run is evaluated on its mixture over the fixed evaluation preferences at
    beta = ``hparams.beta_high`` (:func:`_preference_log_probs`)."""
    env, enum = setup.env, enumerate_states(setup.env, setup.reward)
    net = state.params.net
    obs = enum.obs
    if setup.config.conditional:  # evaluated at beta = 1: against R / Z
        obs = conditioned(obs, jnp.ones(obs.shape[:1], jnp.float32))
    if setup.config.is_preference:
        log_p, log_z = _preference_log_probs(setup, state, enum, hparams.beta_high)
    else:
        logits = setup.network.apply(net, obs, method=GFNPolicy.forward_logits)
        log_p = terminating_log_probs(env, enum, logits)
        start = env.state_index(env.initial_state())
        log_z = _learned_log_z(setup, state, logits[start], enum.forward_mask[start],
                               enum.log_reward[start])  # fmt: skip
    exact = exact_metrics(log_p, enum.log_reward, enum.forward_mask[:, env.exit_action])
    pareto = None
    if hasattr(setup.reward, "objectives"):
        key, k_eval = jax.random.split(state.key)
        state = state.replace(key=key)
        objectives = map_states(setup.reward.objectives, enum.states, 1)
        pareto = pareto_metrics(
            objectives, enum.forward_mask[:, env.exit_action], log_p, k_eval,
            setup.config.pareto_samples, getattr(setup.reward, "reference_point", 0.0),
        )  # fmt: skip
    return state, Metrics(
        loss=jnp.float32(0.0),
        log_reward=jnp.float32(0.0),
        l1=exact.l1,
        l1_mean=exact.l1_mean,
        kl=exact.kl,
        jsd=exact.jsd,
        log_z=log_z,
        logz_error=jnp.abs(log_z - exact.true_log_z),
        modes_found=jnp.sum(state.is_visited & enum.is_mode, dtype=jnp.int32),
        spearman=exact.spearman,
        pareto=pareto,
    )


def _preference_log_probs(setup: _Setup, state: GFNState, enum, beta):
    """``(log p (N,), log Z ())``: the mean over the fixed evaluation
    preferences ``w_m`` of the exact terminating distributions of
    ``P_F(. | w_m, beta)``, and the mean of the learned ``log Z(w_m, beta)``."""
    config = setup.config
    weights = evaluation_preferences(
        config.preference_alpha, config.preference_eval, setup.num_objectives
    )
    inputs = preference_condition(weights, beta)  # (M, K + 1)

    def one(row):
        obs = append_condition(enum.obs, row)
        logits = setup.network.apply(
            state.params.net, obs, method=GFNPolicy.forward_logits
        )
        return terminating_log_probs(setup.env, enum, logits)

    log_p = jax.vmap(one)(inputs)  # (M, N)
    log_z = setup.log_z_model.apply(state.params.log_z, inputs)[:, 0]
    return mixture_log_probs(log_p), jnp.mean(log_z)


def _mode_evaluation(setup: _Setup, state: GFNState):
    """Modes found so far, and the Spearman correlation of the exact log p(x)
    (one path per object) with log R(x) over the reward's test objects."""
    env, reward, net = setup.env, setup.reward, state.params.net

    def forward_logits(obs):
        if setup.config.conditional:  # evaluated at beta = 1
            obs = conditioned(obs, jnp.ones(obs.shape[:-1], jnp.float32))
        return setup.network.apply(net, obs, method=GFNPolicy.forward_logits)

    test = jax.tree.map(jnp.asarray, reward.test_objects())
    log_p = tree_log_probs(env, test, forward_logits)
    log_r = map_states(reward.log_reward, test, 1)
    s0 = env.initial_state()
    log_z = _learned_log_z(
        setup, state, forward_logits(env.observe(s0)), env.forward_mask(s0),
        reward.log_reward(s0),
    )  # fmt: skip
    return state, Metrics(
        loss=jnp.float32(0.0),
        log_reward=jnp.float32(0.0),
        l1=None,
        l1_mean=None,
        kl=None,
        jsd=None,
        log_z=log_z,
        logz_error=None,
        modes_found=jnp.sum(state.is_mode_found, dtype=jnp.int32),
        spearman=spearman(log_p, log_r, jnp.ones(log_p.shape, bool)),
    )


def _check_mode_evaluation(env, reward) -> None:
    """An environment that is not enumerable is evaluated on its modes: it
    must be a tree and its reward must list its modes."""
    needed = ("mode_distances", "mode_threshold", "test_objects")
    missing = [name for name in needed if not hasattr(reward, name)]
    if getattr(env, "is_tree", False) and not missing:
        return
    why = [] if getattr(env, "is_tree", False) else [f"{env!r} is not a tree (is_tree)"]
    if missing:
        why.append(f"{reward!r} lacks {', '.join(missing)}")
    raise ValueError(
        f"{env!r} cannot be enumerated; GFlowNet training here evaluates exactly "
        "over every state, or else on the modes, which needs a tree-shaped "
        f"environment and a reward with {', '.join(needed)}: {'; '.join(why)}"
    )


def _check_test_objects(env, reward) -> int:
    """The reward's test objects are terminal states with a finite log R;
    returns the number of modes (the length of ``mode_distances``).

    Raises:
        ValueError: naming the first test object that is not terminal or
            whose log R is not finite.
    """
    test = reward.test_objects()
    log_r, is_terminal = jax.jit(lambda t: (
        map_states(reward.log_reward, t, 1), map_states(env.is_terminal, t, 1)
    ))(test)  # fmt: skip
    bad = np.flatnonzero(~np.isfinite(np.asarray(log_r)) | ~np.asarray(is_terminal))
    if bad.size:
        raise ValueError(
            f"{reward!r}: test object {bad[0]} has log R = {log_r[bad[0]]} and "
            f"is_terminal = {bool(is_terminal[bad[0]])}; test objects must be "
            "terminal states with a finite log R"
        )
    one = jax.tree.map(lambda x: x[0], test)
    return jax.eval_shape(reward.mode_distances, one).shape[0]


def conditioned(obs: jax.Array, beta: jax.Array | None) -> jax.Array:
    """``obs`` ``(..., D)`` with the condition appended, ``(..., D + 1)``;
    ``beta`` broadcasts over the leading axes (``(B,)`` against ``(T+1, B)``).
    ``obs`` itself when ``beta`` is None."""
    if beta is None:
        return obs
    return append_condition(obs, jnp.asarray(beta, obs.dtype)[..., None])


def _learned_log_z(setup: _Setup, state: GFNState, start_logits, start_mask,
                   start_log_reward) -> jax.Array:  # fmt: skip
    """The model's log Z: the parameter for tb/db/fldb/subtb; for mdb
    ``log R(s0) - log P_F(exit | s0)`` (its implied F(s0)); for (op-)fm the total
    edge flow out of s0; for vargrad the last batch's mean estimate.
    ``start_*``: P_F's logits ``(A,)``, the forward mask and log R at s0."""
    loss = setup.config.loss
    if loss in LOG_Z_LOSSES and setup.log_z_model is not None:
        return setup.log_z_model.apply(state.params.log_z, jnp.ones((1, 1)))[0, 0]
    if loss in LOG_Z_LOSSES:
        return state.params.log_z
    if loss == "vargrad":
        return state.batch_log_z
    if loss in ("fm", "op-fm"):
        return masked_logsumexp(start_logits, start_mask)
    exit_action = setup.env.exit_action
    log_pf_exit = start_logits[exit_action] - masked_logsumexp(start_logits, start_mask)
    return start_log_reward - log_pf_exit
