"""PPO's training loop as an engine program, and ``make_train`` for notebooks.

``make_program(config, env, env_params)`` gives the engine ``init`` and one
update as ``step``; ``make_train`` scans that same program in one piece, so
``jax.jit(jax.vmap(train, in_axes=(0, None)))`` trains many seeds, and a
second ``vmap`` over ``HParams`` sweeps hyperparameters, in one compilation.
"""

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from gymnax.environments import spaces

from jaxrl.algos.intrinsic import (
    RDD,
    RND,
    SimHashCounts,
    init_moments,
    init_reward_scaler,
    scale_rewards,
    standardize,
    update_moments,
)
from jaxrl.algos.ppo import recurrent
from jaxrl.algos.ppo.config import Config, HParams, check_hparams
from jaxrl.algos.ppo.losses import LossInfo, gae, ppo_loss
from jaxrl.algos.ppo.networks import (
    ActorCritic,
    categorical_log_prob,
    gaussian_log_prob,
    make_network,
)
from jaxrl.algos.ppo.shaping import (
    POTENTIALS,
    Potential,
    PotentialInfo,
    check_potential,
    gated_rewards,
    shaping_reward,
)
from jaxrl.batched_reset import batched
from jaxrl.program import Curve, Program, all_finite, scan_program
from jaxrl.rollout import reset_batch, rollout
from jaxrl.wrappers import EpisodeStatistics, EpisodeStats


class Transition(NamedTuple):
    """One rollout step for every environment; leaves are ``(B, ...)``, and
    ``(T, B, ...)`` once a rollout is stacked."""

    obs: Any  # observation acted on
    action: jax.Array  # int32
    log_prob: jax.Array  # float32, under the acting policy
    value: jax.Array  # float32, V(obs)
    reward: jax.Array  # float32
    terminated: jax.Array  # bool
    done: jax.Array  # bool, terminated or truncated
    final_obs: Any  # observation reached (before any auto-reset)
    episode: EpisodeStats  # statistics of episodes that ended on this step
    potential: jax.Array | None = None  # float32 Phi(s), with shaping only
    next_potential: jax.Array | None = None  # Phi(s') before any reset
    reset: jax.Array | None = None  # recurrent only: bool, obs starts an episode
    carry: jax.Array | None = None  # recurrent only: GRU state after the step


@struct.dataclass
class RunnerState:
    """Everything a run carries from one update to the next."""

    params: Any  # network parameters
    opt_state: Any  # optax state
    env_state: Any  # batched environment state, leaves (B, ...)
    obs: Any  # batched current observation, leaves (B, ...)
    key: jax.Array  # typed PRNG key
    update: jax.Array  # () int32, updates done
    intrinsic: Any = None  # the intrinsic-reward module's state, if any
    int_scaler: Any = None  # RewardScaler of the intrinsic rewards, if any
    carry: Any = None  # recurrent only: (B, H) GRU state before ``obs``
    obs_moments: Any = None  # normalize_observations only: RunningMoments
    reset: Any = None  # recurrent only: (B,) bool, ``obs`` starts an episode
    gate_held: Any = None  # gated shaping only: (B,) shaping held this episode


class Metrics(NamedTuple):
    """Per-update metrics; under ``train`` every leaf gains a leading
    ``[num_updates]`` axis (and a seed axis in front of that under vmap)."""

    env_steps: jax.Array  # () int32, environment steps so far (this seed)
    episode_return: jax.Array  # () float32, mean over episodes ended; 0 if none
    episode_length: jax.Array  # () float32, mean over episodes ended; 0 if none
    num_episodes: jax.Array  # () int32, episodes ended during the update
    loss: LossInfo  # means over epochs and minibatches
    # () float32, share of ended episodes the environment called a success;
    # None for environments whose info has no "success"
    success_rate: jax.Array | None = None
    # () float32, mean raw bonus of the rollout; None without Config.intrinsic
    intrinsic_reward: jax.Array | None = None
    # () float32, the bonus module's training loss (RND's predictor error)
    intrinsic_loss: jax.Array | None = None
    # () int32, episodes started in the update on a level another env also
    # started (the optimistic reset's stock ran out); None with exact resets
    shared_resets: jax.Array | None = None


@dataclasses.dataclass(frozen=True)
class _Setup:
    """Python-side objects a run closes over (static)."""

    config: Config
    env: Any
    env_params: Any
    network: ActorCritic
    intrinsic: Any = None  # RND, RDD, SimHashCounts or None
    box: "_ActionBox | None" = None  # continuous actions only
    stepper: Any = None  # the batched stepper over env (jaxrl.batched_reset)


@dataclasses.dataclass(frozen=True)
class _ActionBox:
    """Bounds of a continuous action space, as hashable tuples."""

    low: tuple[float, ...]
    high: tuple[float, ...]

    @classmethod
    def of(cls, space: spaces.Box) -> "_ActionBox":
        shape = space.shape
        low = np.broadcast_to(np.asarray(space.low, np.float32), shape)
        high = np.broadcast_to(np.asarray(space.high, np.float32), shape)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            raise ValueError(
                "continuous PPO needs finite action bounds to squash or clip into; "
                f"got low={low}, high={high}"
            )
        return cls(tuple(low.tolist()), tuple(high.tolist()))

    def squash(self, raw: jax.Array, mode: str) -> jax.Array:
        """The environment's action for a Gaussian sample ``raw`` (..., D):
        clipped to the box, or tanh-squashed and scaled into it."""
        low, high = jnp.asarray(self.low), jnp.asarray(self.high)
        if mode == "tanh":
            return low + 0.5 * (jnp.tanh(raw) + 1.0) * (high - low)
        return jnp.clip(raw, low, high)


def make_program(
    config: Config,
    env,
    env_params=None,
    target: str | None = None,
    potential: Potential | None = None,
) -> Program:
    """PPO as an engine program: one step is one update (rollout, GAE, epochs).

    Args:
        config: static sizes and loop lengths.
        env: a gymnax-style environment with a discrete action space (ours,
            gymnax's, or the user's).
        env_params: the environment's params; ``env.default_params`` if None.
        target: the environment's id, recorded in the run directory.
        potential: a shaping potential ``(env_state, env_params) -> ()``
            float32 of the unwrapped environment's state; it replaces the one
            ``config.shaping`` names. The rollout's rewards become
            ``r + shaping_coef * (gamma * Phi(s') - Phi(s))`` (0 potential
            after a termination); episode returns stay the task's own.

    Returns:
        A :class:`jaxrl.program.Program` whose ``init(key, hparams)`` builds
        a :class:`RunnerState` and whose ``step`` does one update and returns
        its :class:`Metrics`.

    Raises:
        TypeError: ``config`` is not a :class:`Config`, the action space is
            not discrete, or the potential does not return a () float.
        ValueError: shaping on an environment whose ended states are hidden.
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be a ppo.Config, got {type(config).__name__}")
    env_params = env.default_params if env_params is None else env_params
    action_space = env.action_space(env_params)
    continuous = isinstance(action_space, spaces.Box)
    if not (continuous or isinstance(action_space, spaces.Discrete)):
        raise TypeError(
            "PPO here needs a Discrete or Box action space, got "
            f"{type(action_space).__name__}"
        )
    if continuous and (len(action_space.shape) != 1 or config.recurrent):
        raise ValueError(
            "continuous PPO takes a 1-D Box action space and a feed-forward "
            f"policy; got shape {action_space.shape}, recurrent={config.recurrent}"
        )
    if config.normalize_observations:
        if config.recurrent:
            raise ValueError("Config.normalize_observations is not available with "
                             "Config.recurrent")  # fmt: skip
        _check_flat_observations(env, env_params)
    network = make_network(
        env.observation_space(env_params),
        action_space.shape[0] if continuous else int(action_space.n),
        config.hidden_size,
        config.embed_dim,
        config.num_value_heads,
        config.recurrent,
        continuous,
    )
    if potential is None and config.shaping != "none":
        potential = POTENTIALS[config.shaping]
    if potential is not None:
        check_potential(env, env_params, potential, config.shaping)
        env = PotentialInfo(env, potential)
    elif config.gated_shaping:
        raise ValueError(
            "Config.gated_shaping gates shaping rewards: set Config.shaping or "
            "pass make_program a potential"
        )
    env = EpisodeStatistics(env)
    stepper = batched(env, config.num_envs, config.reset, config.num_resets or None)
    setup = _Setup(
        config, env, env_params, network, make_intrinsic(config),
        _ActionBox.of(action_space) if continuous else None, stepper,
    )  # fmt: skip
    has_success = _reports_success(setup)
    curves = [Curve("episode_return", "episode return", "num_episodes")]
    if has_success:
        curves.append(Curve("success_rate", "success rate", "num_episodes"))
    if setup.intrinsic is not None:
        _check_numeric_observations(env, env_params, config.intrinsic)
        curves.append(Curve("intrinsic_reward", "intrinsic reward (raw)"))
    return Program(
        init=lambda key, hparams: _init(setup, key, hparams),
        step=lambda runner, hparams: _update(setup, hparams, runner),
        num_steps=config.num_updates,
        work_per_step=config.batch_size,
        work_unit="env steps",
        final=lambda history: final_scores(history, config.num_final_updates),
        primary="episode_return",
        curves=tuple(curves),
        is_healthy=lambda runner: all_finite((runner.params, runner.opt_state)),
        check_hparams=check_hparams,
        description={
            "algorithm": "ppo",
            "target": target or getattr(env, "name", type(env).__name__),
            "config": dataclasses.asdict(config),
        },
    )


def make_train(config: Config, env, env_params=None):
    """Build PPO's training function for one environment (the notebook path).

    The same program as :func:`make_program`, scanned in one piece.

    Returns:
        ``train(key, hparams=HParams()) -> TrainOutput``, pure and jit/vmap-able;
        ``out.metrics`` leaves have a leading ``[num_updates]`` axis.
    """
    return scan_program(make_program(config, env, env_params), HParams())


def make_intrinsic(config: Config):
    """The bonus module ``Config.intrinsic`` names, or None for ``"none"``."""
    if config.intrinsic == "rnd":
        return RND(
            config.rnd_hidden_size, config.rnd_output_size, config.update_epochs,
            config.num_minibatches,
        )  # fmt: skip
    if config.intrinsic == "rdd":
        return RDD(
            config.rdd_hidden_size, config.rdd_output_size, config.rdd_sigma,
            config.update_epochs, config.num_minibatches,
        )  # fmt: skip
    if config.intrinsic == "count":
        return SimHashCounts(mode=config.count_mode, key_bits=config.count_key_bits)
    return None


def _check_flat_observations(env, env_params) -> None:
    obs = jax.eval_shape(env.reset, jax.random.key(0), env_params)[0]
    if not isinstance(obs, jax.ShapeDtypeStruct) or obs.ndim != 1:
        raise ValueError(
            "Config.normalize_observations standardises a flat observation "
            f"vector; this environment's observation is {obs}"
        )


def _observe(moments, obs):
    """What the network sees: ``obs``, standardised by the running moments
    (and clipped to [-10, 10]) with ``normalize_observations``."""
    if moments is None:
        return obs
    return standardize(moments, obs, clip=10.0)


def _check_numeric_observations(env, env_params, name: str) -> None:
    """Bonuses read observations as numbers: refuse any other leaf dtype."""
    obs = jax.eval_shape(env.reset, jax.random.key(0), env_params)[0]
    for leaf in jax.tree.leaves(obs):
        if not (jnp.issubdtype(leaf.dtype, jnp.number) or leaf.dtype == jnp.bool_):
            raise TypeError(
                f"Config.intrinsic={name!r} reads observations as numbers; this "
                f"environment's observation has a {leaf.dtype} leaf"
            )


def final_scores(history: dict[str, np.ndarray], num_final_updates: int) -> dict:
    """Final return (and success rate) per run from a metrics history.

    Both are means over the episodes that ended in the last
    ``num_final_updates`` updates, episodes weighted equally.

    Args:
        history: ``{name: (R, U) array}`` with ``episode_return``,
            ``num_episodes`` and optionally ``success_rate``.
        num_final_updates: how many trailing updates count.

    Returns:
        ``{"episode_return": (R,), "success_rate": (R,)}`` float64 (the
        second only where the history has it); NaN for a run with no
        episode ended in that window.
    """
    counts = np.asarray(history["num_episodes"])[:, -num_final_updates:]
    counts = counts.astype(np.float64)
    total = counts.sum(1)
    scores = {}
    for name in ("episode_return", "success_rate"):
        if name not in history:
            continue
        values = np.asarray(history[name], np.float64)[:, -num_final_updates:]
        with np.errstate(invalid="ignore", divide="ignore"):
            weighted = (np.where(counts > 0, values, 0.0) * counts).sum(1)
            scores[name] = np.where(total > 0, weighted / total, np.nan)
    return scores


def _reports_success(setup: _Setup) -> bool:
    """Whether the environment's ``info`` carries ``"success"`` (by tracing)."""
    key = jax.random.key(0)
    obs, state = jax.eval_shape(setup.env.reset, key, setup.env_params)
    space = setup.env.action_space(setup.env_params)
    action = jax.eval_shape(space.sample, key)
    info = jax.eval_shape(setup.env.step, key, state, action, setup.env_params)[-1]
    return getattr(info["episode"], "success", None) is not None


def _init(setup: _Setup, key: jax.Array, hparams: HParams) -> RunnerState:
    config = setup.config
    key, k_init, k_reset = jax.random.split(key, 3)
    obs, env_state = reset_batch(
        setup.stepper, setup.env_params, k_reset, config.num_envs
    )
    if config.recurrent:
        carry = setup.network.initial_carry(config.num_envs)
        reset = jnp.ones((config.num_envs,), bool)
        params = setup.network.init(k_init, carry, obs, reset)
    else:
        carry = reset = None
        params = setup.network.init(k_init, obs)
    optimizer = make_optimizer(config, hparams)
    runner = RunnerState(
        params, optimizer.init(params), env_state, obs, key, jnp.int32(0),
        carry=carry, reset=reset,
        gate_held=jnp.zeros((config.num_envs,), jnp.float32)
        if config.gated_shaping else None,
        obs_moments=init_moments(obs.shape[1:])
        if config.normalize_observations else None,
    )  # fmt: skip
    if setup.intrinsic is None:
        return runner
    key, k_intrinsic = jax.random.split(key)
    return runner.replace(
        key=key,
        intrinsic=setup.intrinsic.init(k_intrinsic, obs),
        int_scaler=init_reward_scaler(config.num_envs),
    )


def make_optimizer(config: Config, hparams: HParams) -> optax.GradientTransformation:
    """Global-norm clipping then Adam, with an optionally annealed step size.

    Built inside ``train`` so that a traced ``hparams.lr`` works under vmap.
    """
    steps_per_update = config.num_minibatches * config.update_epochs

    def schedule(count):
        done = (count // steps_per_update).astype(jnp.float32)
        return hparams.lr * (1.0 - done / config.num_updates)

    lr = schedule if config.anneal_lr else hparams.lr
    return optax.chain(
        optax.clip_by_global_norm(hparams.max_grad_norm),
        optax.adam(learning_rate=lr, eps=1e-5),
    )


def _update(setup: _Setup, hparams: HParams, runner: RunnerState):
    """One PPO update: a rollout, GAE, then minibatch epochs (and, with an
    intrinsic reward, its bonuses before and its own training after)."""
    config = setup.config
    optimizer = make_optimizer(config, hparams)
    initial_carry = runner.carry
    shared_before = _shared_resets(runner.env_state)
    if config.recurrent:
        runner, rollout = recurrent.collect(setup, runner, _transition)
    else:
        runner, rollout = _collect(setup, runner)
    if rollout.potential is not None:
        shaping = shaping_reward(
            rollout.potential, rollout.next_potential, rollout.terminated,
            hparams.gamma,
        )  # fmt: skip
        shaping = hparams.shaping_coef * shaping
        if config.gated_shaping:
            shaped, held = gated_rewards(
                rollout.reward, shaping, rollout.done, runner.gate_held,
                hparams.gate_threshold,
            )  # fmt: skip
            runner = runner.replace(gate_held=held)
        else:
            shaped = rollout.reward + shaping
        rollout = rollout._replace(reward=shaped)
    values_of = recurrent.next_values if config.recurrent else _next_values
    continuing, next_value = values_of(setup, runner, rollout)
    if setup.intrinsic is None:
        advantages, targets = _advantages(
            rollout.reward, rollout.value, next_value, rollout, hparams.gamma, hparams
        )
    else:
        runner, advantages, targets, bonus = _mixed_advantages(
            setup, hparams, runner, rollout, continuing, next_value
        )
    seen_obs = _observe(runner.obs_moments, rollout.obs)
    batch = (seen_obs, rollout.action, rollout.log_prob, rollout.value,
             advantages, targets)  # fmt: skip
    if config.recurrent:
        batch = ((*batch, rollout.reset), initial_carry)  # time-major sequences
    else:
        batch = jax.tree.map(
            lambda x: x.reshape(config.batch_size, *x.shape[2:]), batch
        )

    def epoch(carry, _):
        return _update_epoch(setup, hparams, optimizer, batch, carry)

    carry = (runner.params, runner.opt_state, runner.key)
    (params, opt_state, key), losses = jax.lax.scan(
        epoch, carry, length=config.update_epochs
    )
    update = runner.update + 1
    runner = runner.replace(params=params, opt_state=opt_state, key=key, update=update)
    if runner.obs_moments is not None:  # the next rollout sees these ones
        flat = rollout.obs.reshape(config.batch_size, *rollout.obs.shape[2:])
        runner = runner.replace(obs_moments=update_moments(runner.obs_moments, flat))
    metrics = _metrics(rollout.episode, jax.tree.map(jnp.mean, losses))
    if setup.intrinsic is not None:
        key, k_intrinsic = jax.random.split(runner.key)
        intrinsic, intrinsic_loss = setup.intrinsic.update(
            runner.intrinsic, rollout.final_obs, k_intrinsic, hparams.lr
        )
        runner = runner.replace(key=key, intrinsic=intrinsic)
        metrics = metrics._replace(
            intrinsic_reward=jnp.mean(bonus), intrinsic_loss=intrinsic_loss
        )
    if shared_before is not None:
        shared = _shared_resets(runner.env_state) - shared_before
        metrics = metrics._replace(shared_resets=shared)
    return runner, metrics._replace(env_steps=update * config.batch_size)


def _shared_resets(env_state) -> jax.Array | None:
    """The optimistic reset's count of shared levels so far, or None."""
    return getattr(env_state, "shared_resets", None)


def _advantages(reward, value, next_value, rollout, gamma, hparams):
    """GAE per environment: ``(T, B)`` advantages and value targets."""
    per_env = (1, 1, 1, 1, 1, None, None)
    return jax.vmap(gae, in_axes=per_env, out_axes=1)(
        reward, value, next_value, rollout.terminated, rollout.done, gamma,
        hparams.gae_lambda,
    )  # fmt: skip


def _mixed_advantages(setup, hparams, runner, rollout, continuing, next_value):
    """Extrinsic and intrinsic streams, each with its own value head and GAE.

    The bonus of step ``t`` is paid for the observation it reached, scaled by
    the running standard deviation of its discounted sums. An episodic bonus
    stops at episode ends like the task's reward; a lifelong one (RND, RDD,
    lifelong counts) runs on across them: its GAE bootstraps from the next
    observation acted on, whatever the episode boundaries.

    Returns:
        ``(runner, advantages (T, B), targets (T, B, 2), raw bonus (T, B))``.
    """
    module = setup.intrinsic
    intrinsic, bonus = module.reward(runner.intrinsic, rollout.final_obs, rollout.done)
    scaler, scaled = scale_rewards(runner.int_scaler, bonus, hparams.int_gamma)
    ext_adv, ext_target = _advantages(
        rollout.reward, rollout.value[..., 0], next_value[..., 0], rollout,
        hparams.gamma, hparams,
    )  # fmt: skip
    if module.is_episodic:
        int_next, int_rollout = next_value[..., 1], rollout
    else:
        never = jnp.zeros_like(rollout.done)
        int_next = continuing[..., 1]
        int_rollout = rollout._replace(terminated=never, done=never)
    int_adv, int_target = _advantages(
        scaled, rollout.value[..., 1], int_next, int_rollout, hparams.int_gamma,
        hparams,
    )  # fmt: skip
    advantages = hparams.ext_coef * ext_adv + hparams.int_coef * int_adv
    targets = jnp.stack([ext_target, int_target], axis=-1)
    runner = runner.replace(intrinsic=intrinsic, int_scaler=scaler)
    return runner, advantages, targets, bonus


def _next_values(setup: _Setup, runner: RunnerState, rollout: Transition):
    """Values of the states each step reached, for GAE: ``(continuing,
    reached)``, each ``(T, B)`` (``(T, B, K)`` with ``K`` value heads).

    ``continuing`` holds the value of the next observation acted on (after
    any reset), for streams that ignore episode ends. In ``reached``, where
    an episode went on, the state reached is the next one acted in, whose
    value the rollout already holds (the last step's comes from one more
    forward pass). Terminations do not bootstrap. Only truncated steps need
    the value of their final observation: those are evaluated ``B`` at a time
    in a loop that usually runs once, instead of a pass over all ``T * B``.
    """
    config = setup.config
    moments = runner.obs_moments
    _, last_value = setup.network.apply(runner.params, _observe(moments, runner.obs))
    next_value = jnp.concatenate([rollout.value[1:], last_value[None]])
    needs_value = rollout.done & ~rollout.terminated
    size = config.num_steps * config.num_envs
    flat_obs = jax.tree.map(lambda x: x.reshape(size, *x.shape[2:]), rollout.final_obs)

    def pending(carry):
        return jnp.any(carry[0])

    def evaluate_some(carry):
        todo, values = carry
        (index,) = jnp.nonzero(todo, size=config.num_envs, fill_value=size)
        obs = jax.tree.map(lambda x: x[jnp.minimum(index, size - 1)], flat_obs)
        _, value = setup.network.apply(runner.params, _observe(moments, obs))
        values = values.at[index].set(value, mode="drop")
        return todo.at[index].set(False, mode="drop"), values

    heads = next_value.shape[2:]
    _, values = jax.lax.while_loop(
        pending,
        evaluate_some,
        (needs_value.reshape(size), next_value.reshape(size, *heads)),
    )
    return next_value, values.reshape(config.num_steps, config.num_envs, *heads)


def _collect(setup: _Setup, runner: RunnerState) -> tuple[RunnerState, Transition]:
    """A rollout of ``num_steps`` in every environment with the current policy
    (:func:`jaxrl.rollout.rollout`); the Transition's leaves are ``(T, B, ...)``."""

    def policy(key, obs):
        logits, value = setup.network.apply(
            runner.params, _observe(runner.obs_moments, obs)
        )
        if setup.box is None:
            action = jax.random.categorical(key, logits).astype(jnp.int32)
            return action, (categorical_log_prob(logits, action), value, action)
        mean, log_std = logits
        raw = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
        env_action = setup.box.squash(raw, setup.config.action_squash)
        return env_action, (gaussian_log_prob(logits, raw), value, raw)

    carry = (runner.env_state, runner.obs, runner.key)
    (env_state, obs, key), steps = rollout(
        setup.stepper, setup.env_params, policy, carry, setup.config.num_steps
    )
    log_prob, value, action = steps.extras  # action: the raw Gaussian sample
    transition = _transition(
        steps.obs, action, log_prob, value, steps.reward, steps.terminated,
        steps.truncated, steps.info,
    )  # fmt: skip
    return runner.replace(env_state=env_state, obs=obs, key=key), transition


def _transition(
    obs, action, log_prob, value, reward, terminated, truncated, info,
    reset=None, carry=None,
) -> Transition:  # fmt: skip
    """A :class:`Transition` of stacked ``(T, B, ...)`` rollout steps."""
    return Transition(
        obs=obs,
        action=action,
        log_prob=log_prob,
        value=value,
        reward=reward.astype(jnp.float32),
        terminated=terminated,
        done=jnp.logical_or(terminated, truncated),
        final_obs=info["final_observation"],
        episode=info["episode"],
        potential=info.get("potential"),
        next_potential=info.get("next_potential"),
        reset=reset,
        carry=carry,
    )


def _update_epoch(setup: _Setup, hparams: HParams, optimizer, batch, carry):
    """One pass over the batch in shuffled minibatches."""
    config = setup.config
    params, opt_state, key = carry
    key, k_perm = jax.random.split(key)
    if config.recurrent:
        minibatches = recurrent.sequence_minibatches(
            k_perm, batch, config.num_minibatches
        )
    else:
        order = jax.random.permutation(k_perm, config.batch_size)
        minibatches = jax.tree.map(
            lambda x: x[order].reshape(config.num_minibatches, -1, *x.shape[1:]),
            batch,
        )

    def step(carry, minibatch):
        params, opt_state = carry
        grads, info = jax.grad(_loss, has_aux=True)(params, setup, hparams, minibatch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), info

    (params, opt_state), infos = jax.lax.scan(step, (params, opt_state), minibatches)
    return (params, opt_state, key), infos


def _loss(params, setup: _Setup, hparams: HParams, minibatch):
    if setup.config.recurrent:
        sequences, initial_carry = minibatch
        *minibatch, reset = sequences
        logits, value = recurrent.unroll_outputs(
            setup, params, initial_carry, minibatch[0], reset
        )
        size = reset.shape[0] * reset.shape[1]
        logits, value, *minibatch = jax.tree.map(
            lambda x: x.reshape(size, *x.shape[2:]), (logits, value, *minibatch)
        )
    else:
        logits, value = setup.network.apply(params, minibatch[0])
    obs, action, old_log_prob, old_value, advantage, target = minibatch
    return ppo_loss(
        logits, value, action, old_log_prob, old_value, advantage, target,
        hparams.clip_eps, hparams.vf_coef, hparams.ent_coef,
        setup.config.normalize_advantages, setup.box is not None,
    )  # fmt: skip


def _metrics(episode: EpisodeStats, loss: LossInfo) -> Metrics:
    ended = episode.returned
    count = jnp.sum(ended, dtype=jnp.int32)
    denominator = jnp.maximum(count, 1).astype(jnp.float32)
    success = getattr(episode, "success", None)
    if success is not None:
        success = jnp.sum(ended & success, dtype=jnp.float32) / denominator
    return Metrics(
        env_steps=jnp.int32(0),
        episode_return=jnp.sum(episode.episode_return) / denominator,
        episode_length=jnp.sum(episode.length).astype(jnp.float32) / denominator,
        num_episodes=count,
        loss=loss,
        success_rate=success,
    )
