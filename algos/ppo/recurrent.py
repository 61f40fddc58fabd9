"""What recurrent PPO does differently: rollouts that carry the GRU state,
bootstrap values read from it, and minibatches of whole sequences.

The GRU state is zeroed on the step whose observation starts an episode
(``reset``). The state at the start of each rollout is stored in the runner,
so every epoch replays each environment's sequence from exactly the state
the rollout acted with: at the first minibatch of the first epoch the
recomputed log-probabilities equal the rollout's.
"""

from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.algos.ppo.networks import categorical_log_prob


def collect(setup, runner, make_transition):
    """A rollout of ``num_steps`` with the recurrent policy.

    Args:
        setup: the run's static setup (``stepper``, ``env_params``, ``network``,
            ``config``).
        runner: the runner state; ``runner.carry`` ``(B, H)`` and
            ``runner.reset`` ``(B,)`` are the GRU state and whether
            ``runner.obs`` starts an episode.
        make_transition: ``(obs, action, log_prob, value, reward, terminated,
            truncated, info, reset, carry) -> Transition`` of stacked steps.

    Returns:
        ``(runner, transition)``; the transition's ``carry`` ``(T, B, H)`` is
        the state after each step and ``reset`` ``(T, B)`` the flags.
    """
    stepper, params, network = setup.stepper, setup.env_params, setup.network

    def one_step(state, _):
        env_state, obs, key, carry, reset = state
        key, k_action, k_step = jax.random.split(key, 3)
        carry, logits, value = network.apply(runner.params, carry, obs, reset)
        action = jax.random.categorical(k_action, logits).astype(jnp.int32)
        next_obs, env_state, reward, terminated, truncated, info = stepper.step(
            k_step, env_state, action, params
        )
        log_prob = categorical_log_prob(logits, action)
        record = (obs, action, log_prob, value, reward, terminated, truncated,
                  info, reset, carry)  # fmt: skip
        done = jnp.logical_or(terminated, truncated)
        return (env_state, next_obs, key, carry, done), record

    start = (runner.env_state, runner.obs, runner.key, runner.carry, runner.reset)
    (env_state, obs, key, carry, reset), steps = jax.lax.scan(
        one_step, start, length=setup.config.num_steps
    )
    runner = runner.replace(
        env_state=env_state, obs=obs, key=key, carry=carry, reset=reset
    )
    return runner, make_transition(*steps)


def next_values(setup, runner, rollout) -> tuple[jax.Array, jax.Array]:
    """``(continuing, reached)`` values, as the feed-forward ``_next_values``.

    A truncated step's final observation is valued by one more GRU step from
    the state after that step (no reset), over the whole batch at once.
    """
    network, params = setup.network, runner.params
    _, _, last_value = network.apply(params, runner.carry, runner.obs, runner.reset)
    continuing = jnp.concatenate([rollout.value[1:], last_value[None]])
    no_reset = jnp.zeros(rollout.done.shape[1:], bool)

    def value_of_final(carry, final_obs):
        return network.apply(params, carry, final_obs, no_reset)[2]

    final_value = jax.vmap(value_of_final)(rollout.carry, rollout.final_obs)
    truncated = rollout.done & ~rollout.terminated
    mask = truncated.reshape(*truncated.shape, *([1] * (continuing.ndim - 2)))
    return continuing, jnp.where(mask, final_value, continuing)


def sequence_minibatches(key: jax.Array, batch: Any, num_minibatches: int) -> Any:
    """Split time-major leaves ``(T, B, ...)`` into ``num_minibatches`` groups
    of whole environment sequences, ``(M, T, B / M, ...)``, environments
    shuffled; leaves without a time axis (``(B, ...)``, the initial carry)
    become ``(M, B / M, ...)``."""
    sequences, initial = batch
    num_envs = initial.shape[0]
    order = jax.random.permutation(key, num_envs)

    def split_time_major(x):
        x = x[:, order]
        x = x.reshape(x.shape[0], num_minibatches, -1, *x.shape[2:])
        return jnp.swapaxes(x, 0, 1)

    def split_batch_major(x):
        return x[order].reshape(num_minibatches, -1, *x.shape[1:])

    return (
        jax.tree.map(split_time_major, sequences),
        jax.tree.map(split_batch_major, initial),
    )


def unroll_outputs(setup, params, initial_carry, obs, reset):
    """Logits ``(T, b, A)`` and values of a minibatch of sequences, replayed
    from their stored initial state."""
    _, logits, value, _ = setup.network.unroll(params, initial_carry, obs, reset)
    return logits, value
