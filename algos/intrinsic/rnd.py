"""Random network distillation (Burda et al., 2018) as a pure module.

A fixed, randomly initialised target network maps each observation to a
feature vector; a predictor network is trained to reproduce it. The bonus of
an observation is the predictor's mean squared error on it (OpenAI's
reference takes the mean over the output features), which stays large on
observations unlike those trained on.

Both networks see observations flattened to float32, standardised by running
per-feature moments and clipped to [-5, 5]. The moments are updated with each
batch before the bonus is computed; Burda et al. instead seed them with a
random-action warm-up, which the first rollout here plays the part of.
"""

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxrl.algos.intrinsic.distillation import train_predictor
from jaxrl.algos.intrinsic.normalization import (
    RunningMoments,
    init_moments,
    standardize,
    update_moments,
)
from jaxrl.algos.intrinsic.observations import flatten_batch


class _RNDNetwork(nn.Module):
    """Two leaky-ReLU hidden layers, ``extra_layers`` ReLU ones, then a linear
    output. The target has no extra layers (and is never trained); the
    predictor has two, more capacity than the target, as in the paper."""

    hidden_size: int
    output_size: int
    extra_layers: int = 0

    @nn.compact
    def __call__(self, x):
        for _ in range(2):
            x = nn.leaky_relu(nn.Dense(self.hidden_size)(x))
        for _ in range(self.extra_layers):
            x = nn.relu(nn.Dense(self.hidden_size)(x))
        return nn.Dense(self.output_size)(x)


@struct.dataclass
class RNDState:
    target: Any  # target network parameters (fixed)
    predictor: Any  # predictor network parameters
    opt_state: Any  # Adam state of the predictor
    obs_moments: RunningMoments  # per-feature, over flattened observations


@dataclasses.dataclass(frozen=True)
class RND:
    """Random network distillation.

    Attributes:
        hidden_size: width of both networks' hidden layers.
        output_size: width of the target's features (512 in the paper).
        num_epochs: predictor passes over each batch in :meth:`update`.
        num_minibatches: minibatches per pass (must divide the batch).
    """

    hidden_size: int = 256
    output_size: int = 512
    num_epochs: int = 4
    num_minibatches: int = 8

    is_episodic = False  # the intrinsic return runs on across episodes

    def init(self, key: jax.Array, obs_example) -> RNDState:
        """``obs_example``: one batch of observations, leaves ``(B, ...)``."""
        k_target, k_predictor = jax.random.split(key)
        x = flatten_batch(obs_example, 1)
        target = self._target().init(k_target, x)
        predictor = self._predictor().init(k_predictor, x)
        opt_state = optax.adam(1.0).init(predictor)
        return RNDState(target, predictor, opt_state, init_moments(x.shape[-1:]))

    def reward(self, state: RNDState, next_obs, done: jax.Array):
        """Bonuses of a rollout's reached observations.

        Args:
            state: the module's state.
            next_obs: observations reached, leaves ``(T, B, ...)``.
            done: ``(T, B)`` bool (unused: the bonus is lifelong).

        Returns:
            ``(state, bonus)``: moments updated with the batch, and the
            ``(T, B)`` float32 prediction errors.
        """
        x = flatten_batch(next_obs, 2)
        moments = update_moments(state.obs_moments, x.reshape(-1, x.shape[-1]))
        state = state.replace(obs_moments=moments)
        return state, self.errors(state, state.predictor, x)

    def errors(self, state: RNDState, predictor, x: jax.Array) -> jax.Array:
        """Mean squared error over features, ``(...)``, of flattened ``x``
        ``(..., D)`` (standardised here)."""
        x = standardize(state.obs_moments, x)
        target = self._target().apply(state.target, x)
        prediction = self._predictor().apply(predictor, x)
        return jnp.mean(jnp.square(prediction - jax.lax.stop_gradient(target)), -1)

    def update(self, state: RNDState, next_obs, key: jax.Array, lr: jax.Array):
        """Train the predictor on a rollout's reached observations.

        Args:
            next_obs: leaves ``(T, B, ...)``.
            key: shuffles the minibatches.
            lr: () Adam step size.

        Returns:
            ``(state, loss)``: the predictor after ``num_epochs`` passes and
            its mean minibatch loss.
        """
        x = flatten_batch(next_obs, 2)
        predictor, opt_state, loss = train_predictor(
            state.predictor, state.opt_state, x.reshape(-1, x.shape[-1]), key, lr,
            lambda predictor, minibatch, _: jnp.mean(
                self.errors(state, predictor, minibatch)
            ),
            self.num_epochs, self.num_minibatches, "RND",
        )  # fmt: skip
        return state.replace(predictor=predictor, opt_state=opt_state), loss

    def _target(self) -> _RNDNetwork:
        return _RNDNetwork(self.hidden_size, self.output_size)

    def _predictor(self) -> _RNDNetwork:
        return _RNDNetwork(self.hidden_size, self.output_size, extra_layers=2)
