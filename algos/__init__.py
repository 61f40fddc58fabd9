"""Algorithms, one subpackage each: ``from jaxrl.algos import ppo``."""

from jaxrl.algos import gflownet, map_elites, novelty_search, ppo

__all__ = ["gflownet", "map_elites", "novelty_search", "ppo"]
