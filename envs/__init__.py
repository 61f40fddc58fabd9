"""Environments, one family a subpackage. Importing registers their ids."""

from jaxrl.envs import gfn, gridworld, qd

__all__ = ["gfn", "gridworld", "qd"]
