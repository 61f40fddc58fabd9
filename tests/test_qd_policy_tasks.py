"""Policy-search QD tasks: genotype sizes, masked returns, per-step
descriptors, determinism, the gridworld task and a MAP-Elites run on it.

Brax's tasks compile for tens of seconds on CPU, so here their pieces that
need no physics are checked (genotype sizes, the feet-contact rule); the
brax episodes themselves are exercised by the README's smoke run.
"""

import json
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from gymnax.environments import environment, spaces

import jaxrl.qd
from jaxrl.envs import qd
from jaxrl.envs.qd import brax_tasks
from jaxrl.envs.qd.policy_task import (
    OBSERVATION_STRIDE,
    _action_fn,
    final_value,
    hidden_width,
    mean_value,
    mlp_apply,
    mlp_num_params,
    policy_task,
)
from jaxrl.wrappers import EpisodeStatistics


@struct.dataclass
class LineState(environment.EnvState):
    x: jax.Array  # () float32
    time: jax.Array  # () int32


class Line(environment.Environment):
    """x moves by the action (Box [-1, 1]); reward 1 on every step, also
    after the end; terminated once |x| > 2.5."""

    @property
    def default_params(self):
        return environment.EnvParams(max_steps_in_episode=20)

    def action_space(self, params=None):
        return spaces.Box(-1.0, 1.0, (1,), jnp.float32)

    def observation_space(self, params=None):
        return spaces.Box(-jnp.inf, jnp.inf, (1,), jnp.float32)

    def reset_env(self, key, params):
        state = LineState(x=jnp.float32(0.0), time=jnp.int32(0))
        return state.x[None], state

    def step_env(self, key, state, action, params):
        state = LineState(x=state.x + action[0], time=state.time + 1)
        return state.x[None], state, jnp.float32(1.0), jnp.abs(state.x) > 2.5, {}


def line_task(descriptor_fn, episode_steps=20):
    env = Line()
    return policy_task(
        env,
        env.default_params,
        name="line",
        genotype_dim=mlp_num_params(1, 1, 1),
        state_descriptor=lambda state, info: state.x[None],
        descriptor_fn=descriptor_fn,
        descriptor_low=(-20.0,),
        descriptor_high=(20.0,),
        episode_steps=episode_steps,
        solved_fn=lambda episode_return: episode_return > 5,
    )


def test_genotype_size_per_hidden_width_and_a_clear_error():
    # 27 inputs, 8 outputs, one layer of 8: 28 * 8 + 9 * 8 = 296 (ant, QDax
    # sizes); two layers of 64: 28 * 64 + 65 * 64 + 65 * 8 = 6472
    assert mlp_num_params(27, 8, 8) == 296
    assert mlp_num_params(27, 8, 64, 2) == 6472
    for layers in (1, 2):
        for hidden in (1, 3, 64):
            size = mlp_num_params(17, 6, hidden, layers)
            assert hidden_width(size, 17, 6, layers) == hidden
    # the gridworld's 151 inputs and 7 actions: 159 h + 7
    task = qd.make_task("gridworld-final-position", genotype_dim=325)
    assert task.genotype_dim == 325 and task.descriptor_dim == 2
    with pytest.raises(ValueError, match=r"genotype_dim .* 166 \(h=1\), 325 \(h=2\)"):
        qd.make_task("gridworld-final-position", genotype_dim=324)
    # brax tasks refuse a wrong size before brax loads
    with pytest.raises(ValueError, match=r"brax-ant-omni genotype_dim .*296 \(h=8\)"):
        qd.make_task("brax-ant-omni", genotype_dim=295)
    with pytest.raises(ValueError, match=r"brax-walker2d-uni .*5702"):
        brax_tasks.brax_walker2d_uni(genotype_dim=5703, hidden_layers=2)
    with pytest.raises(ValueError, match="episode_steps must be an int >= 1"):
        qd.make_task("brax-ant-uni", episode_steps=0)


def test_mlp_reads_weights_then_biases_layer_by_layer():
    # 2 inputs -> 1 hidden -> 1 output: [w1 (2), b1, w2, b2]
    genotype = jnp.array([1.0, 2.0, 0.5, 3.0, -1.0])
    out = mlp_apply(genotype, jnp.array([0.25, -0.5]), hidden=1, hidden_layers=1)
    expected = 3.0 * np.tanh(0.25 * 1.0 - 0.5 * 2.0 + 0.5) - 1.0
    np.testing.assert_allclose(out, [expected], rtol=1e-6)


def test_actions_argmax_or_tanh_scaled_to_the_box():
    num, act = _action_fn(spaces.Discrete(4))
    assert num == 4 and act(jnp.array([0.0, 3.0, 1.0, -2.0])) == 1
    num, act = _action_fn(spaces.Box(0.0, 2.0, (2,), jnp.float32))
    np.testing.assert_allclose(act(jnp.array([50.0, 0.0])), [2.0, 1.0])
    np.testing.assert_allclose(act(jnp.array([-50.0, 0.0])), [0.0, 1.0])


def final_and_mean(values, alive):
    return jnp.concatenate([final_value(values, alive), mean_value(values, alive)])


def test_rewards_and_descriptors_stop_at_the_step_that_ends_the_episode():
    # genotypes [w1, b1, w2, b2]: the output tanh(b2) pushes x by +-1 a step
    # (terminates at x = 3, the third step) or 0 (never): returns 3, 3, 20
    # although the line pays 1 on every one of the 20 steps
    genotypes = jnp.array(
        [[0, 0, 0, 50.0], [0, 0, 0, -50.0], [0, 0, 0, 0.0]], jnp.float32
    )
    score = jax.jit(line_task(final_and_mean).score_fn)
    fitness, descriptors, extras = score(genotypes, jax.random.key(0))
    np.testing.assert_allclose(fitness, [3.0, 3.0, 20.0])
    # the final x is the state reached by the third step; the mean over the
    # episode (1 + 2 + 3) / 3
    np.testing.assert_allclose(descriptors, [[3.0, 2.0], [-3.0, -2.0], [0.0, 0.0]])
    np.testing.assert_array_equal(extras["is_solved"], [False, False, True])
    # after steps 10 and 20, held at the last value once the episode ended
    assert OBSERVATION_STRIDE == 10
    np.testing.assert_allclose(extras["observation"], [[3, 3], [-3, -3], [0, 0]])
    # one episode a genotype, whatever the key and the batch order
    again = score(genotypes[::-1], jax.random.key(1))
    jax.tree.map(
        np.testing.assert_array_equal,
        (fitness[::-1], descriptors[::-1], extras["is_solved"][::-1]),
        (again[0], again[1], again[2]["is_solved"]),
    )


def test_policy_task_refuses_wrappers_and_too_long_episodes():
    env = Line()
    with pytest.raises(TypeError, match="unwrapped gymnax environment"):
        policy_task(EpisodeStatistics(env), env.default_params, name="line",
                    genotype_dim=4, state_descriptor=None, descriptor_fn=None,
                    descriptor_low=(0.0,), descriptor_high=(1.0,))  # fmt: skip
    with pytest.raises(ValueError, match=r"episode_steps \(21\) must not exceed"):
        line_task(final_value, episode_steps=21)


def test_feet_contact_counts_a_foot_when_a_contact_reaches_it_at_distance_0():
    # contacts (world -1, link): foot 2 penetrating, foot 4 just above the
    # floor, foot 8 touching at distance 0 and 6 nowhere; the torso 0 hits too
    contact = SimpleNamespace(
        link_idx=(jnp.full(5, -1), jnp.array([2, 4, 8, 0, 2])),
        dist=jnp.array([-1e-3, 1e-4, 0.0, -0.1, 0.2]),
    )
    touch = brax_tasks.feet_contact(SimpleNamespace(contact=contact),
                                    jnp.array([2, 4, 6, 8]))  # fmt: skip
    np.testing.assert_array_equal(touch, [1.0, 0.0, 0.0, 1.0])


def test_gridworld_task_shapes_from_a_trace():
    # compiling a gridworld episode takes seconds: the run below does it once
    task = qd.make_task("gridworld-final-position", genotype_dim=166, episode_steps=20)
    genotypes = jax.ShapeDtypeStruct((6, 166), jnp.float32)
    fitness, descriptors, extras = jax.eval_shape(
        task.score_fn, genotypes, jax.random.key(0)
    )
    assert (fitness.shape, fitness.dtype) == ((6,), jnp.float32)
    assert (descriptors.shape, descriptors.dtype) == ((6, 2), jnp.float32)
    assert extras["is_solved"].shape == (6,) and extras["is_solved"].dtype == bool
    assert extras["observation"].shape == (6, 4)  # (x, y) after steps 10 and 20
    assert task.descriptor_low == (0.0, 0.0) and task.descriptor_high == (1.0, 1.0)
    assert task.min_fitness == 0.0


# a whole engine run (MAP-Elites' own command-line tests cover the engine
# path on the arm); with --exhaustive
@pytest.mark.exhaustive
def test_map_elites_runs_on_the_gridworld_task_from_the_command_line(tmp_path):
    from jaxrl import cli

    argv = ["train", "map-elites", "--task", "gridworld-final-position",
            "--genotype-dim", "166", "--batch-size", "8", "--num-iterations", "2",
            "--grid-cells", "5", "--seeds", "1", "--no-progress",
            "--no-memory-check", "--out", str(tmp_path / "run")]  # fmt: skip
    assert cli.main(argv) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert "gridworld-final-position" in json.dumps(results)
    archive = jaxrl.qd.load_archive(tmp_path / "run")
    filled = np.asarray(archive.is_filled)
    assert filled.shape == (1, 25) and 1 <= filled.sum() <= 25
    # final positions in the unit box; returns of a sparse task, >= 0
    descriptors = np.asarray(archive.descriptors)[filled]
    assert np.all((descriptors >= 0) & (descriptors <= 1))
    assert np.all(np.asarray(archive.fitness)[filled] >= 0)
