"""Quality-diversity tasks: batched ``score(genotypes, key) -> (fitness,
descriptors, extras)`` functions with their search spaces.

``make_task(task_id, **kwargs)`` builds one by id:

- ``"arm"``: the redundant planar arm (:func:`arm`).
- ``"sphere"``, ``"rastrigin"``: CMA-ME's shifted functions with projection
  descriptors (:func:`sphere`, :func:`rastrigin`).
- ``"hard-maze"``: novelty search's deceptive maze, a small MLP controller
  scored by its final position (:func:`hard_maze`); the same maze is the
  gymnax environment :class:`HardMaze`.

Every task takes ``genotype_dim``. Example::

    task = qd.make_task("arm", genotype_dim=8)
    fitness, descriptors, _ = task(genotypes, jax.random.key(0))
"""

from jaxrl.envs.qd.arm import arm, arm_score
from jaxrl.envs.qd.base import Task, make_task, register_task, task_ids
from jaxrl.envs.qd.functions import projection_descriptors, rastrigin, sphere
from jaxrl.envs.qd.maze import HardMaze, hard_maze, hard_maze_score, plot_maze
from jaxrl.registry import ids, register

for _task_id, _factory in (
    ("arm", arm), ("sphere", sphere), ("rastrigin", rastrigin),
    ("hard-maze", hard_maze),
):  # fmt: skip
    if _task_id not in task_ids():
        register_task(_task_id, _factory)
if "HardMaze" not in ids():
    register("HardMaze", HardMaze)

__all__ = [
    "HardMaze", "Task", "arm", "arm_score", "hard_maze", "hard_maze_score",
    "make_task", "plot_maze", "projection_descriptors", "rastrigin",
    "register_task", "sphere", "task_ids",
]  # fmt: skip
