"""Bring a Farama MiniGrid level into jaxrl."""

import jax.numpy as jnp
import numpy as np

from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld.core import GridState, Level
from jaxrl.envs.gridworld.text_levels import LevelSetParams, TextLevels


def from_minigrid(minigrid_env) -> tuple[TextLevels, LevelSetParams, GridState]:
    """Convert a reset Farama MiniGrid environment into ``(env, params, state)``.

    ``state`` is the Farama episode as it stands (grid, agent, carried object,
    step count), so stepping it here replays Farama step for step. ``env``
    plays that level: its reset returns to the level as converted (with the
    step count at 0 and nothing carried), not to a new sample of the task.

    Args:
        minigrid_env: a ``minigrid`` environment after ``reset()``, wrapped
            or not.

    Raises:
        TypeError: it is not a MiniGrid environment, or has not been reset.
    """
    farama = getattr(minigrid_env, "unwrapped", minigrid_env)
    if not hasattr(farama, "grid") or not hasattr(farama, "agent_pos"):
        raise TypeError(
            f"expected a minigrid MiniGridEnv, got {type(minigrid_env).__name__}"
        )
    if farama.agent_pos is None or farama.grid is None:
        raise TypeError("the MiniGrid environment has not been reset yet")
    grid = np.asarray(farama.grid.encode(), np.uint8)
    pos = np.asarray(farama.agent_pos, np.int32)
    direction = np.int32(farama.agent_dir)
    env = TextLevels(
        Level(grid, pos, direction),
        max_steps=int(farama.max_steps),
        view_size=int(farama.agent_view_size),
        see_through_walls=bool(farama.see_through_walls),
    )
    carried = farama.carrying
    carrying = C.EMPTY_CELL if carried is None else carried.encode()
    state = GridState(
        time=jnp.int32(farama.step_count),
        grid=jnp.asarray(grid),
        agent_pos=jnp.asarray(pos),
        agent_dir=jnp.asarray(direction),
        carrying=jnp.asarray(carrying, jnp.uint8),
    )
    return env, env.default_params, state
