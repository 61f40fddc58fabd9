"""Farama's start settings (``agent_start_pos``, ``agent_start_dir``) on the
gymnasium surface of the jaxrl gridworlds that have them, as Farama's own
environment of the same id holds them."""

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import pytest

import jaxrl
from jaxrl.farama_surface import ReadOnlyViewError
from jaxrl.gymnasium_adapter import GymnasiumEnv

IDS = ("Empty-5x5", "Empty-Random-5x5", "DistShift1", "Dynamic-Obstacles-Random-5x5")


@pytest.mark.parametrize("env_id", IDS)
def test_start_settings_as_farama(env_id):
    farama = gym.make(f"MiniGrid-{env_id}-v0").unwrapped
    ours = GymnasiumEnv(*jaxrl.make(env_id))  # static: no reset, nothing compiled
    assert ours.agent_start_pos == farama.agent_start_pos
    assert ours.agent_start_dir == farama.agent_start_dir
    with pytest.raises(ReadOnlyViewError):
        ours.agent_start_pos = (2, 2)


def test_only_tasks_with_a_start_setting_have_it():
    ours = GymnasiumEnv(*jaxrl.make("DoorKey-5x5"))
    assert not hasattr(ours, "agent_start_pos")
    assert not hasattr(ours, "agent_start_dir")
