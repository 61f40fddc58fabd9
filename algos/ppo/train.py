"""PPO's training loop: ``make_train(config, env, env_params) -> train``.

The whole run (rollouts, GAE, minibatch epochs, metrics) is one ``lax.scan``
over updates, so ``jax.jit(jax.vmap(train, in_axes=(0, None)))`` trains many
seeds, and a second ``vmap`` over ``HParams`` sweeps hyperparameters, in one
compilation.
"""

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct
from gymnax.environments import spaces

from jaxrl import progress
from jaxrl.algos.ppo.config import Config, HParams
from jaxrl.algos.ppo.losses import LossInfo, gae, ppo_loss
from jaxrl.algos.ppo.networks import ActorCritic, categorical_log_prob, make_network
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


@struct.dataclass
class RunnerState:
    """Everything a run carries from one update to the next."""

    params: Any  # network parameters
    opt_state: Any  # optax state
    env_state: Any  # batched environment state, leaves (B, ...)
    obs: Any  # batched current observation, leaves (B, ...)
    key: jax.Array  # typed PRNG key


class Metrics(NamedTuple):
    """Per-update metrics; under ``train`` every leaf gains a leading
    ``[num_updates]`` axis (and a seed axis in front of that under vmap)."""

    env_steps: jax.Array  # () int32, environment steps so far (this seed)
    episode_return: jax.Array  # () float32, mean over episodes ended; 0 if none
    episode_length: jax.Array  # () float32, mean over episodes ended; 0 if none
    success_rate: jax.Array  # () float32, share of ended episodes with return > 0
    num_episodes: jax.Array  # () int32, episodes ended during the update
    loss: LossInfo  # means over epochs and minibatches


@struct.dataclass
class TrainOutput:
    """What ``train`` returns: the final state and the metrics history."""

    state: RunnerState
    metrics: Metrics


@dataclasses.dataclass(frozen=True)
class _Setup:
    """Python-side objects a run closes over (static)."""

    config: Config
    env: Any
    env_params: Any
    network: ActorCritic


def make_train(config: Config, env, env_params=None):
    """Build PPO's training function for one environment.

    Args:
        config: static sizes and loop lengths.
        env: a gymnax-style environment with a discrete action space (ours,
            gymnax's, or the user's).
        env_params: the environment's params; ``env.default_params`` if None.

    Returns:
        ``train(key, hparams=HParams()) -> TrainOutput``, pure and jit/vmap-able.

    Raises:
        TypeError: ``config`` is not a :class:`Config`, or the action space is
            not discrete.
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be a ppo.Config, got {type(config).__name__}")
    env_params = env.default_params if env_params is None else env_params
    action_space = env.action_space(env_params)
    if not isinstance(action_space, spaces.Discrete):
        raise TypeError(
            f"PPO here needs a Discrete action space, got {type(action_space).__name__}"
        )
    network = make_network(
        env.observation_space(env_params),
        int(action_space.n),
        config.hidden_size,
        config.embed_dim,
    )
    setup = _Setup(config, EpisodeStatistics(env), env_params, network)

    def train(key: jax.Array, hparams: HParams | None = None) -> TrainOutput:
        return _train(setup, key, HParams() if hparams is None else hparams)

    return train


def _train(setup: _Setup, key: jax.Array, hparams: HParams) -> TrainOutput:
    config = setup.config
    key, k_init, k_reset = jax.random.split(key, 3)
    reset_keys = jax.random.split(k_reset, config.num_envs)
    obs, env_state = jax.vmap(setup.env.reset, in_axes=(0, None))(
        reset_keys, setup.env_params
    )
    params = setup.network.init(k_init, obs)
    optimizer = make_optimizer(config, hparams)
    runner = RunnerState(params, optimizer.init(params), env_state, obs, key)

    def update(runner, index):
        runner, metrics = _update(setup, hparams, optimizer, runner)
        metrics = metrics._replace(env_steps=(index + 1) * config.batch_size)
        if config.log_every:
            _maybe_report(index, config, metrics)
        return runner, metrics

    indices = jnp.arange(config.num_updates, dtype=jnp.int32)
    runner, metrics = jax.lax.scan(update, runner, indices)
    return TrainOutput(state=runner, metrics=metrics)


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


def _update(setup: _Setup, hparams: HParams, optimizer, runner: RunnerState):
    """One PPO update: a rollout, GAE, then minibatch epochs."""
    config = setup.config
    runner, rollout = jax.lax.scan(
        lambda r, _: _env_step(setup, r), runner, length=config.num_steps
    )
    next_value = _next_values(setup, runner, rollout)
    per_env = (1, 1, 1, 1, 1, None, None)
    advantages, targets = jax.vmap(gae, in_axes=per_env, out_axes=1)(
        rollout.reward, rollout.value, next_value, rollout.terminated, rollout.done,
        hparams.gamma, hparams.gae_lambda,
    )  # fmt: skip
    batch = (rollout.obs, rollout.action, rollout.log_prob, rollout.value,
             advantages, targets)  # fmt: skip
    batch = jax.tree.map(lambda x: x.reshape(config.batch_size, *x.shape[2:]), batch)

    def epoch(carry, _):
        return _update_epoch(setup, hparams, optimizer, batch, carry)

    carry = (runner.params, runner.opt_state, runner.key)
    (params, opt_state, key), losses = jax.lax.scan(
        epoch, carry, length=config.update_epochs
    )
    runner = runner.replace(params=params, opt_state=opt_state, key=key)
    return runner, _metrics(rollout.episode, jax.tree.map(jnp.mean, losses))


def _next_values(setup: _Setup, runner: RunnerState, rollout: Transition):
    """``(T, B)`` values of the states each step reached, for GAE.

    Where an episode went on, the state reached is the next one acted in, whose
    value the rollout already holds (the last step's comes from one more
    forward pass). Terminations do not bootstrap. Only truncated steps need
    the value of their final observation: those are evaluated ``B`` at a time
    in a loop that usually runs once, instead of a pass over all ``T * B``.
    """
    config = setup.config
    _, last_value = setup.network.apply(runner.params, runner.obs)
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
        _, value = setup.network.apply(runner.params, obs)
        values = values.at[index].set(value, mode="drop")
        return todo.at[index].set(False, mode="drop"), values

    _, values = jax.lax.while_loop(
        pending, evaluate_some, (needs_value.reshape(size), next_value.reshape(size))
    )
    return values.reshape(config.num_steps, config.num_envs)


def _env_step(setup: _Setup, runner: RunnerState):
    """Act in every environment once; returns the new runner and a Transition."""
    key, k_action, k_step = jax.random.split(runner.key, 3)
    logits, value = setup.network.apply(runner.params, runner.obs)
    action = jax.random.categorical(k_action, logits).astype(jnp.int32)
    step_keys = jax.random.split(k_step, setup.config.num_envs)
    obs, env_state, reward, terminated, truncated, info = jax.vmap(
        setup.env.step, in_axes=(0, 0, 0, None)
    )(step_keys, runner.env_state, action, setup.env_params)
    transition = Transition(
        obs=runner.obs,
        action=action,
        log_prob=categorical_log_prob(logits, action),
        value=value,
        reward=reward.astype(jnp.float32),
        terminated=terminated,
        done=jnp.logical_or(terminated, truncated),
        final_obs=info["final_observation"],
        episode=info["episode"],
    )
    return runner.replace(env_state=env_state, obs=obs, key=key), transition


def _update_epoch(setup: _Setup, hparams: HParams, optimizer, batch, carry):
    """One pass over the batch in shuffled minibatches."""
    config = setup.config
    params, opt_state, key = carry
    key, k_perm = jax.random.split(key)
    order = jax.random.permutation(k_perm, config.batch_size)
    minibatches = jax.tree.map(
        lambda x: x[order].reshape(config.num_minibatches, -1, *x.shape[1:]), batch
    )

    def step(carry, minibatch):
        params, opt_state = carry
        grads, info = jax.grad(_loss, has_aux=True)(params, setup, hparams, minibatch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), info

    (params, opt_state), infos = jax.lax.scan(step, (params, opt_state), minibatches)
    return (params, opt_state, key), infos


def _loss(params, setup: _Setup, hparams: HParams, minibatch):
    obs, action, old_log_prob, old_value, advantage, target = minibatch
    logits, value = setup.network.apply(params, obs)
    return ppo_loss(
        logits, value, action, old_log_prob, old_value, advantage, target,
        hparams.clip_eps, hparams.vf_coef, hparams.ent_coef,
        setup.config.normalize_advantages,
    )  # fmt: skip


def _metrics(episode: EpisodeStats, loss: LossInfo) -> Metrics:
    ended = episode.returned
    count = jnp.sum(ended, dtype=jnp.int32)
    denominator = jnp.maximum(count, 1).astype(jnp.float32)
    success = jnp.sum(ended & (episode.episode_return > 0), dtype=jnp.float32)
    return Metrics(
        env_steps=jnp.int32(0),
        episode_return=jnp.sum(episode.episode_return) / denominator,
        episode_length=jnp.sum(episode.length).astype(jnp.float32) / denominator,
        success_rate=success / denominator,
        num_episodes=count,
        loss=loss,
    )


def _maybe_report(index: jax.Array, config: Config, metrics: Metrics) -> None:
    """Send this update's metrics to the host every ``log_every`` updates and
    at the last update. ``index`` is not batched under vmap, so this stays a
    real conditional and costs nothing on the other updates."""
    is_due = ((index + 1) % config.log_every == 0) | (index + 1 == config.num_updates)

    def send():
        jax.debug.callback(
            progress.report, index + 1, config.num_updates, metrics.env_steps,
            metrics.episode_return, metrics.num_episodes,
        )  # fmt: skip

    jax.lax.cond(is_due, send, lambda: None)
