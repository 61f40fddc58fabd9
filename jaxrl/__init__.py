"""jaxrl: hard-exploration RL in JAX, each experiment one compiled program.

``jaxrl.make(env_id, **kwargs) -> (env, params)`` builds an environment;
``jaxrl.algos`` holds the algorithms (``from jaxrl.algos import ppo``).
"""

import os as _os

# envs/ and algos/ sit beside jaxrl/ in the source tree and are installed as
# jaxrl.envs and jaxrl.algos. When Python runs from the repository root, this
# source package shadows the installed one and lacks those subpackages, so
# the package path is extended with the repository root.
_here = _os.path.dirname(_os.path.abspath(__file__))
_root = _os.path.dirname(_here)
if not _os.path.isdir(_os.path.join(_here, "envs")) and _os.path.isfile(
    _os.path.join(_root, "envs", "__init__.py")
):
    __path__.append(_root)  # noqa: F821 (a package's own __path__)

# WARN: on CPU, XLA's concurrency-optimised scheduler was seen to deadlock
# vmapped multi-seed training loops (jax 0.10, 2 cores; every thread waiting,
# no progress). Turning it off avoids that at no measured cost. This takes
# effect only if no JAX backend has started yet; set the flag yourself in
# XLA_FLAGS to choose otherwise.
_SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler"
if _SCHEDULER_FLAG not in _os.environ.get("XLA_FLAGS", ""):
    _os.environ["XLA_FLAGS"] = (
        _os.environ.get("XLA_FLAGS", "") + f" {_SCHEDULER_FLAG}=false"
    ).strip()

__version__ = "0.1.0"

from jaxrl import envs, registry  # envs: importing registers the environments
from jaxrl.engine import RunInterrupted, RunResult, resume, run, sweep
from jaxrl.gymnasium_adapter import to_gymnasium
from jaxrl.program import Program, TrainOutput, scan_program
from jaxrl.registry import make, register

__all__ = [
    "Program", "RunInterrupted", "RunResult", "TrainOutput", "__version__", "envs",
    "make", "register", "registry", "resume", "run", "scan_program", "sweep",
    "to_gymnasium",
]  # fmt: skip
