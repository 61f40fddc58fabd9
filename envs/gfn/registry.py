"""GFlowNet environment ids: ``make_gfn_env`` builds an environment and its reward.

``make_gfn_env("hypergrid")`` is the 4-dimensional grid of height 8 with the
standard reward (R0 = 0.1, R1 = 0.5, R2 = 2). Keywords override an id's
settings (``make_gfn_env("hypergrid", ndim=2, height=16, r0=1e-3)``), and so
may the id itself after a colon, which is how the command line (one string
per target) names other sizes: ``"hypergrid:ndim=2,height=16,r0=0.001"``.

``make_gfn_env("mo-hypergrid")`` is the OP-GFN multi-objective grid (32 x 32,
Branin and Currin); ``"mo-hypergrid:objectives=branin-currin-shubert-beale"``
picks the objectives. Its reward has several objectives and no scalar
reward, so it trains with the order-preserving losses only (op-tb, ...).

``make_gfn_env("ising")`` is the Ising model of EB-GFN (Zhang et al., 2022):
spins set one at a time on a periodic 3 x 3 lattice, ``log R(x) = x^T J x +
h sum x`` with ``J = sigma A`` (sigma 0.1, h 0); ``"ising:size=2,sigma=-0.2"``.

``make_gfn_env("bitseq")`` is the bit-sequence task of Malkin et al. (2022):
120 bits written 8 at a time, 60 modes, ``R = exp(-2 d)``; it cannot be
enumerated and is evaluated on its modes (``"bitseq:n=40,num_modes=20"``).
"""

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

from jaxrl.envs.gfn.bitseq import BitSequence, BitSequenceReward
from jaxrl.envs.gfn.hypergrid import HyperGrid, HyperGridReward
from jaxrl.envs.gfn.ising import Ising, IsingReward
from jaxrl.envs.gfn.mo_hypergrid import MOHyperGrid, MOHyperGridReward


@dataclasses.dataclass(frozen=True)
class GFNEnvSpec:
    """How to build one registered GFlowNet environment and its reward."""

    env_id: str
    factory: Callable[..., tuple[Any, Any]]  # (**kwargs) -> (env, reward)
    kwargs: dict[str, Any]


_SPECS: dict[str, GFNEnvSpec] = {}


def register_gfn_env(
    env_id: str,
    factory: Callable[..., tuple[Any, Any]],
    kwargs: dict[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> None:
    """Register ``factory(**kwargs) -> (env, reward)`` under ``env_id``.

    Raises:
        ValueError: ``env_id`` is taken (and ``overwrite`` is False), empty,
            or holds a ``:``.
    """
    if not isinstance(env_id, str) or not env_id or ":" in env_id:
        raise ValueError(f"env_id must be a non-empty str without ':', got {env_id!r}")
    if env_id in _SPECS and not overwrite:
        raise ValueError(f"GFlowNet environment {env_id!r} is already registered")
    _SPECS[env_id] = GFNEnvSpec(env_id, factory, dict(kwargs or {}))


def gfn_env_ids() -> list[str]:
    """Registered GFlowNet environment ids, in registration order."""
    return list(_SPECS)


def make_gfn_env(env_id: str, **kwargs: Any) -> tuple[Any, Any]:
    """Build a registered GFlowNet environment and its reward.

    Args:
        env_id: a registered id, optionally followed by ``:name=value,...``
            overrides (values read as int, then float, else str).
        **kwargs: overrides of the id's settings (they win over the id's).

    Returns:
        ``(env, reward)``: a :class:`~jaxrl.envs.gfn.base.GFNEnvironment` and
        an object with ``log_reward(state)`` (and ``is_mode(state)``).

    Raises:
        ValueError: unknown id, or a malformed override in the id.
        TypeError: an unknown keyword or a value of the wrong type; the
            message lists the accepted keywords.
    """
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be a str, got {type(env_id).__name__}")
    name, _, options = env_id.partition(":")
    if name not in _SPECS:
        raise ValueError(f"unknown GFlowNet environment {name!r}; known: "
                         f"{', '.join(_SPECS) or 'none'}")  # fmt: skip
    spec = _SPECS[name]
    settings = {**spec.kwargs, **_parse_options(env_id, options), **kwargs}
    _check_keywords(spec, settings)
    return spec.factory(**settings)


def _parse_options(env_id: str, text: str) -> dict[str, Any]:
    options = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{env_id!r}: expected name=value after ':', got {item!r}")
        options[key.strip()] = _parse_value(value.strip())
    return options


def _parse_value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _check_keywords(spec: GFNEnvSpec, settings: dict[str, Any]) -> None:
    parameters = inspect.signature(spec.factory).parameters
    for key, value in settings.items():
        if key not in parameters:
            raise TypeError(
                f"{spec.env_id!r} got an unexpected keyword {key!r}; accepted: "
                f"{', '.join(parameters)}"
            )
        expected = type(parameters[key].default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if expected in (int, float, bool, str) and type(value) is not expected:
            raise TypeError(
                f"{spec.env_id!r}: {key} must be {expected.__name__}, "
                f"got {type(value).__name__} {value!r}"
            )


def _hypergrid(
    ndim: int = 4, height: int = 8, r0: float = 0.1, r1: float = 0.5, r2: float = 2.0
) -> tuple[HyperGrid, HyperGridReward]:
    """HyperGrid and its standard reward; defaults from Bengio et al. (2021)."""
    return HyperGrid(ndim, height), HyperGridReward(height, r0, r1, r2)


register_gfn_env("hypergrid", _hypergrid)
# 2 x 8 cells with the standard reward: 64 states, 4 modes; a quick check.
register_gfn_env("hypergrid-small", _hypergrid, {"ndim": 2, "height": 8})


def _mo_hypergrid(
    height: int = 32, objectives: str = "branin-currin", reference_point: float = 0.0
) -> tuple[MOHyperGrid, MOHyperGridReward]:
    """The OP-GFN multi-objective HyperGrid (height 32 as in Chen & Mauch,
    2024); ``objectives`` names 2 or more of branin, currin, shubert, beale
    joined by ``-`` (a command-line override cannot hold a comma)."""
    names = tuple(objectives.split("-"))
    return MOHyperGrid(height), MOHyperGridReward(height, names, reference_point)


# Order-preserving (op-*) losses only: the reward has several objectives.
register_gfn_env("mo-hypergrid", _mo_hypergrid)


def _bitseq(
    n: int = 120,
    k: int = 8,
    num_modes: int = 60,
    beta: float = 2.0,
    distance_norm: str = "none",
    mode_seed: int = 0,
    mode_threshold: int = 30,
) -> tuple[BitSequence, BitSequenceReward]:
    """Bit sequences written word by word, left to right, and their reward
    (defaults: Malkin et al., 2022, as gflownet-rl's bitseq code sets them)."""
    reward = BitSequenceReward(
        n, k, num_modes, beta, distance_norm, mode_seed, mode_threshold
    )
    return BitSequence(n, k), reward


# Not enumerable: evaluated on modes found and a test set around the modes.
register_gfn_env("bitseq", _bitseq)


def _ising(
    size: int = 3, sigma: float = 0.1, field: float = 0.0
) -> tuple[Ising, IsingReward]:
    """The Ising model on a periodic ``size x size`` lattice and its reward
    (sigma 0.1 as gfnx's EB-GFN setting; side 3 so that it enumerates)."""
    return Ising(size), IsingReward(size, sigma, field)


# 3 x 3 spins: 19,683 states, 512 objects; side 4 and up cannot be enumerated.
register_gfn_env("ising", _ising)
