"""Which registered ids a test runs on."""

import jaxrl
from jaxrl.envs.gridworld import MiniGridEnv


def one_per_task() -> list[str]:
    """The first registered id of each gridworld class (the smallest level
    of each family), so that a test compiles each family once. Other
    registered environments (the hard maze) have tests of their own."""
    chosen, seen = [], set()
    for env_id in jaxrl.registry.ids():
        env_class = type(jaxrl.make(env_id)[0])
        if issubclass(env_class, MiniGridEnv) and env_class not in seen:
            seen.add(env_class)
            chosen.append(env_id)
    return chosen
