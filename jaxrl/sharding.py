"""The run axis laid over every visible device, with JAX's own machinery.

A batch of ``R`` runs (seeds x settings) is one leading axis. With more than
one device, that axis is split over a 1-D :class:`jax.sharding.Mesh` named
``"runs"`` with a :class:`~jax.sharding.NamedSharding`, padded to a multiple
of the device count with copies of the last run (dropped again on the host).
Across hosts the same code runs in every process after
``jax.distributed.initialize()``: ``jax.devices()`` lists every process's
devices, each process builds its own part of the global arrays, and results
are gathered to every host.
"""

import dataclasses
import math
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


@dataclasses.dataclass(frozen=True)
class RunPlacement:
    """Where the runs live: ``sharding`` is None on a single device."""

    num_runs: int  # the runs asked for
    padded_runs: int  # a multiple of the device count
    sharding: NamedSharding | None

    def put(self, tree: Any) -> Any:
        """Host arrays with leading axis ``num_runs`` -> (sharded) device arrays."""
        padded = jax.tree.map(self._pad, tree)
        if self.sharding is None:
            return jax.device_put(padded)
        return jax.tree.map(self._global_array, padded)

    def get(self, tree: Any) -> Any:
        """Device arrays -> NumPy with the padding runs dropped (every host)."""
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            tree = multihost_utils.process_allgather(tree, tiled=True)
        return jax.tree.map(lambda x: np.asarray(x)[: self.num_runs], tree)

    def _pad(self, x):
        x = np.asarray(x)
        missing = self.padded_runs - x.shape[0]
        if missing == 0:
            return x
        return np.concatenate([x, np.repeat(x[-1:], missing, axis=0)])

    def _global_array(self, x: np.ndarray) -> jax.Array:
        return jax.make_array_from_callback(x.shape, self.sharding, lambda i: x[i])


def place_runs(num_runs: int, devices: list | None = None) -> RunPlacement:
    """Lay ``num_runs`` runs over ``devices`` (default: every visible device)."""
    devices = jax.devices() if devices is None else list(devices)
    if len(devices) == 1:
        return RunPlacement(num_runs, num_runs, None)
    padded = math.ceil(num_runs / len(devices)) * len(devices)
    mesh = Mesh(np.asarray(devices), ("runs",))
    return RunPlacement(num_runs, padded, NamedSharding(mesh, PartitionSpec("runs")))
