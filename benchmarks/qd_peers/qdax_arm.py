"""QDax's MAP-Elites on the arm race (driven by benchmarks/compare_qd.py).

Runs in its own virtual environment. The whole run (977 batches) is one
jitted ``lax.scan`` of ``MAPElites.update``, compiled before timing. Prints
one JSON line: evals/s, compile seconds, coverage and QD-score.
"""

import functools
import json
import math
import time

import jax
import jax.numpy as jnp
from qdax.core.containers.mapelites_repertoire import (
    compute_cvt_centroids,
    compute_euclidean_centroids,
)
from qdax.core.emitters.mutation_operators import isoline_variation
from qdax.core.emitters.standard_emitters import MixingEmitter
from qdax.core.map_elites import MAPElites
from qdax.utils.metrics import default_qd_metrics
from race_args import parse_race_args


def arm(genotypes, key):
    """The race's arm (jaxrl.envs.qd.arm's definition), QDax's signature."""
    del key
    theta = 2.0 * jnp.pi * jnp.clip(genotypes, 0.0, 1.0) - jnp.pi
    phi = jnp.cumsum(theta, axis=1)
    reach = jnp.stack([jnp.cos(phi), jnp.sin(phi)], axis=-1).sum(1) / theta.shape[1]
    return -jnp.var(theta, axis=1), 0.5 + 0.5 * reach, {}


def main() -> None:
    args = parse_race_args()

    key = jax.random.key(args.seed)
    key, k_init, k_cvt = jax.random.split(key, 3)
    if args.archive == "grid":
        centroids = compute_euclidean_centroids(
            grid_shape=(args.cells, args.cells), minval=0.0, maxval=1.0
        )
    else:
        centroids = compute_cvt_centroids(2, 50_000, args.centroids, 0.0, 1.0, k_cvt)
    variation = functools.partial(
        isoline_variation, iso_sigma=args.sigma_iso, line_sigma=args.sigma_line,
        minval=0.0, maxval=1.0,
    )  # fmt: skip
    emitter = MixingEmitter(
        mutation_fn=None, variation_fn=variation, variation_percentage=1.0,
        batch_size=args.batch,
    )  # fmt: skip
    # QDax adds its offset to every fitness: +pi^2 is the same offset as the others
    metrics = functools.partial(default_qd_metrics, qd_offset=math.pi**2)
    map_elites = MAPElites(arm, emitter, metrics)
    first = jax.random.uniform(k_init, (args.batch, args.dof))
    repertoire, emitter_state, _ = map_elites.init(first, centroids, key)

    def run(repertoire, emitter_state, key):
        def one(carry, key):
            repertoire, emitter_state = carry
            repertoire, emitter_state, m = map_elites.update(
                repertoire, emitter_state, key
            )
            return (repertoire, emitter_state), m

        keys = jax.random.split(key, args.iterations)
        return jax.lax.scan(one, (repertoire, emitter_state), keys)

    start = time.perf_counter()
    compiled = jax.jit(run).lower(repertoire, emitter_state, key).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    _, history = jax.block_until_ready(compiled(repertoire, emitter_state, key))
    run_s = time.perf_counter() - start
    evaluations = args.batch * (args.iterations + 1)
    print(json.dumps({
        "evaluations": evaluations, "run_s": run_s, "compile_s": compile_s,
        "evals_per_s": evaluations / run_s,
        "coverage": float(history["coverage"][-1]) / 100.0,
        "qd_score": float(history["qd_score"][-1]),
        "max_fitness": float(history["max_fitness"][-1]),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
