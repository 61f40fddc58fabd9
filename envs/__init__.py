"""Environments, one family a subpackage. Importing registers their ids."""

from jaxrl.envs import gridworld

__all__ = ["gridworld"]
