"""jaxrl's gridworlds in gymnasium's registry: make, make_vec, errors."""

import subprocess
import sys
import textwrap
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.envs.registration import parse_env_id
from gymnasium.utils.env_checker import check_env, data_equivalence
from gymnasium.vector import AutoresetMode

import jaxrl
from jaxrl import gymnasium_registration as registration
from jaxrl.envs.gridworld import MiniGridEnv
from jaxrl.gymnasium_adapter import GymnasiumEnv, GymnasiumVectorEnv

ID = "jaxrl/Empty-5x5-v0"  # the cheapest gridworld to compile

# Runs in a fresh interpreter that has imported nothing of jaxrl.
_FRESH = textwrap.dedent(
    """
    import sys
    import gymnasium

    # gymnasium 1.x loads no plugins: the plain id is unknown before jaxrl loads
    try:
        gymnasium.make("jaxrl/Empty-5x5-v0")
    except gymnasium.error.NamespaceNotFound:
        pass
    else:
        raise AssertionError("the plain id worked without jaxrl imported")
    assert "jaxrl" not in sys.modules
    env = gymnasium.make("jaxrl:jaxrl/Empty-5x5-v0", max_steps=2)
    assert "jaxrl" in sys.modules
    obs, _ = env.reset(seed=0)
    assert obs["image"].shape == (7, 7, 3) and obs["image"].dtype == "uint8"
    assert env.step(2)[3] is False and env.step(2)[3] is True  # truncated
    assert type(gymnasium.make("jaxrl/Empty-5x5-v0").unwrapped).__name__ == (
        "GymnasiumEnv"
    )
    print("ok")
    """
)


def test_make_in_a_fresh_process_imports_jaxrl_itself():
    done = subprocess.run([sys.executable, "-c", _FRESH], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_every_gridworld_id_is_registered():
    gridworlds = [
        env_id for env_id in jaxrl.registry.ids()
        if issubclass(jaxrl.registry._SPECS[env_id].factory, MiniGridEnv)
    ]  # fmt: skip
    assert list(registration.GRIDWORLD_IDS) == gridworlds
    for env_id in gridworlds:
        spec = gymnasium.spec(registration.gymnasium_id(env_id))
        assert spec.namespace == "jaxrl" and spec.kwargs == {"env_id": env_id}
        assert spec.vector_entry_point is not None
    # ids with their own version keep it, as Farama MiniGrid's do
    assert registration.gymnasium_id("DoorKey-5x5") == "jaxrl/DoorKey-5x5-v0"
    assert parse_env_id(registration.gymnasium_id("ObstructedMaze-Full-v1")) == (
        "jaxrl", "ObstructedMaze-Full", 1
    )  # fmt: skip
    assert registration.register_envs(["DoorKey-5x5"]) == ["jaxrl/DoorKey-5x5-v0"]
    with pytest.raises(ValueError, match="env_ids"):
        registration.register_envs([""])


def test_check_env_passes_and_kwargs_reach_jaxrl_make():
    env = gymnasium.make(ID, max_steps=3)
    assert isinstance(env.unwrapped, GymnasiumEnv)
    assert env.spec.kwargs == {"env_id": "Empty-5x5", "max_steps": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        check_env(env.unwrapped)  # rgb_array too, re-made through the registry
    env.reset(seed=0)
    truncated = [env.step(0)[3] for _ in range(3)]  # turning in place
    assert truncated == [False, False, True]
    frame = gymnasium.make(ID, render_mode="rgb_array_list")
    frame.reset(seed=0)
    assert frame.render()[0].dtype == np.uint8


def test_make_vec_steps_every_copy_in_one_call_with_same_step_autoreset():
    vec = gymnasium.make_vec(ID, num_envs=4, max_steps=2)
    assert isinstance(vec, GymnasiumVectorEnv)  # not gymnasium's SyncVectorEnv
    assert vec.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert vec.spec.kwargs["num_envs"] == 4
    obs, _ = vec.reset(seed=7)
    assert obs in vec.observation_space
    assert data_equivalence(obs, vec.reset(seed=7)[0], exact=True)
    assert obs["image"].shape == (4, 7, 7, 3) and obs["image"].dtype == np.uint8
    first = obs
    for step in range(4):
        actions = vec.action_space.sample()
        obs, rewards, terminated, truncated, infos = vec.step(actions)
        assert obs in vec.observation_space
        assert rewards.shape == (4,) and rewards.dtype == np.float32
        assert terminated.dtype == truncated.dtype == np.bool_
        assert truncated.shape == terminated.shape == (4,)
        done = terminated | truncated
        if step % 2 == 0:  # Empty-5x5 cannot be solved in one step
            assert not done.any() and "final_obs" not in infos
            continue
        # every copy reached the 2-step limit (or the goal) and started again
        assert done.all() and infos["_final_obs"].all()
        for final in infos["final_obs"]:
            assert final in vec.single_observation_space
        # a fixed start: the new episodes begin where the first ones did
        assert data_equivalence(obs, first, exact=True)


def test_unknown_ids_and_keywords_give_clear_errors():
    with pytest.raises(gymnasium.error.NameNotFound, match="namespace jaxrl"):
        gymnasium.make("jaxrl/NoSuchEnv-v0")
    with pytest.raises(gymnasium.error.VersionNotFound, match="v0"):
        gymnasium.make("jaxrl/DoorKey-5x5-v3")
    with pytest.raises(gymnasium.error.NameNotFound):
        gymnasium.make_vec("jaxrl/NoSuchEnv-v0", num_envs=2)
    with pytest.raises(TypeError, match="no_such_option"):
        gymnasium.make(ID, no_such_option=1)


def test_to_gymnasium_spec_id_is_the_registered_id():
    """``to_gymnasium``'s spec names the environment as gymnasium's registry
    does (``-v0`` added, an id's own version kept), so either spec makes it."""
    for env_id in ("Empty-5x5", "ObstructedMaze-Full-v1"):
        ours = jaxrl.to_gymnasium(env_id)
        registered = gymnasium.make(registration.gymnasium_id(env_id))
        assert ours.spec.id == registered.spec.id == registration.gymnasium_id(env_id)
        assert gymnasium.spec(ours.spec.id).kwargs == {"env_id": env_id}
        remade = gymnasium.make(ours.spec.id)
        assert isinstance(remade.unwrapped, GymnasiumEnv)
        assert remade.unwrapped._env is ours._env  # the same id and kwargs
