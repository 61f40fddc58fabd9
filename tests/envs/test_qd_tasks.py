"""QD tasks: known values by hand, the registry, shapes, and offsets that
really bound the fitness from below."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.envs import qd

PI = math.pi


def test_arm_known_values():
    genotypes = jnp.array(
        [
            # theta = 2 pi x - pi = (0, pi/2); link angles phi = (0, pi/2); links of
            # 1/2: p = ((1 + 0) / 2, (0 + 1) / 2) = (0.5, 0.5), descriptor
            # 0.5 + 0.5 p = (0.75, 0.75); var(0, pi/2) = (pi/4)^2 = pi^2 / 16
            [0.5, 0.75],
            # theta = (0, 0): a straight arm along x, p = (1, 0) -> (1.0, 0.5);
            # no variance
            [0.5, 0.5],
            # theta = (-pi, pi): phi = (-pi, 0), p = ((-1 + 1) / 2, (0 + 0) / 2)
            # = (0, 0) -> (0.5, 0.5); var = pi^2, the lowest fitness possible
            [0.0, 1.0],
            # outside [0, 1]: clipped to (1, 1) first, theta = (pi, pi):
            # phi = (pi, 2 pi), p = ((-1 + 1) / 2, 0) -> (0.5, 0.5); var 0
            [1.5, 7.0],
        ]
    )
    fitness, descriptors, extras = qd.make_task("arm", genotype_dim=2)(
        genotypes, jax.random.key(0)
    )
    np.testing.assert_allclose(fitness, [-(PI**2) / 16, 0.0, -(PI**2), 0.0], atol=1e-6)
    np.testing.assert_allclose(
        descriptors, [[0.75, 0.75], [1.0, 0.5], [0.5, 0.5], [0.5, 0.5]], atol=1e-6
    )
    # the link ends (the observation AURORA encodes): 2 joints, 4 values
    assert set(extras) == {"observation"} and extras["observation"].shape == (4, 4)


def test_arm_three_joints_by_hand():
    # theta = 2 pi (0.25, 0.5, 0.75) - pi = (-pi/2, 0, pi/2); phi = (-pi/2, -pi/2, 0)
    # p = (0 + 0 + 1, -1 - 1 + 0) / 3 = (1/3, -2/3) -> 0.5 + 0.5 p = (2/3, 1/6)
    # var(-pi/2, 0, pi/2) = (pi^2/4 + 0 + pi^2/4) / 3 = pi^2 / 6
    fitness, descriptors, _ = qd.arm_score(jnp.array([[0.25, 0.5, 0.75]]))
    np.testing.assert_allclose(fitness, [-(PI**2) / 6], rtol=1e-6)
    np.testing.assert_allclose(descriptors, [[2 / 3, 1 / 6]], atol=1e-6)


def test_sphere_and_rastrigin_known_values():
    n = 4
    optimum = jnp.full((1, n), 2.048)
    for task_id in ("sphere", "rastrigin"):
        fitness, descriptors, _ = qd.make_task(task_id, genotype_dim=n)(optimum, None)
        np.testing.assert_allclose(fitness, [0.0], atol=1e-4)
        # both halves: 2 genes of 2.048 -> sums of 4.096
        np.testing.assert_allclose(descriptors, [[4.096, 4.096]], rtol=1e-6)
    # x = (0, 1, 6, -10.24): |6| and |-10.24| exceed 5.12 and become 5.12 / x
    # = 0.8533.. and -0.5: descriptors (0 + 1, 0.85333 - 0.5)
    x = jnp.array([[0.0, 1.0, 6.0, -10.24]])
    _, descriptors, _ = qd.make_task("sphere", genotype_dim=n)(x, None)
    np.testing.assert_allclose(descriptors, [[1.0, 5.12 / 6 - 0.5]], rtol=1e-6)
    # sphere at x = 0: -sum((0 - 2.048)^2) = -4 * 4.194304 = -16.777216
    sphere = qd.sphere(genotype_dim=n)
    np.testing.assert_allclose(
        sphere(jnp.zeros((1, n)), None)[0], [-16.777216], rtol=1e-6
    )
    # rastrigin at x = 0: y = -2.048, cos(2 pi 2.048) = cos(0.096 pi);
    # -(10 * 4 + 4 * (4.194304 - 10 cos(0.096 pi)))
    expected = -(40 + 4 * (2.048**2 - 10 * math.cos(2 * PI * 2.048)))
    fitness = qd.rastrigin(genotype_dim=n)(jnp.zeros((1, n)), None)[0]
    np.testing.assert_allclose(fitness, [expected], rtol=1e-5)


def test_sphere_normalized_as_pyribs():
    # pyribs: 100 at the optimum, 0 at x = -5.12 everywhere
    task = qd.sphere(genotype_dim=6, normalize=True)
    x = jnp.stack([jnp.full(6, 2.048), jnp.full(6, -5.12)])
    np.testing.assert_allclose(task(x, None)[0], [100.0, 0.0], atol=1e-4)
    assert task.min_fitness == 0.0


def test_descriptor_boxes_and_odd_dimensions():
    task = qd.make_task("rastrigin", genotype_dim=5)
    assert task.descriptor_low == (-5.12 * 2, -5.12 * 3)
    assert task.descriptor_high == (5.12 * 2, 5.12 * 3)
    assert qd.make_task("arm", genotype_dim=3).descriptor_high == (1.0, 1.0)
    assert task.genotype_bounds is None and task.initial_bounds == (-5.12, 5.12)


@pytest.mark.parametrize("task_id", ["arm", "sphere", "rastrigin"])
def test_shapes_dtypes_and_min_fitness_bounds(task_id):
    task = qd.make_task(task_id, genotype_dim=6)
    low, high = task.initial_bounds
    x = jax.random.uniform(jax.random.key(1), (512, 6), minval=low, maxval=high)
    # the box's worst corners too (where the sphere's minimum sits)
    x = jnp.concatenate([x, jnp.full((1, 6), low), jnp.full((1, 6), high)])
    fitness, descriptors, _ = jax.jit(task.__call__)(x, jax.random.key(2))
    assert fitness.shape == (514,) and fitness.dtype == jnp.float32
    assert descriptors.shape == (514, 2) and descriptors.dtype == jnp.float32
    assert np.all(np.asarray(fitness) >= task.min_fitness - 1e-3)
    assert np.all(np.asarray(descriptors) >= np.asarray(task.descriptor_low) - 1e-4)
    assert np.all(np.asarray(descriptors) <= np.asarray(task.descriptor_high) + 1e-4)


def test_registry():
    assert qd.task_ids()[:3] == ["arm", "sphere", "rastrigin"]
    assert qd.make_task("arm", genotype_dim=7).genotype_dim == 7
    with pytest.raises(ValueError, match="did you mean 'sphere'"):
        qd.make_task("spher")
    with pytest.raises(TypeError):
        qd.make_task("arm", num_links=3)
    with pytest.raises(ValueError, match="genotype_dim must be an int >= 2"):
        qd.make_task("sphere", genotype_dim=1)
    with pytest.raises(ValueError, match="needs init_bounds"):
        qd.Task("t", qd.arm_score, 2, (0.0, 0.0), (1.0, 1.0))
