"""jaxrl: hard-exploration RL in JAX, each experiment one compiled program.

``jaxrl.make(env_id, **kwargs) -> (env, params)`` builds an environment;
``jaxrl.algos`` holds the algorithms (``from jaxrl.algos import ppo``).
"""

import os as _os

# envs/ and algos/ live beside jaxrl/ in the source tree and are installed as
# jaxrl.envs and jaxrl.algos. When Python runs from the repository root, this
# source package shadows the installed one and lacks those subpackages, so
# point the package path at the siblings.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(_os.path.dirname(__file__), "envs")):
    __path__ += [  # noqa: F821 (module __path__)
        p for p in (_root,) if _os.path.isfile(_os.path.join(p, "envs", "__init__.py"))
    ]

from jaxrl import registry  # noqa: E402
from jaxrl import envs  # noqa: E402, F401  (registers the environments)
from jaxrl.registry import make, register  # noqa: E402

__version__ = "0.1.0"
__all__ = ["envs", "make", "register", "registry", "__version__"]
