"""Sphere and Rastrigin with the projection descriptors of CMA-ME.

Both follow Fontaine et al. 2020 (CMA-ME, arXiv 1912.02400, section 4) as
pyribs' ``examples/sphere.py`` implements it:

- Genotypes ``x`` in ``R^n``, unbounded; first genotypes are drawn from
  ``[-5.12, 5.12]^n``.
- The optimum is moved from 0 to ``x_i = 0.4 * 5.12 = 2.048``.
- Descriptors: each gene is "clipped" to ``c(x) = x`` if ``|x| <= 5.12``
  and ``5.12 / x`` otherwise; descriptor 1 is the sum of ``c`` over the
  first ``n // 2`` genes, descriptor 2 over the other ``n - n // 2``. Their
  boxes are ``+-5.12 * n // 2`` and ``+-5.12 * (n - n // 2)`` (pyribs' example
  uses ``+-5.12 * n / 2`` for both, the same for even ``n``). QDax's
  ``rastrigin_proj`` takes means instead of sums.

Fitness (maximised), with ``y = x - 2.048``:

- sphere: ``-sum(y^2)``; with ``normalize=True``, pyribs' objective
  ``100 * (1 - sum(y^2) / (n * 7.168^2))``, which is 100 at the optimum and
  0 at ``x = -5.12`` everywhere, the worst point of the box.
- rastrigin: ``-(10 n + sum(y^2 - 10 cos(2 pi y)))``, the shifted Rastrigin
  of QDax's ``rastrigin_proj``; 0 at the optimum.
"""

import jax
import jax.numpy as jnp

from jaxrl.envs.qd.base import Task

BOX = 5.12  # the usual Sphere/Rastrigin search box, [-5.12, 5.12]^n
SHIFT = 0.4 * BOX  # 2.048: where CMA-ME moves the optimum
_WORST_STEP = BOX + SHIFT  # 7.168: largest |x - SHIFT| inside the box


def projection_descriptors(genotypes: jax.Array) -> jax.Array:
    """CMA-ME's two descriptors: sums of the clipped halves of each genotype.

    Args:
        genotypes: ``(N, n)`` float, ``n >= 2``.

    Returns:
        ``(N, 2)`` float32.
    """
    x = jnp.asarray(genotypes, jnp.float32)
    inside = jnp.abs(x) <= BOX
    # WARN: 5.12 / x is also computed where it is not used (inf at x = 0);
    # where() discards it, and no NaN can arise from it.
    clipped = jnp.where(inside, x, BOX / x)
    half = x.shape[-1] // 2
    return jnp.stack(
        [clipped[..., :half].sum(-1), clipped[..., half:].sum(-1)], axis=-1
    )


def _sphere_score(genotypes, key=None, *, normalize: bool = False):
    del key
    y = jnp.asarray(genotypes, jnp.float32) - SHIFT
    raw = jnp.sum(y * y, axis=-1)
    if normalize:
        worst = genotypes.shape[-1] * _WORST_STEP**2
        fitness = 100.0 * (1.0 - raw / worst)
    else:
        fitness = -raw
    return fitness, projection_descriptors(genotypes), {}


def _rastrigin_score(genotypes, key=None):
    del key
    y = jnp.asarray(genotypes, jnp.float32) - SHIFT
    n = genotypes.shape[-1]
    total = jnp.sum(y * y - 10.0 * jnp.cos(2.0 * jnp.pi * y), axis=-1)
    return -(10.0 * n + total), projection_descriptors(genotypes), {}


def _descriptor_box(n: int) -> tuple[tuple[float, float], tuple[float, float]]:
    half = n // 2
    high = (BOX * half, BOX * (n - half))
    return (-high[0], -high[1]), high


def _check_dim(name: str, genotype_dim: int) -> None:
    if not isinstance(genotype_dim, int) or genotype_dim < 2:
        raise ValueError(
            f"{name}: genotype_dim must be an int >= 2, got {genotype_dim!r}"
        )


def sphere(genotype_dim: int = 100, normalize: bool = False) -> Task:
    """The shifted Sphere with projection descriptors (see the module doc).

    Args:
        genotype_dim: ``n`` (CMA-ME's experiments use 100).
        normalize: pyribs' ``[0, 100]`` objective instead of ``-sum(y^2)``.

    Returns:
        An unbounded :class:`Task`; ``min_fitness`` is the fitness at
        ``x = -5.12`` everywhere, the lowest inside the initial box.
    """
    _check_dim("sphere", genotype_dim)
    low, high = _descriptor_box(genotype_dim)
    worst = 0.0 if normalize else -genotype_dim * _WORST_STEP**2

    def score(genotypes, key=None):
        return _sphere_score(genotypes, key, normalize=normalize)

    return Task(
        name="sphere",
        score_fn=score,
        genotype_dim=genotype_dim,
        descriptor_low=low,
        descriptor_high=high,
        init_bounds=(-BOX, BOX),
        min_fitness=worst,
    )


def rastrigin(genotype_dim: int = 100) -> Task:
    """The shifted Rastrigin with projection descriptors (see the module doc).

    Returns:
        An unbounded :class:`Task`; ``min_fitness = -n (20 + 7.168^2)``, a
        lower bound inside the initial box: each term ``y^2 - 10 cos(2 pi y)``
        is at most ``7.168^2 + 10`` there.
    """
    _check_dim("rastrigin", genotype_dim)
    low, high = _descriptor_box(genotype_dim)
    return Task(
        name="rastrigin",
        score_fn=_rastrigin_score,
        genotype_dim=genotype_dim,
        descriptor_low=low,
        descriptor_high=high,
        init_bounds=(-BOX, BOX),
        min_fitness=-genotype_dim * (20.0 + _WORST_STEP**2),
    )


__all__ = ["BOX", "SHIFT", "projection_descriptors", "rastrigin", "sphere"]
