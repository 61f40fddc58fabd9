"""Random distribution distillation (Fang et al., 2025, arXiv 2505.11044).

RND with a random target: the target of an observation ``s`` is a fresh draw
``f_tar(s) ~ N(mu(s), sigma^2 I)`` each time it is trained on, where ``mu``
is a fixed, randomly initialised network and ``sigma`` one fixed number for
every state (the paper's implementation). The predictor ``f`` is trained by
mean squared error against the draws, and the bonus measures it against the
distribution's mean:

    b(s) = (1/d) * ||f(s) - mu(s)||^2          (d output features)

Trained to its least-squares optimum on ``n`` visits of ``s``, the predictor
outputs the mean ``f*_n(s)`` of that state's ``n`` draws, whose squared
distance to ``mu(s)`` is ``sigma^2 / n`` per feature in expectation. Fang et
al. bound the bonus by two terms, exposed here as pure functions:

* :func:`pseudo_count_term` ``sigma^2 / n``, which decays with visits like a
  count-based bonus;
* :func:`discrepancy_term` ``(1/d) * ||f*_n(s) - f(s)||^2``, how far the
  predictor still is from that optimum (it vanishes as training converges).

Settings the paper gives: ``sigma = 1``, ReLU networks 64 wide with 64
output features outside Atari (512 on Atari). Settings it does not give are
RND's (Burda et al.): the target has two hidden layers and the predictor two
more; observations are flattened, standardised by running per-feature
moments and clipped to [-5, 5]; the bonus is lifelong (not episodic).
The formulas and settings above were read from quotations of the paper's
method and implementation sections, not from its full text.
"""

import dataclasses
import math
import numbers
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


def pseudo_count_term(sigma, count) -> jax.Array:
    """``sigma^2 / n``: the expected bonus of a state visited ``count`` times
    once the predictor has reached the mean of its draws (float32, any
    broadcast shape; ``count >= 1``)."""
    sigma = jnp.asarray(sigma, jnp.float32)
    return jnp.square(sigma) / jnp.asarray(count, jnp.float32)


def discrepancy_term(prediction, optimum) -> jax.Array:
    """``(1/d) * ||optimum - prediction||^2`` over the last axis: how far the
    predictor is from the least-squares optimum (the mean of the draws)."""
    diff = jnp.asarray(optimum, jnp.float32) - jnp.asarray(prediction, jnp.float32)
    return jnp.mean(jnp.square(diff), -1)


def bonus(prediction, mean) -> jax.Array:
    """``(1/d) * ||prediction - mean||^2`` over the last axis: RDD's bonus,
    the predictor's distance to the target distribution's mean."""
    diff = jnp.asarray(prediction, jnp.float32) - jnp.asarray(mean, jnp.float32)
    return jnp.mean(jnp.square(diff), -1)


class _RDDNetwork(nn.Module):
    """``num_layers`` ReLU hidden layers, then a linear output."""

    hidden_size: int
    output_size: int
    num_layers: int

    @nn.compact
    def __call__(self, x):
        for _ in range(self.num_layers):
            x = nn.relu(nn.Dense(self.hidden_size)(x))
        return nn.Dense(self.output_size)(x)


@struct.dataclass
class RDDState:
    mean: Any  # parameters of the target-mean network mu (fixed)
    predictor: Any  # predictor network parameters
    opt_state: Any  # Adam state of the predictor
    obs_moments: RunningMoments  # per-feature, over flattened observations


@dataclasses.dataclass(frozen=True)
class RDD:
    """Random distribution distillation.

    Attributes:
        hidden_size: width of both networks' hidden layers (paper: 64).
        output_size: ``d``, features of the target (paper: 64; 512 on Atari).
        sigma: standard deviation of the target draws, the same for every
            state and feature (paper: 1).
        num_epochs: predictor passes over each batch in :meth:`update`.
        num_minibatches: minibatches per pass (must divide the batch).
    """

    hidden_size: int = 64
    output_size: int = 64
    sigma: float = 1.0
    num_epochs: int = 4
    num_minibatches: int = 8

    is_episodic = False  # the intrinsic return runs on across episodes

    def __post_init__(self):
        for name in ("hidden_size", "output_size", "num_epochs", "num_minibatches"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"RDD.{name} must be an int >= 1, got {value!r}")
        sigma = self.sigma
        is_number = isinstance(sigma, numbers.Real) and not isinstance(sigma, bool)
        if not (is_number and math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"RDD.sigma must be a finite number > 0, got {sigma!r}")

    def init(self, key: jax.Array, obs_example) -> RDDState:
        """``obs_example``: one batch of observations, leaves ``(B, ...)``."""
        k_mean, k_predictor = jax.random.split(key)
        x = flatten_batch(obs_example, 1)
        mean = self._mean_net().init(k_mean, x)
        predictor = self._predictor().init(k_predictor, x)
        opt_state = optax.adam(1.0).init(predictor)
        return RDDState(mean, predictor, opt_state, init_moments(x.shape[-1:]))

    def reward(self, state: RDDState, next_obs, done: jax.Array):
        """Bonuses of a rollout's reached observations.

        Args:
            state: the module's state.
            next_obs: observations reached, leaves ``(T, B, ...)``.
            done: ``(T, B)`` bool (unused: the bonus is lifelong).

        Returns:
            ``(state, bonus)``: moments updated with the batch, and the
            ``(T, B)`` float32 bonuses ``(1/d) ||f(s) - mu(s)||^2``.
        """
        x = flatten_batch(next_obs, 2)
        moments = update_moments(state.obs_moments, x.reshape(-1, x.shape[-1]))
        state = state.replace(obs_moments=moments)
        prediction, mean = self.outputs(state, state.predictor, x)
        return state, bonus(prediction, mean)

    def outputs(self, state: RDDState, predictor, x: jax.Array):
        """``(prediction, mean)``, each ``(..., d)``, of flattened ``x``
        ``(..., D)`` (standardised here)."""
        x = standardize(state.obs_moments, x)
        mean = jax.lax.stop_gradient(self._mean_net().apply(state.mean, x))
        return self._predictor().apply(predictor, x), mean

    def sample_targets(self, mean: jax.Array, key: jax.Array) -> jax.Array:
        """One draw ``mu(s) + sigma * eps``, ``eps ~ N(0, I)``, per row of
        ``mean`` ``(..., d)``."""
        noise = jax.random.normal(key, mean.shape, jnp.float32)
        return mean + jnp.float32(self.sigma) * noise

    def update(self, state: RDDState, next_obs, key: jax.Array, lr: jax.Array):
        """Train the predictor on a rollout's reached observations, each
        against a fresh target draw in every pass.

        Args:
            next_obs: leaves ``(T, B, ...)``.
            key: shuffles the minibatches and draws the targets.
            lr: () Adam step size.

        Returns:
            ``(state, loss)``: the predictor after ``num_epochs`` passes and
            its mean minibatch loss (against the draws, so it stays near
            ``sigma^2`` however well the predictor has converged).
        """
        x = flatten_batch(next_obs, 2)

        def loss_fn(predictor, minibatch, k):
            prediction, mean = self.outputs(state, predictor, minibatch)
            target = self.sample_targets(mean, k)
            return jnp.mean(jnp.square(prediction - target))

        predictor, opt_state, loss = train_predictor(
            state.predictor, state.opt_state, x.reshape(-1, x.shape[-1]), key, lr,
            loss_fn, self.num_epochs, self.num_minibatches, "RDD",
        )  # fmt: skip
        return state.replace(predictor=predictor, opt_state=opt_state), loss

    def _mean_net(self) -> _RDDNetwork:
        return _RDDNetwork(self.hidden_size, self.output_size, num_layers=2)

    def _predictor(self) -> _RDDNetwork:
        return _RDDNetwork(self.hidden_size, self.output_size, num_layers=4)
