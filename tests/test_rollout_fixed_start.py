"""`jaxrl.rollout.FixedStart`: one start, common random numbers, no reset."""

import jax
import jax.numpy as jnp
import numpy as np

import jaxrl
from jaxrl.rollout import FixedStart, rollout


def test_same_actions_give_the_same_trajectory_and_episodes_never_reset():
    env, params = jaxrl.make("Dynamic-Obstacles-5x5")  # obstacles move at random
    stepper = FixedStart(env, 4, record=lambda reward, state, info: state.time)
    obs, state = stepper.reset(jax.random.key(0), params)
    jax.tree.map(lambda leaf: np.testing.assert_array_equal(leaf[0], leaf[3]), state)

    def policy(key, obs):  # envs 0 and 1 act alike, 2 and 3 alike
        actions = jax.random.randint(key, (2,), 0, 3)
        return jnp.repeat(actions, 2), None

    steps_taken = 30
    _, steps = jax.jit(rollout, static_argnums=(0, 2, 4))(
        stepper, params, policy, (state, obs, jax.random.key(1)), steps_taken
    )
    image = jax.tree.leaves(steps.obs)[0]  # (T, B, ...)
    for a, b in ((0, 1), (2, 3)):
        np.testing.assert_array_equal(image[:, a], image[:, b])
        np.testing.assert_array_equal(steps.reward[:, a], steps.reward[:, b])
    assert not np.array_equal(image[:, 0], image[:, 2])
    # the step counter runs on through any end of episode: nothing reset
    counts = np.arange(1, steps_taken + 1)[:, None]
    np.testing.assert_array_equal(steps.info["record"], np.tile(counts, (1, 4)))
    assert not steps.truncated.any()
    assert steps.terminated.dtype == jnp.bool_
