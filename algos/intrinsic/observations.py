"""Observations of any structure as flat feature vectors."""

import jax

from jaxrl.wrappers import flatten_observation


def flatten_batch(obs, num_axes: int) -> jax.Array:
    """Every leaf of ``obs`` flattened and concatenated, keeping ``num_axes``
    leading batch axes: leaves ``(*lead, ...)`` -> ``(*lead, D)`` float32."""
    flat = flatten_observation
    for _ in range(num_axes):
        flat = jax.vmap(flat)
    return flat(obs)
