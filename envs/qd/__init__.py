"""Quality-diversity tasks: batched ``score(genotypes, key) -> (fitness,
descriptors, extras)`` functions with their search spaces.

``make_task(task_id, **kwargs)`` builds one by id:

- ``"arm"``: the redundant planar arm (:func:`arm`).
- ``"sphere"``, ``"rastrigin"``: CMA-ME's shifted functions with projection
  descriptors (:func:`sphere`, :func:`rastrigin`).
- ``"hard-maze"``: novelty search's deceptive maze, a small MLP controller
  scored by its final position (:func:`hard_maze`); the same maze is the
  gymnax environment :class:`HardMaze`.
- ``"gridworld-final-position"``: an MLP policy on a sparse gridworld
  (FourRooms), described by the agent's final cell
  (:func:`gridworld_final_position`).
- ``"brax-ant-omni"``, ``"brax-ant-uni"``, ``"brax-walker2d-uni"``: QDax's
  brax locomotion tasks (final position; feet contact), CPU-sized by
  default (:mod:`jaxrl.envs.qd.brax_tasks`).

:func:`policy_task` builds such a task from any gymnax environment.

Every task takes ``genotype_dim`` and has a default one
(:func:`default_genotype_dim`: the arm's 100, the hard maze's 67, ...). Example::

    task = qd.make_task("arm", genotype_dim=8)
    fitness, descriptors, _ = task(genotypes, jax.random.key(0))
"""

from jaxrl.envs.qd.arm import arm, arm_score
from jaxrl.envs.qd.base import (
    Task,
    default_genotype_dim,
    make_task,
    register_task,
    task_ids,
)
from jaxrl.envs.qd.brax_tasks import brax_ant_omni, brax_ant_uni, brax_walker2d_uni
from jaxrl.envs.qd.functions import projection_descriptors, rastrigin, sphere
from jaxrl.envs.qd.maze import HardMaze, hard_maze, hard_maze_score, plot_maze
from jaxrl.envs.qd.policy_task import gridworld_final_position, policy_task
from jaxrl.registry import ids, register

for _task_id, _factory in (
    ("arm", arm), ("sphere", sphere), ("rastrigin", rastrigin),
    ("hard-maze", hard_maze),
    ("gridworld-final-position", gridworld_final_position),
    ("brax-ant-omni", brax_ant_omni), ("brax-ant-uni", brax_ant_uni),
    ("brax-walker2d-uni", brax_walker2d_uni),
):  # fmt: skip
    if _task_id not in task_ids():
        register_task(_task_id, _factory)
if "HardMaze" not in ids():
    register("HardMaze", HardMaze)

__all__ = [
    "HardMaze", "Task", "arm", "arm_score", "brax_ant_omni", "brax_ant_uni",
    "brax_walker2d_uni", "default_genotype_dim", "gridworld_final_position",
    "hard_maze", "hard_maze_score", "make_task", "plot_maze", "policy_task",
    "projection_descriptors", "rastrigin", "register_task", "sphere", "task_ids",
]  # fmt: skip
