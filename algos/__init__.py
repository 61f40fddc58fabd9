"""Algorithms, one subpackage each: ``from jaxrl.algos import ppo``."""

from jaxrl.algos import gflownet, map_elites, ppo

__all__ = ["gflownet", "map_elites", "ppo"]
