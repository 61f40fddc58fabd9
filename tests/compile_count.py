"""Counting XLA compilations in tests, after JAX's one-time helpers.

JAX compiles a few small helper programs once per process (key handling,
the first checkpoint's copies), in whichever run comes first. A test that
compares the compilations of two runs calls :func:`warm_up` first, so that
neither run pays for them, whatever order the tests run in.
"""

import jax
import jax.numpy as jnp
from flax import struct
from rich.console import Console

import jaxrl
from jaxrl.program import Program

_EVENTS: list[str] = []
_LISTENING: list[bool] = []


def compilations() -> int:
    """XLA backend compilations in this process since counting began."""
    if not _LISTENING:
        jax.monitoring.register_event_duration_secs_listener(
            lambda name, *args, **kwargs: _EVENTS.append(name)
        )
        _LISTENING.append(True)
    return sum(name.endswith("backend_compile_duration") for name in _EVENTS)


@struct.dataclass
class _Nothing:
    scale: float = 1.0


def warm_up(run_dir) -> None:
    """Run a trivial program (a key in its state, a run directory and a
    checkpoint every chunk) so JAX's one-time compilations are done."""
    compilations()
    trivial = Program(
        init=lambda key, hp: (key, jnp.zeros(())),
        step=lambda s, hp: ((s[0], s[1] + hp.scale), {"x": s[1]}),
        num_steps=2,
        work_per_step=1,
        work_unit="evaluations",
        final=lambda history: {"x": history["x"][:, -1]},
        primary="x",
    )
    jaxrl.run(trivial, _Nothing(), seeds=2, progress=False,
              console=Console(quiet=True), out=run_dir, chunk_steps=1,
              checkpoint_every=1)  # fmt: skip
