"""jaxrl.to_gymnasium: gymnasium's check_env, parity with jaxrl, seeding, errors."""

import warnings
from types import SimpleNamespace

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import jaxrl
from jaxrl import gymnasium_adapter as adapter
from jaxrl import gymnasium_convert as convert
from jaxrl.envs.gridworld import MiniGridEnv, render
from jaxrl.envs.gridworld.missions import mission_text
from jaxrl.wrappers import EpisodeStatistics


def _gridworld_ids():
    """Every gridworld id; all but the first of each task class exhaustive.

    The adapter treats every gridworld alike, and each check_env compiles the
    env's reset and step (about 3 s an id on a 2-core CPU), so the default
    run checks one id per task class (a new class is picked up
    automatically) and ``--exhaustive`` checks every id.
    """
    params, classes = [], set()
    for env_id in jaxrl.registry.ids():
        env_class = type(jaxrl.make(env_id)[0])
        if not issubclass(env_class, MiniGridEnv):
            continue
        marks = [pytest.mark.exhaustive] if env_class in classes else []
        classes.add(env_class)
        params.append(pytest.param(env_id, marks=marks))
    return params


SMALL = "Empty-Random-5x5"  # random start, cheap to compile


@pytest.fixture(scope="module")
def small():
    """One fresh environment (3-step limit) with its trace counts and adapters."""
    env, params = jaxrl.make(SMALL, max_steps_in_episode=3)
    counts = _count_traces(env)
    return SimpleNamespace(
        env=env,
        params=params,
        counts=counts,
        single=adapter.GymnasiumEnv(env, params),
        vector=adapter.GymnasiumVectorEnv(env, params, 3),
    )


def _check_env_strictly(env, **kwargs):
    """check_env, with every warning of gymnasium's checker made a failure.

    Each one names a real departure from the API (an observation outside its
    space, a dtype, non-determinism, missing render metadata, ...).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, **kwargs)
    failures = []
    for w in caught:  # gymnasium.logger prefixes its messages
        if "WARN:" in str(w.message) or "ERROR:" in str(w.message):
            failures.append(str(w.message))
        else:  # not the checker's: report it as usual
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    assert not failures, failures


def _assert_obs_equal(gym_obs, jax_obs):
    """A gymnasium observation (dict of NumPy) equals a JAX pytree one; the
    single gridworld env's mission string equals the index's text."""
    expected = jax_obs._asdict() if hasattr(jax_obs, "_asdict") else jax_obs
    if isinstance(gym_obs, dict):
        assert gym_obs.keys() == expected.keys()
        for name, value in gym_obs.items():
            want = expected[name]
            if isinstance(value, str) and not isinstance(want, str):
                want = mission_text(np.asarray(want))
            np.testing.assert_array_equal(value, np.asarray(want))
    else:
        np.testing.assert_array_equal(gym_obs, np.asarray(expected))


def _count_traces(env):
    """Count, per name, how often ``env``'s reset_env/step_env are traced."""
    counts = {"reset_env": 0, "step_env": 0}
    for name in counts:
        original = getattr(env, name)

        def counted(*args, _name=name, _original=original):
            counts[_name] += 1  # runs at trace time only
            return _original(*args)

        setattr(env, name, counted)  # instance attribute: only this env
    return counts


def _split_all(keys):
    """``jax.random.split`` each key: (chain, use) halves, as the adapter does."""
    pairs = jax.vmap(jax.random.split)(keys)
    return pairs[:, 0], pairs[:, 1]


@pytest.mark.parametrize("env_id", _gridworld_ids())
def test_check_env_passes_for_every_gridworld(env_id):
    env = jaxrl.to_gymnasium(env_id)
    assert env.spec is not None  # so check_env also tests seeded determinism
    # Rendering goes through the same code for every gridworld and is checked
    # below; skipping it here saves compiling a renderer per id.
    _check_env_strictly(env, skip_render_check=True)


def test_check_env_passes_with_rendering():
    env_id = "DoorKey-5x5"
    env = jaxrl.to_gymnasium(env_id)
    if not env.metadata["render_modes"]:
        pytest.skip("no gridworld render module")
    # Renders itself, and check_env re-makes it (through env.spec) with each
    # mode in metadata["render_modes"] and renders that too.
    _check_env_strictly(jaxrl.to_gymnasium(env_id, render_mode="rgb_array"))


def test_check_env_passes_for_a_gymnax_env():
    env = jaxrl.to_gymnasium("CartPole-v1")
    _check_env_strictly(env)
    gymnax_env, params = jaxrl.make("CartPole-v1")
    obs, _ = env.reset(seed=3)
    _, key_reset = jax.random.split(jax.random.key(3))
    expected, _ = gymnax_env.reset(key_reset, params)
    assert obs.dtype == np.float32
    np.testing.assert_array_equal(obs, np.asarray(expected))


def test_reset_equals_jaxrl_reset_with_the_same_key(small):
    env = small.single
    for seed in (0, 7, 2**32 - 1):
        obs, info = env.reset(seed=seed)
        _, key_reset = jax.random.split(jax.random.key(seed))
        expected, _ = small.env.reset(key_reset, small.params)
        _assert_obs_equal(obs, expected)
        assert info == {}
        assert obs in env.observation_space
        for name, space in env.observation_space.spaces.items():
            if isinstance(space, gymnasium.spaces.Text):  # Farama's mission
                assert isinstance(obs[name], str), name
                continue
            assert obs[name].dtype == space.dtype, name
            if isinstance(space, gymnasium.spaces.Discrete):
                assert isinstance(obs[name], np.int64), name


def test_spaces_keep_bounds_dtypes_and_sorted_keys():
    env = jaxrl.to_gymnasium("DoorKey-5x5")
    jax_env, params = jaxrl.make("DoorKey-5x5")
    space = env.observation_space
    assert list(space.spaces) == sorted(jax_env.observation_space(params).spaces)
    image = space["image"]
    assert image.dtype == np.uint8 and image.shape == (7, 7, 3)
    assert image.low.shape == image.shape and int(image.low.min()) == 0
    assert env.action_space == gymnasium.spaces.Discrete(7)
    with pytest.raises(TypeError, match="cannot convert"):
        convert.gymnasium_space(object())


def test_step_returns_the_terminal_observation_without_resetting():
    env = jaxrl.to_gymnasium("Empty-5x5")  # start (1, 1) facing right, goal (3, 3)
    obs, _ = env.reset(seed=0)
    assert obs["direction"] == 0
    route = [2, 2, 1, 2, 2]  # forward, forward, turn right, forward, forward
    for t, action in enumerate(route):
        obs, reward, terminated, truncated, info = env.step(action)
        assert type(reward) is float and type(terminated) is bool
        assert terminated == (t == len(route) - 1) and truncated is False
    # reward 1 - 0.9 * 5 / 100; facing down (1) on the goal, not a fresh start
    assert reward == pytest.approx(0.955)
    assert obs["direction"] == 1
    assert info == {"success": True}
    # A gridworld keeps stepping from where it ended, as Farama's does (its
    # NoDeath wrapper relies on it): forward from the goal (3, 3) is a wall.
    obs, reward, terminated, _, _ = env.step(2)
    assert (env.unwrapped.agent_pos, reward, terminated) == ((3, 3), 0.0, False)
    assert env.unwrapped.step_count == 6
    env.reset(seed=1)
    env.step(0)  # a new episode steps again
    cartpole = jaxrl.to_gymnasium("CartPole-v1")  # other environments refuse
    cartpole.reset(seed=0)
    terminated = truncated = False
    while not (terminated or truncated):
        _, _, terminated, truncated, _ = cartpole.step(0)
    with pytest.raises(RuntimeError, match="episode has ended .*call reset"):
        cartpole.step(0)


def test_vector_env_equals_vmapped_jaxrl_env(small):
    env, num_envs, seed = small.vector, small.vector.num_envs, 10
    assert env.metadata["autoreset_mode"] == gymnasium.vector.AutoresetMode.SAME_STEP
    assert env.observation_space == gymnasium.vector.utils.batch_space(
        env.single_observation_space, num_envs
    )
    obs, _ = env.reset(seed=seed)
    keys = jax.vmap(jax.random.key)(jnp.arange(seed, seed + num_envs))
    keys, key_reset = _split_all(keys)
    reset = jax.jit(jax.vmap(small.env.reset, in_axes=(0, None)))
    step = jax.jit(jax.vmap(small.env.step, in_axes=(0, 0, 0, None)))
    expected, state = reset(key_reset, small.params)
    _assert_obs_equal(obs, expected)
    assert obs in env.observation_space
    rng = np.random.default_rng(1)
    num_done = 0
    for _ in range(5):
        actions = rng.integers(0, 7, size=num_envs)
        obs, rewards, terminated, truncated, infos = env.step(actions)
        keys, key_step = _split_all(keys)
        expected, state, reward, term, trunc, info = step(
            key_step, state, jnp.asarray(actions, jnp.int32), small.params
        )
        _assert_obs_equal(obs, expected)
        np.testing.assert_array_equal(rewards, np.asarray(reward))
        np.testing.assert_array_equal(terminated, np.asarray(term))
        np.testing.assert_array_equal(truncated, np.asarray(trunc))
        done = terminated | truncated
        if done.any():
            np.testing.assert_array_equal(infos["_final_obs"], done)
            for i in range(num_envs):
                final = infos["final_obs"][i]
                if not done[i]:
                    assert final is None
                    continue
                reached = jax.tree.map(lambda x, i=i: x[i], info["final_observation"])
                _assert_obs_equal(final, reached)
                assert final in env.single_observation_space
        num_done += int(done.sum())
    assert num_done >= num_envs  # every copy was truncated at step 3


def test_single_env_replays_a_vector_copy(small):
    obs, _ = small.vector.reset(seed=20)
    one, _ = small.single.reset(seed=21)  # copy i is seeded with 20 + i
    _assert_obs_equal(one, {k: v[1] for k, v in obs.items()})
    actions = np.random.default_rng(0).integers(0, 7, size=(3, 3))
    for action in actions:  # the limit is 3 steps, so the episode ends here
        obs, rewards, terminated, truncated, infos = small.vector.step(action)
        one, reward, term, trunc, _ = small.single.step(action[1])
        assert (reward, term, trunc) == (rewards[1], terminated[1], truncated[1])
        if term or trunc:
            break
        _assert_obs_equal(one, {k: v[1] for k, v in obs.items()})
    # the vector copy auto-reset; the single env returns what the step reached
    assert term or trunc
    _assert_obs_equal(one, infos["final_obs"][1])


def test_reset_and_step_are_traced_once(small):
    small.single.reset(seed=0)
    small.single.step(0)
    small.vector.reset(seed=0)
    small.vector.step(np.zeros(3, np.int64))
    first = dict(small.counts)
    assert min(first.values()) >= 1
    for seed in (1, 2):  # new values, same shapes: nothing is traced again
        small.single.reset(seed=seed)
        small.vector.reset(seed=[seed, None, 3])
        for _ in range(4):  # past the step limit, so auto-resets happen too
            _, _, terminated, truncated, _ = small.single.step(0)
            if terminated or truncated:  # the single env needs its own reset
                small.single.reset()
            small.vector.step(np.array([0, 1, 2]))
    assert small.counts == first


def test_weakly_typed_gymnax_state_compiles_once():
    env, params = jaxrl.make("Pendulum-v1")  # its reset_env stores a Python 0.0
    counts = _count_traces(env)
    gym_env = adapter.GymnasiumEnv(env, params)
    gym_env.reset(seed=0)
    for _ in range(3):
        gym_env.step(np.zeros(1, np.float32))
    assert counts == {"reset_env": 1, "step_env": 1}


def test_same_seed_same_episode_and_different_seeds_differ(small):
    def episode(seed):
        first, _ = small.single.reset(seed=seed)
        return [first] + [small.single.step(a)[0] for a in (2, 1)]

    for a, b in zip(episode(5), episode(5), strict=True):
        _assert_obs_equal(a, b)
    starts = [small.single.reset(seed=s)[0] for s in range(6)]
    assert len({(int(o["direction"]), o["image"].tobytes()) for o in starts}) > 1
    small.single.reset(seed=5)
    unseeded, _ = small.single.reset()  # drawn from np_random, seeded by 5
    small.single.reset(seed=5)
    _assert_obs_equal(unseeded, small.single.reset()[0])

    a, _ = small.vector.reset(seed=[3, 4, 5])
    b, _ = small.vector.reset(seed=3)  # copies get 3, 4 and 5
    _assert_obs_equal(a, b)


def test_large_seeds_do_not_collide():
    keys = convert.keys_from_seeds([5, 2**32 + 5, 2**64 + 5, 2**32 - 1])
    data = np.asarray(jax.random.key_data(keys))
    np.testing.assert_array_equal(data[0], jax.random.key_data(jax.random.key(5)))
    np.testing.assert_array_equal(
        data[3], jax.random.key_data(jax.random.key(2**32 - 1))
    )
    assert len({row.tobytes() for row in data}) == 4


def test_wrapped_env_steps_through_its_own_step(small):
    wrapper = EpisodeStatistics(small.env)
    assert not adapter.uses_step_env(wrapper)
    wrapped = adapter.GymnasiumEnv(wrapper, small.params)
    plain = small.single
    _assert_obs_equal(wrapped.reset(seed=4)[0], plain.reset(seed=4)[0])
    for action in (2, 1, 2):
        obs, reward, terminated, truncated, info = wrapped.step(action)
        expected = plain.step(action)
        _assert_obs_equal(obs, expected[0])
        assert (reward, terminated, truncated) == expected[1:4]
        if terminated:
            break
    assert bool(info["episode"].returned)  # the limit is 3 steps
    assert int(info["episode"].length) == 3 or terminated


def test_bad_arguments_raise_clear_errors(small):
    with pytest.raises(ValueError, match="num_envs must be >= 1"):
        jaxrl.to_gymnasium(SMALL, num_envs=0)
    for bad in (1.5, True, "2"):
        with pytest.raises(TypeError, match="num_envs must be an int"):
            jaxrl.to_gymnasium(SMALL, num_envs=bad)
    with pytest.raises(ValueError, match="Unknown environment id"):
        jaxrl.to_gymnasium("DoorKey-7x7")
    with pytest.raises(TypeError, match="unexpected keyword"):
        jaxrl.to_gymnasium(SMALL, no_such_option=1)
    with pytest.raises(ValueError, match="render_mode='human'"):
        jaxrl.to_gymnasium(SMALL, render_mode="human")
    with pytest.raises(ValueError, match="vector env only supports None"):
        jaxrl.to_gymnasium(SMALL, num_envs=2, render_mode="rgb_array")

    vector = jaxrl.to_gymnasium(SMALL, num_envs=2)
    assert isinstance(vector, gymnasium.vector.VectorEnv) and vector.num_envs == 2
    with pytest.raises(RuntimeError, match="reset"):
        vector.step(np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="got 3 seeds for num_envs=2"):
        vector.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match="non-negative int"):
        vector.reset(seed=[1, "2"])
    with pytest.raises(RuntimeError, match="reset"):
        adapter.GymnasiumEnv(small.env, small.params).step(0)

    env = small.single
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"x": 1})
    with pytest.raises(ValueError, match="non-negative int"):
        env.reset(seed=-1)
    env.reset(seed=0)
    for action in (7, -1, 1.5, [0, 1]):
        with pytest.raises(ValueError, match="not in the action space"):
            env.step(action)
    small.vector.reset(seed=0)
    with pytest.raises(ValueError, match="not in the action space"):
        small.vector.step(np.array([0, 7, 1]))


def test_rgb_array_renders_the_current_state_as_farama_does():
    env = jaxrl.to_gymnasium("DoorKey-5x5", render_mode="rgb_array")
    jax_env = env.unwrapped._env
    env.reset(seed=0)
    before = env.render()
    env.step(1)  # turn right: the agent's triangle and the highlight change
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.shape == (5 * 32, 5 * 32, 3)
    assert not np.array_equal(frame, before)

    @jax.jit  # eager, every op would compile on its own
    def expected(state):
        seen = render.visible_cells(state, jax_env.view_size, jax_env.see_through_walls)
        return render.render_state(state, 32, highlight=seen)

    np.testing.assert_array_equal(frame, np.asarray(expected(env.unwrapped._state)))


def test_no_rgb_array_without_render_rgb():
    """Only a class with a ``render_rgb`` method renders: not gymnax's, and not
    a wrapper (its state is not the one ``render_rgb`` draws)."""
    cartpole, cartpole_params = jaxrl.make("CartPole-v1")
    gridworld, params = jaxrl.make("Empty-5x5")
    for jax_env, jax_params in (
        (cartpole, cartpole_params),
        (EpisodeStatistics(gridworld), params),
    ):
        env = adapter.GymnasiumEnv(jax_env, jax_params)
        assert env.metadata["render_modes"] == []
        with pytest.raises(ValueError, match="render_mode='rgb_array'"):
            adapter.GymnasiumEnv(jax_env, jax_params, render_mode="rgb_array")


def test_environments_pickle_and_deep_copy_mid_episode():
    import copy
    import pickle

    env = jaxrl.to_gymnasium("DoorKey-5x5")
    env.reset(seed=3)
    env.step(2)
    copies = [pickle.loads(pickle.dumps(env)), copy.deepcopy(env), env]
    runs = [[c.step(a) for a in (1, 2, 2, 0, 3)] for c in copies]
    for run in runs[:2]:
        for (obs, *rest), (expected, *expected_rest) in zip(run, runs[2], strict=True):
            np.testing.assert_array_equal(obs["image"], expected["image"])
            assert rest == expected_rest
    vector = jaxrl.to_gymnasium("Empty-5x5", num_envs=2)
    vector.reset(seed=1)
    twin = pickle.loads(pickle.dumps(vector))
    actions = np.array([2, 1])
    np.testing.assert_array_equal(twin.step(actions)[0]["image"],
                                  vector.step(actions)[0]["image"])  # fmt: skip


@pytest.mark.parametrize(
    "context", ["spawn", pytest.param("forkserver", marks=pytest.mark.exhaustive)]
)
def test_async_vector_env_with_fresh_worker_processes(context):
    """gymnasium's AsyncVectorEnv, its workers started with "spawn" or
    "forkserver" (nothing inherited from this process): each worker unpickles
    the maker, builds the environment in a fresh process and replays what the
    same env gives here (one worker, a 2-step limit). The mission string comes
    through pipes: gymnasium reads a Text space from shared memory only once
    (Farama's MissionSpace has none either)."""
    import functools

    make = functools.partial(jaxrl.to_gymnasium, "Empty-5x5", max_steps=2)
    here = make()
    # a seeded mission sample does not depend on the process's string hashing
    charset = here.observation_space["mission"].character_list
    assert list(charset) == sorted(charset)
    vector = gymnasium.vector.AsyncVectorEnv(
        [make], context=context, shared_memory=False
    )
    try:
        obs, _ = vector.reset(seed=5)
        expected, _ = here.reset(seed=5)
        np.testing.assert_array_equal(obs["image"][0], expected["image"])
        assert obs["mission"][0] == expected["mission"]
        for action in (2, 1):
            obs, reward, terminated, truncated, _ = vector.step(np.array([action]))
            expected, *flags, _ = here.step(action)
            np.testing.assert_array_equal(obs["image"][0], expected["image"])
            assert [reward[0], terminated[0], truncated[0]] == flags
        assert truncated[0]  # the limit ended the episode in the worker too
    finally:
        vector.close()
