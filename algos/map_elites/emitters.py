"""Emitters: where MAP-Elites' offspring come from.

An emitter has explicit state, like the algorithm around it::

    state = emitter.init(key, archive)
    genotypes, state = emitter.ask(key, archive, state, hparams, num)
    state = emitter.tell(key, genotypes, fitness, descriptors, archive, state,
                         hparams)

The emitters here are variation operators on parents drawn uniformly from
the archive's filled cells; they keep no state (an empty tuple). Their numbers come
from ``hparams`` (traced), so one compilation serves a sweep. Offspring are
clipped to the task's genotype bounds only where the task has bounds.

Step sizes are in units of the gene range: where the task bounds its genes
to ``[low, high]``, ``sigma`` and ``sigma_iso`` are multiplied by
``high - low`` (so 0.05 means 5% of the range on the arm's [0, 1] and on
the maze's [-5, 5] alike); on an unbounded task they are absolute.

- ``gaussian``: ``x + sigma N(0, I)`` (Mouret & Clune 2015).
- ``iso_line``: Iso+LineDD (Vassiliades & Mouret 2018, arXiv 1804.03906):
  ``x_i + sigma_iso N(0, I) + sigma_line N(0, 1) (x_j - x_i)``, one line
  draw per offspring.
- ``uniform_crossover``: each gene from ``x_j`` with probability
  ``crossover_rate``, else from ``x_i`` (Syswerda 1989).
- ``polynomial_mutation``: Deb's polynomial mutation (Deb & Goyal 1996) on
  each gene with probability ``mutation_rate``.
- ``sbx``: simulated binary (polynomial) crossover (Deb & Agrawal 1995).
- a mix: ``"iso_line:0.5,gaussian:0.5"`` splits every batch among several
  emitters in fixed proportions (:class:`MixingEmitter`).
"""

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxrl.algos.map_elites.archive import Archive, sample_elites


def gene_range(genotype_bounds: tuple[float, float] | None) -> float:
    """``high - low`` of a task's genotype bounds, 1.0 for an unbounded task:
    the unit that mutation step sizes are given in."""
    if genotype_bounds is None:
        return 1.0
    return float(genotype_bounds[1] - genotype_bounds[0])


def gaussian_mutation(key: jax.Array, x: jax.Array, sigma) -> jax.Array:
    """``x + sigma N(0, I)``; ``x`` ``(N, D)``."""
    return x + sigma * jax.random.normal(key, x.shape, x.dtype)


def iso_line(key: jax.Array, x_i: jax.Array, x_j: jax.Array, sigma_iso, sigma_line):
    """Iso+LineDD: ``x_i + sigma_iso N(0, I) + sigma_line N(0, 1) (x_j - x_i)``.

    The line noise is one scalar per offspring (as in the paper), so the
    offspring spread along the line through the two parents; QDax draws it
    per gene instead.

    Args:
        x_i, x_j: ``(N, D)`` parent pairs.
    """
    k_iso, k_line = jax.random.split(key)
    iso = jax.random.normal(k_iso, x_i.shape, x_i.dtype)
    line = jax.random.normal(k_line, x_i.shape[:-1] + (1,), x_i.dtype)
    return x_i + sigma_iso * iso + sigma_line * line * (x_j - x_i)


def uniform_crossover(key: jax.Array, x_i: jax.Array, x_j: jax.Array, rate):
    """Each gene from ``x_j`` with probability ``rate``, else from ``x_i``."""
    return jnp.where(jax.random.uniform(key, x_i.shape) < rate, x_j, x_i)


def polynomial_mutation(
    key: jax.Array, x: jax.Array, eta, rate, low: float, high: float, bounded: bool
) -> jax.Array:
    """Deb's polynomial mutation of each gene with probability ``rate``.

    With ``u ~ U(0, 1)``, ``p = 1 / (eta + 1)`` and ``w = high - low``, the
    step is ``dq * w`` where ``dq = (2u + (1 - 2u) a)^p - 1`` for ``u < 0.5``
    and ``1 - (2(1 - u) + 2(u - 0.5) b)^p`` otherwise. Bounded (the form of
    Deb's NSGA-II reference code): ``a = (1 - (x - low) / w)^(eta + 1)``,
    ``b = (1 - (high - x) / w)^(eta + 1)``, which keeps ``x`` in
    ``[low, high]``. Unbounded: ``a = b = 0`` (Deb & Goyal's original form),
    ``w`` only a scale. Larger ``eta`` gives smaller steps.

    Args:
        x: ``(N, D)``.
        low, high: the bounds, or the scale's box when ``bounded`` is False.
    """
    k_u, k_which = jax.random.split(key)
    u = jax.random.uniform(k_u, x.shape, x.dtype)
    width = high - low
    power = eta + 1.0
    if bounded:
        a = (1.0 - jnp.clip((x - low) / width, 0.0, 1.0)) ** power
        b = (1.0 - jnp.clip((high - x) / width, 0.0, 1.0)) ** power
    else:
        a = b = jnp.zeros_like(x)
    # both branches stay positive for every u in [0, 1), so where() sees no NaN
    left = (2.0 * u + (1.0 - 2.0 * u) * a) ** (1.0 / power) - 1.0
    right = 1.0 - (2.0 * (1.0 - u) + 2.0 * (u - 0.5) * b) ** (1.0 / power)
    step = jnp.where(u < 0.5, left, right) * width
    return jnp.where(jax.random.uniform(k_which, x.shape) < rate, x + step, x)


def sbx_crossover(key: jax.Array, x_i: jax.Array, x_j: jax.Array, eta) -> jax.Array:
    """Simulated binary crossover, one child per pair, on every gene.

    ``beta = (2u)^p`` for ``u <= 0.5``, else ``(1 / (2(1 - u)))^p`` with
    ``p = 1 / (eta + 1)``; child ``0.5 ((1 + beta) x_i + (1 - beta) x_j)``.
    (Deb's code also crosses each gene only with probability 0.5 and swaps
    the two children at random; parents here are already in random order.)
    """
    u = jax.random.uniform(key, x_i.shape, x_i.dtype)
    p = 1.0 / (eta + 1.0)
    beta = jnp.where(u <= 0.5, (2.0 * u) ** p, (0.5 / (1.0 - u)) ** p)
    return 0.5 * ((1.0 + beta) * x_i + (1.0 - beta) * x_j)


@dataclasses.dataclass(frozen=True)
class VariationEmitter:
    """A stateless emitter: parents drawn uniformly from the filled cells,
    varied by one operator, clipped to the genotype bounds if there are any.

    Attributes:
        operator: one of :data:`OPERATORS`.
        genotype_bounds: ``(low, high)`` to clip offspring to, or None.
        scale_bounds: the box that sets polynomial mutation's step size
            when the genotype is unbounded (the task's initial box).
    """

    operator: str
    genotype_bounds: tuple[float, float] | None = None
    scale_bounds: tuple[float, float] | None = None

    def __post_init__(self):
        if self.operator not in OPERATORS:
            raise ValueError(
                f"unknown emitter {self.operator!r}; known: {', '.join(OPERATORS)}"
            )
        if self.operator == "polynomial_mutation" and not (
            self.genotype_bounds or self.scale_bounds
        ):
            raise ValueError(
                "polynomial_mutation needs genotype_bounds or scale_bounds"
            )

    @property
    def gene_range(self) -> float:
        """The unit of ``mutation_sigma`` and ``sigma_iso`` (:func:`gene_range`)."""
        return gene_range(self.genotype_bounds)

    def init(self, key: jax.Array, archive: Archive) -> Any:
        # () rather than None: a leafless node that checkpoints restore as is
        return ()

    def ask(self, key, archive: Archive, state, hparams, num: int):
        k_parents, k_vary = jax.random.split(key)
        op, hp = self.operator, hparams
        # crossovers take two parents a child: one draw of 2 * num elites
        pairs = op in ("iso_line", "uniform_crossover", "sbx")
        parents = sample_elites(k_parents, archive, 2 * num if pairs else num)
        x_i, x_j = parents[:num], parents[num:]
        width = self.gene_range
        if op == "gaussian":
            x = gaussian_mutation(k_vary, x_i, hp.mutation_sigma * width)
        elif op == "polynomial_mutation":
            low, high = self.genotype_bounds or self.scale_bounds
            x = polynomial_mutation(
                k_vary, x_i, hp.eta_mutation, hp.mutation_rate, low, high,
                bounded=self.genotype_bounds is not None,
            )  # fmt: skip
        elif op == "iso_line":
            x = iso_line(k_vary, x_i, x_j, hp.sigma_iso * width, hp.sigma_line)
        elif op == "uniform_crossover":
            x = uniform_crossover(k_vary, x_i, x_j, hp.crossover_rate)
        else:
            x = sbx_crossover(k_vary, x_i, x_j, hp.eta_crossover)
        if self.genotype_bounds is not None:
            x = jnp.clip(x, *self.genotype_bounds)
        return x, state

    def tell(self, key, genotypes, fitness, descriptors, archive, state, hparams):
        return state


OPERATORS = ("gaussian", "iso_line", "uniform_crossover", "polynomial_mutation", "sbx")


def split_counts(weights: tuple[float, ...], num: int) -> tuple[int, ...]:
    """Share ``num`` among weights: floors, then the leftover one by one to
    the largest remainders (earlier parts first on ties). Static.

    Raises:
        ValueError: a part would get no offspring.
    """
    total = sum(weights)
    exact = [w / total * num for w in weights]
    counts = [int(e) for e in exact]
    leftover = num - sum(counts)
    by_remainder = sorted(
        range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i)
    )
    for i in by_remainder[:leftover]:
        counts[i] += 1
    if min(counts) < 1:
        raise ValueError(
            f"a batch of {num} split by weights {weights} leaves a part empty "
            f"(counts {counts}); raise the batch size or that weight"
        )
    return tuple(counts)


@dataclasses.dataclass(frozen=True)
class MixingEmitter:
    """Splits each batch among emitters in fixed proportions.

    Attributes:
        emitters: the parts.
        weights: their shares (normalised; counts from :func:`split_counts`).
    """

    emitters: tuple[Any, ...]
    weights: tuple[float, ...]

    def __post_init__(self):
        if not self.emitters or len(self.emitters) != len(self.weights):
            raise ValueError("MixingEmitter needs one weight per emitter, at least one")
        if not all(w > 0 for w in self.weights):
            raise ValueError(f"MixingEmitter weights must be > 0, got {self.weights}")

    def init(self, key, archive):
        keys = jax.random.split(key, len(self.emitters))
        return tuple(
            e.init(k, archive) for e, k in zip(self.emitters, keys, strict=True)
        )

    def ask(self, key, archive, state, hparams, num: int):
        counts = split_counts(self.weights, num)
        keys = jax.random.split(key, len(self.emitters))
        parts, states = [], []
        for emitter, k, s, n in zip(self.emitters, keys, state, counts, strict=True):
            x, s = emitter.ask(k, archive, s, hparams, n)
            parts.append(x)
            states.append(s)
        return jnp.concatenate(parts, axis=0), tuple(states)

    def tell(self, key, genotypes, fitness, descriptors, archive, state, hparams):
        counts = split_counts(self.weights, genotypes.shape[0])
        keys = jax.random.split(key, len(self.emitters))
        states, start = [], 0
        for emitter, k, s, n in zip(self.emitters, keys, state, counts, strict=True):
            part = slice(start, start + n)
            states.append(emitter.tell(
                k, genotypes[part], fitness[part], descriptors[part], archive, s,
                hparams,
            ))  # fmt: skip
            start += n
        return tuple(states)


def parse_emitter_spec(spec: str) -> tuple[tuple[str, float], ...]:
    """``"iso_line"`` or ``"iso_line:0.7,gaussian:0.3"`` as ``((name, weight),
    ...)`` (a lone name weighs 1).

    Raises:
        ValueError: an unknown name, a repeated name or a weight that is not
            a positive number.
    """
    parts = []
    for item in spec.split(","):
        name, _, weight = item.strip().partition(":")
        if name not in OPERATORS:
            raise ValueError(
                f"unknown emitter {name!r} in {spec!r}; known: {', '.join(OPERATORS)}"
            )
        try:
            value = float(weight) if weight else 1.0
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise ValueError(f"emitter weight must be a positive number, got {item!r}")
        parts.append((name, value))
    names = [n for n, _ in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"an emitter is named twice in {spec!r}")
    return tuple(parts)


def make_emitter(spec: str, genotype_bounds=None, scale_bounds=None):
    """An emitter from a spec string (see :func:`parse_emitter_spec`): one
    :class:`VariationEmitter`, or a :class:`MixingEmitter` of several."""
    parts = parse_emitter_spec(spec)
    emitters = tuple(
        VariationEmitter(name, genotype_bounds, scale_bounds) for name, _ in parts
    )
    if len(emitters) == 1:
        return emitters[0]
    return MixingEmitter(emitters, tuple(w for _, w in parts))
