import jax
import pytest

import jaxrl


def test_make_our_env_and_farama_id():
    env, params = jaxrl.make("MiniGrid-DoorKey-8x8-v0", max_steps_in_episode=7)
    assert env.size == 8
    assert params.max_steps_in_episode == 7


def test_make_gymnax_env():
    env, params = jaxrl.make("CartPole-v1")
    obs, _ = env.reset(jax.random.key(0), params)
    assert obs.shape == (4,)


def test_unknown_id_lists_close_matches():
    with pytest.raises(ValueError, match="DoorKey-8x8"):
        jaxrl.make("DoorKey-7x7")


def test_unknown_kwarg_names_accepted_ones():
    with pytest.raises(TypeError, match="view_size"):
        jaxrl.make("DoorKey-5x5", sise=3)


def test_wrong_kwarg_type():
    with pytest.raises(TypeError, match="view_size must be int"):
        jaxrl.make("DoorKey-5x5", view_size=5.0)


def test_register_twice_raises():
    with pytest.raises(ValueError, match="already registered"):
        jaxrl.register("DoorKey-5x5", lambda: None)
