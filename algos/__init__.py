"""Algorithms, one subpackage each: ``from jaxrl.algos import ppo``."""

from jaxrl.algos import ppo

__all__ = ["ppo"]
