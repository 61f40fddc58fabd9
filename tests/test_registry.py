import copy

import jax
import pytest
from gymnax.environments.classic_control import CartPole

import jaxrl


def test_make_our_env_and_farama_id():
    env, params = jaxrl.make("MiniGrid-DoorKey-8x8-v0", max_steps_in_episode=7)
    assert env.size == 8
    assert params.max_steps_in_episode == 7


def test_farama_max_steps_keyword_names_the_step_limit():
    _, params = jaxrl.make("MiniGrid-DoorKey-8x8-v0", max_steps=9)
    assert params.max_steps_in_episode == 9
    with pytest.raises(TypeError, match="give max_steps or max_steps_in_episode"):
        jaxrl.make("DoorKey-5x5", max_steps=9, max_steps_in_episode=9)


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


def test_aliases_name_registered_ids():
    registry = jaxrl.registry
    assert registry.canonical_id("MiniGrid-Empty-5x5-v0") == "Empty-5x5"
    assert registry.canonical_id("MiniGrid-ObstructedMaze-Full-v1") == (
        "ObstructedMaze-Full-v1"
    )
    assert "MiniGrid-Empty-5x5-v0" not in registry.ids()
    with pytest.raises(ValueError, match="not registered"):
        registry.register_alias("Other-v0", "NoSuchEnv")
    with pytest.raises(ValueError, match="already an id or an alias"):
        registry.register_alias("MiniGrid-Empty-5x5-v0", "Empty-6x6")


class _Painted(CartPole):
    """CartPole with one ``make`` option, to test the options interface."""

    make_options = ("colour",)
    colour = "plain"

    def with_options(self, colour: str = "plain"):
        env = copy.copy(self)
        env.colour = colour
        return env


def test_make_hands_the_environments_options_to_with_options(monkeypatch):
    registry = jaxrl.registry
    monkeypatch.setattr(registry, "_SPECS", dict(registry._SPECS))  # undone after
    registry.register("Painted-v0", _Painted)
    env, params = jaxrl.make("Painted-v0", colour="red", max_steps_in_episode=9)
    assert env.colour == "red" and params.max_steps_in_episode == 9
    assert jaxrl.make("Painted-v0")[0].colour == "plain"
    with pytest.raises(TypeError, match=r"options \['colour'\]"):
        jaxrl.make("Painted-v0", color="red")
    with pytest.raises(TypeError, match="option of other environments only"):
        jaxrl.make("CartPole-v1", colour="red")
