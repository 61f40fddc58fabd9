"""Quality-diversity tasks: batched ``score(genotypes, key) -> (fitness,
descriptors, extras)`` functions with their search spaces.

``make_task(task_id, **kwargs)`` builds one by id:

- ``"arm"``: the redundant planar arm (:func:`arm`).
- ``"sphere"``, ``"rastrigin"``: CMA-ME's shifted functions with projection
  descriptors (:func:`sphere`, :func:`rastrigin`).

Every task takes ``genotype_dim``. Example::

    task = qd.make_task("arm", genotype_dim=8)
    fitness, descriptors, _ = task(genotypes, jax.random.key(0))
"""

from jaxrl.envs.qd.arm import arm, arm_score
from jaxrl.envs.qd.base import Task, make_task, register_task, task_ids
from jaxrl.envs.qd.functions import projection_descriptors, rastrigin, sphere

for _task_id, _factory in (("arm", arm), ("sphere", sphere), ("rastrigin", rastrigin)):
    if _task_id not in task_ids():
        register_task(_task_id, _factory)

__all__ = [
    "Task", "arm", "arm_score", "make_task", "projection_descriptors",
    "rastrigin", "register_task", "sphere", "task_ids",
]  # fmt: skip
