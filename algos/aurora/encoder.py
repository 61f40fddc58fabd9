"""AURORA's learned behaviour space: an autoencoder over observations.

Each solution's observation (a fixed-size float vector from the task's
``extras["observation"]``) is normalised by statistics of the archive and
encoded to a short latent code, the solution's descriptor. The autoencoder
is trained to reconstruct the normalised observations of the archive's
members.

The reference (QDax's AURORA, Grillotti & Cully) encodes the trajectory with
an LSTM sequence-to-sequence autoencoder. jaxrl uses an MLP on the flattened,
subsampled trajectory instead (a jaxrl choice: every observation here has one
fixed length, and an MLP trains much faster on a CPU): ``encoder_depth``
hidden ReLU layers of ``encoder_width`` units down to a linear latent layer,
and the mirror image back up.

Normalisation: QDax subtracts the archive's mean and divides by its std per
channel, pooled over time steps. A flat vector has no channels, so jaxrl
subtracts each feature's mean over the archive and divides every feature by
one std, the root of the mean per-feature variance (a jaxrl choice: it keeps
the trajectory's geometry, and features that hardly vary, such as the first
steps of a path, stay small instead of being blown up).

Training (:func:`train`), as QDax's ``lstm_ae_train``: Adam with its state
fresh at every training (QDax starts a new train state each time); once per
training, ``max(C, train_batch_size)`` rows are drawn uniformly **with
replacement** from the members (QDax draws ``max_size`` = ``C`` rows, the
container's capacity, however many members there are); every epoch shuffles
that draw and runs a ``lax.scan`` over its first ``rows // train_batch_size``
minibatches (QDax: ``max_size // batch_size`` steps an epoch, the rest of the
shuffled draw unused). With no member nothing changes. Where the training
starts from is the caller's choice (AURORA: the initial parameters, see
:mod:`.aurora`). The number of epochs is traced, so the epochs run in a
``fori_loop`` (a ``while_loop`` under the hood).

Not taken from QDax: its ``lstm_ae_train`` indexes the drawn rows a second
time after normalising (``training_dataset.at[valid_indexes]``), which
re-samples the draw by its own slot numbers; jaxrl uses the draw once, as
the code's comments describe it. QDax also reuses one key for every
minibatch of an epoch (folded with the step count); jaxrl has no dropout or
other randomness in a minibatch. (QDax's AURORA notebook hands
``max_observation_size``, 25, to ``aurora.init`` as the container's
``max_size``, fewer rows than one minibatch of 128; its test uses
``max_size`` 50 and minibatches of 12. jaxrl's capacity is
``archive_capacity``.)
"""

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

MIN_STD = 1e-6  # floor of the pooled std: a guard against identical observations


class _MLP(nn.Module):
    width: int
    depth: int
    output_size: int

    @nn.compact
    def __call__(self, x):
        for _ in range(self.depth):
            x = nn.relu(nn.Dense(self.width)(x))
        return nn.Dense(self.output_size)(x)


class AutoEncoder(nn.Module):
    """MLP autoencoder: ``(..., O) -> (..., L) -> (..., O)``.

    Attributes:
        observation_size: ``O``.
        latent_size: ``L``, the descriptor's size (AURORA: 5).
        width: hidden units per layer.
        depth: hidden layers in the encoder (and in the decoder).
    """

    observation_size: int
    latent_size: int
    width: int = 64
    depth: int = 2

    def setup(self):
        self.encoder = _MLP(self.width, self.depth, self.latent_size)
        self.decoder = _MLP(self.width, self.depth, self.observation_size)

    def __call__(self, x):
        """``(reconstruction (..., O), latent (..., L))``."""
        latent = self.encoder(x)
        return self.decoder(latent), latent

    def encode(self, x):
        """``(..., L)`` latent codes."""
        return self.encoder(x)


@struct.dataclass
class Normaliser:
    """``(observation - mean) / std``, statistics of the archive."""

    mean: jax.Array  # (O,) float32: per-feature mean
    std: jax.Array  # () float32: one std pooled over the features


def fit_normaliser(observations: jax.Array, weights: jax.Array) -> Normaliser:
    """The normaliser of the rows with nonzero weight (see the module doc).

    Args:
        observations: ``(C, O)``.
        weights: ``(C,)`` bool or 0/1 (the archive's members).
    """
    w = jnp.asarray(weights, jnp.float32)[:, None]
    x = jnp.where(w > 0, observations, 0.0)
    count = jnp.maximum(jnp.sum(w), 1.0)
    mean = jnp.sum(w * x, axis=0) / count
    variance = jnp.sum(w * (x - mean) ** 2, axis=0) / count
    std = jnp.maximum(jnp.sqrt(jnp.mean(variance)), MIN_STD)
    return Normaliser(mean.astype(jnp.float32), std.astype(jnp.float32))


def normalise(normaliser: Normaliser, observations: jax.Array) -> jax.Array:
    return (observations - normaliser.mean) / normaliser.std


def encode(model: AutoEncoder, params, normaliser: Normaliser, observations):
    """``(N, L)`` latent codes of raw ``(N, O)`` observations."""
    x = normalise(normaliser, jnp.asarray(observations, jnp.float32))
    return model.apply(params, x, method=AutoEncoder.encode)


def reconstruction_errors(model: AutoEncoder, params, x: jax.Array) -> jax.Array:
    """``(N,)`` mean squared error over the features of each normalised row."""
    reconstruction, _ = model.apply(params, x)
    return jnp.mean((reconstruction - x) ** 2, axis=-1)


def _mean_loss(params, model, x):
    return jnp.mean(reconstruction_errors(model, params, x))


class Trained(struct.PyTreeNode):
    """What :func:`train` returns."""

    params: Any  # the autoencoder's parameters
    normaliser: Normaliser  # the statistics it was trained with
    loss: jax.Array  # () float32: mean minibatch loss of the last epoch (0: none)


def training_rows(key: jax.Array, is_member: jax.Array, num_rows: int) -> jax.Array:
    """``(num_rows,) int32`` slots drawn uniformly with replacement from the
    members (QDax's draw of a training set); all slot 0 when there is no
    member (:func:`train` then changes nothing).

    Args:
        key: the draw's key.
        is_member: ``(C,)`` bool, the slots holding a member.
        num_rows: rows to draw (static).
    """
    members_first = jnp.argsort(~is_member, stable=True).astype(jnp.int32)
    count = jnp.sum(is_member, dtype=jnp.int32)
    picks = jax.random.randint(key, (num_rows,), 0, jnp.maximum(count, 1))
    return jnp.where(count > 0, members_first[picks], 0)


def train(
    key: jax.Array,
    model: AutoEncoder,
    params,
    observations: jax.Array,
    is_member: jax.Array,
    num_epochs,
    learning_rate,
    batch_size: int,
) -> Trained:
    """Fit the normaliser to the members, then train the autoencoder on rows
    drawn from them with replacement (see the module doc).

    Args:
        key: draws the rows, and shuffles them every epoch.
        model, params: the autoencoder and the parameters to start from.
        observations: ``(C, O)`` raw observations of the archive's slots.
        is_member: ``(C,)`` bool, the slots holding a member.
        num_epochs: () int, traced is fine (0: the parameters stay).
        learning_rate: Adam's step size, traced is fine.
        batch_size: rows per minibatch (static).

    Returns:
        :class:`Trained`; its loss is the mean minibatch loss of the last
        epoch (0 without members or epochs).
    """
    k_draw, k_shuffle = jax.random.split(key)
    num_rows = max(observations.shape[0], batch_size)
    num_batches = num_rows // batch_size
    normaliser = fit_normaliser(observations, is_member)
    x_all = jnp.where(is_member[:, None], normalise(normaliser, observations), 0.0)
    drawn = training_rows(k_draw, is_member, num_rows)
    has_members = jnp.any(is_member)
    optimiser = optax.adam(learning_rate)
    grad = jax.value_and_grad(_mean_loss)

    def minibatch(carry, slots):
        params, opt_state = carry
        loss, grads = grad(params, model, x_all[slots])
        updates, new_opt_state = optimiser.update(grads, opt_state, params)
        new_params = optax.apply_updates(params, updates)
        keep = lambda new, old: jnp.where(has_members, new, old)  # noqa: E731
        params = jax.tree.map(keep, new_params, params)
        opt_state = jax.tree.map(keep, new_opt_state, opt_state)
        return (params, opt_state), loss

    def epoch(i, carry):
        params, opt_state, _ = carry
        order = jax.random.permutation(jax.random.fold_in(k_shuffle, i), drawn)
        slots = order[: num_batches * batch_size].reshape(num_batches, batch_size)
        (params, opt_state), losses = jax.lax.scan(
            minibatch, (params, opt_state), slots
        )
        return params, opt_state, jnp.where(has_members, jnp.mean(losses), 0.0)

    start = (params, optimiser.init(params), jnp.float32(0.0))
    params, _, loss = jax.lax.fori_loop(0, num_epochs, epoch, start)
    return Trained(params, normaliser, loss.astype(jnp.float32))
