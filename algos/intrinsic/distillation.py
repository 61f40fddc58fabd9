"""Training a predictor network by minibatched Adam passes over a batch.

RND and RDD both distil a fixed random network into a trained predictor;
they differ only in the loss (RDD's targets are fresh random draws, so its
loss takes a key). The passes themselves live here.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax


def train_predictor(
    predictor: Any,
    opt_state: Any,
    x: jax.Array,
    key: jax.Array,
    lr: jax.Array,
    loss_fn: Callable[[Any, jax.Array, jax.Array], jax.Array],
    num_epochs: int,
    num_minibatches: int,
    owner: str,
) -> tuple[Any, Any, jax.Array]:
    """``num_epochs`` shuffled passes of Adam steps on ``loss_fn``.

    Args:
        predictor, opt_state: the predictor's parameters and Adam state.
        x: ``(N, D)`` float32 flattened observations.
        key: one key per epoch is split from it; an epoch's key shuffles the
            rows, and a key folded from it gives each minibatch its own key.
        lr: () Adam step size.
        loss_fn: ``(predictor, minibatch (N / num_minibatches, D), key) ->
            ()`` scalar loss.
        num_epochs, num_minibatches: passes, and minibatches per pass.
        owner: the module's name, for the error message.

    Returns:
        ``(predictor, opt_state, loss)``: the trained predictor, its Adam
        state, and the mean minibatch loss.

    Raises:
        ValueError: ``num_minibatches`` does not divide ``N`` (shapes are
            static, so this is raised while tracing).
    """
    size = x.shape[0]
    if size % num_minibatches:
        raise ValueError(
            f"{owner}.num_minibatches ({num_minibatches}) must divide the "
            f"batch of {size} observations"
        )
    optimizer = optax.adam(lr)

    def minibatch_step(carry, inputs):
        params, state = carry
        minibatch, k = inputs
        loss, grads = jax.value_and_grad(loss_fn)(params, minibatch, k)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), loss

    def epoch(carry, k):
        order = jax.random.permutation(k, size)
        batches = x[order].reshape(num_minibatches, -1, x.shape[-1])
        minibatch_keys = jax.random.split(jax.random.fold_in(k, 1), num_minibatches)
        return jax.lax.scan(minibatch_step, carry, (batches, minibatch_keys))

    keys = jax.random.split(key, num_epochs)
    (predictor, opt_state), losses = jax.lax.scan(epoch, (predictor, opt_state), keys)
    return predictor, opt_state, jnp.mean(losses)
