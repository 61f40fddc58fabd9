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

from jaxrl.engine import RunInterrupted, RunResult, resume, run, sweep
from jaxrl.gymnasium_registration import register_envs as _register_gymnasium
from jaxrl.program import Program, TrainOutput, scan_program

# gymnasium.make("jaxrl/DoorKey-5x5-v0") once jaxrl is imported, and
# gymnasium.make("jaxrl:jaxrl/DoorKey-5x5-v0") anywhere (gymnasium imports
# jaxrl for it). Registering imports no environment, so no backend starts.
_register_gymnasium()

# WARN: gymnax runs JAX code when imported (gymnax 1.0.1 builds an array in
# misc/frozen_lake.py), which starts a JAX backend; after that,
# jax.distributed.initialize() and platform choices are refused. So the
# environments, the registry and the gymnasium adapter (which import gymnax)
# load on first use, and `import jaxrl` alone starts no backend.
_LAZY = {
    "envs": ("jaxrl.envs", None),
    "registry": ("jaxrl.registry", None),
    "make": ("jaxrl.registry", "make"),
    "register": ("jaxrl.registry", "register"),
    "to_gymnasium": ("jaxrl.gymnasium_adapter", "to_gymnasium"),
    "checked": ("jaxrl.wrappers", "checked"),
    "qd": ("jaxrl.qd", None),  # load_archive, take_run
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'jaxrl' has no attribute {name!r}")
    import importlib

    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


__all__ = [
    "Program", "RunInterrupted", "RunResult", "TrainOutput", "__version__",
    "checked", "envs",
    "make", "register", "registry", "resume", "run", "scan_program", "sweep",
    "to_gymnasium",
]  # fmt: skip
