"""The redundant planar robotic arm, the standard first QD benchmark.

An arm of ``n`` joints and ``n`` links of length ``1/n`` (reach 1) is fixed
at the origin. Genotype ``x`` in ``[0, 1]^n``; joint ``i`` turns by
``theta_i = 2 pi x_i - pi`` in ``[-pi, pi]`` relative to the previous link
(the mapping in QDax's ``qdax/tasks/arm.py``). Absolute link angles are the
running sums ``phi_k = theta_1 + ... + theta_k``, and the end effector is at
``p = sum_k (cos phi_k, sin phi_k) / n``.

- Fitness: ``-var(theta)`` (population variance over the joints; pyribs'
  arm tutorial uses this objective): the arm prefers all joints bent
  alike. It lies in ``[-pi^2, 0]`` (a variable confined to an interval of
  width ``2 pi`` has variance at most ``pi^2``), so ``-pi^2`` is the
  task's lowest fitness and the default QD-score offset.
- Descriptor: the end effector mapped to the unit square,
  ``0.5 + 0.5 p``, in ``[0, 1]^2`` (QDax's ``0.5 + sum cos / (2n)``).
  Only the disc of radius 1/2 around (0.5, 0.5) is reachable: at most
  ``pi / 4``, about 78.5%, of a grid over the square can be filled.

Genotypes outside ``[0, 1]`` are clipped before scoring, as QDax's arm does.

``extras["observation"]`` is the whole arm's shape: the end of every link,
``0.5 + 0.5 sum_{k <= i} (cos phi_k, sin phi_k) / n`` in ``[0, 1]^2``,
flattened as ``x1, y1, ..., xn, yn`` (the last point is the descriptor); a
learned behaviour space (AURORA) encodes it.
"""

import math

import jax
import jax.numpy as jnp

from jaxrl.envs.qd.base import Task


def arm_score(genotypes: jax.Array, key: jax.Array | None = None):
    """Score a batch of arm genotypes.

    Args:
        genotypes: ``(N, n)`` float, one joint a column, in ``[0, 1]``.
        key: unused (the arm is deterministic); kept for the task signature.

    Returns:
        ``(fitness (N,), descriptors (N, 2), {"observation": (N, 2n)})``,
        float32; the observation holds every link's end (see the module doc).
    """
    del key
    x = jnp.clip(jnp.asarray(genotypes, jnp.float32), 0.0, 1.0)
    num_joints = x.shape[-1]
    theta = 2.0 * jnp.pi * x - jnp.pi
    fitness = -jnp.var(theta, axis=-1)
    phi = jnp.cumsum(theta, axis=-1)
    links = jnp.stack([jnp.cos(phi), jnp.sin(phi)], axis=-1)
    reach = links.sum(-2) / num_joints
    descriptors = 0.5 + 0.5 * reach
    joints = 0.5 + 0.5 * jnp.cumsum(links, axis=-2) / num_joints  # (N, n, 2)
    observation = joints.reshape(joints.shape[0], -1)
    return fitness, descriptors, {"observation": observation}


def arm(genotype_dim: int = 100) -> Task:
    """The redundant arm with ``genotype_dim`` joints (100 in QDax's arm test).

    Returns:
        A :class:`Task` with genotype bounds ``[0, 1]``, descriptors in
        ``[0, 1]^2`` and ``min_fitness = -pi^2``.
    """
    return Task(
        name="arm",
        score_fn=arm_score,
        genotype_dim=genotype_dim,
        descriptor_low=(0.0, 0.0),
        descriptor_high=(1.0, 1.0),
        genotype_bounds=(0.0, 1.0),
        min_fitness=-(math.pi**2),
    )
