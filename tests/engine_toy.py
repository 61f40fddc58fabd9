"""A tiny program for engine tests: a noisy decaying vector per run.

Each step draws noise from the run's key, so every number depends on the
key, the step and the hyperparameters; ``decay=1e30`` makes a run overflow
(diverge) within a few steps. Compiles in about a second.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.program import Curve, Program

WIDTH = 16


@struct.dataclass
class ToyHParams:
    decay: float = 0.9  # traced
    scale: float = 1.0  # traced


@struct.dataclass
class ToyState:
    x: jax.Array  # (WIDTH,) float32
    key: jax.Array
    t: jax.Array  # () int32


def _init(key, hparams):
    key, sub = jax.random.split(key)
    return ToyState(jax.random.normal(sub, (WIDTH,)), key, jnp.int32(0))


def _step(state, hparams):
    key, sub = jax.random.split(state.key)
    noise = jax.random.normal(sub, (WIDTH,))
    # a little matrix work, so that a step is not free
    mix = jnp.tanh(jnp.outer(state.x, noise) @ noise / WIDTH)
    x = state.x * hparams.decay + hparams.scale * noise + 1e-3 * mix
    metrics = {"mean": jnp.mean(x), "norm": jnp.linalg.norm(x), "count": state.t + 1}
    return ToyState(x, key, state.t + 1), metrics


def _final(history):
    return {"mean": history["mean"][:, -1], "norm": np.mean(history["norm"], axis=1)}


def toy_program(num_steps: int = 12, name: str = "toy") -> Program:
    return Program(
        init=_init,
        step=_step,
        num_steps=num_steps,
        work_per_step=10,
        work_unit="evaluations",
        final=_final,
        primary="mean",
        curves=(Curve("norm", "norm"),),
        description={"algorithm": name, "target": "noise", "config": {"n": num_steps}},
    )
