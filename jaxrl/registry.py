"""Environment ids: ``make`` builds an environment and its params by name.

Our ids come first (``"DoorKey-5x5"``; Farama's full ``"MiniGrid-DoorKey-5x5-v0"``
is accepted too); every id that gymnax registers (``"CartPole-v1"``) works as
well. Keyword arguments go to the environment's constructor when its signature
names them and to its params dataclass when a field does; anything else is a
``TypeError`` that lists what is accepted.
"""

import dataclasses
import difflib
import inspect
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
from gymnax import registration as gymnax_registration


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """How to build one registered environment."""

    env_id: str
    factory: Callable[..., Any]
    kwargs: dict[str, Any]


_SPECS: dict[str, EnvSpec] = {}
# Keywords that choose a gridworld's observation (``MiniGridEnv.with_observation``).
_OBSERVATION_KWARGS = ("observation", "tile_size", "mission")
_FARAMA_PREFIX, _FARAMA_SUFFIX = "MiniGrid-", "-v0"


def register(
    env_id: str,
    factory: Callable[..., Any],
    kwargs: dict[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> None:
    """Register an environment under ``env_id``.

    Args:
        env_id: the name ``make`` will accept, e.g. ``"MyMaze-v0"``.
        factory: a class (or function) returning a gymnax-style environment.
        kwargs: constructor arguments fixed for this id; ``make`` may
            override them.
        overwrite: replace an existing registration instead of raising.

    Raises:
        ValueError: ``env_id`` is already registered (and ``overwrite`` is
            False), or is not a non-empty string.
        TypeError: ``factory`` is not callable.
    """
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env_id must be a non-empty str, got {env_id!r}")
    if not callable(factory):
        raise TypeError(f"factory for {env_id!r} must be callable, got {factory!r}")
    if env_id in _SPECS and not overwrite:
        raise ValueError(
            f"{env_id!r} is already registered; pass overwrite=True to replace it"
        )
    _SPECS[env_id] = EnvSpec(env_id, factory, dict(kwargs or {}))


def ids() -> list[str]:
    """Ids registered by jaxrl (and by the user), in registration order."""
    return list(_SPECS)


def gymnax_ids() -> list[str]:
    """Ids that gymnax registers; ``make`` accepts these too."""
    return list(gymnax_registration.registered_envs)


def canonical_id(env_id: str) -> str:
    """The registered id that ``env_id`` names.

    Accepts Farama's full MiniGrid names (``"MiniGrid-Empty-8x8-v0"``).

    Raises:
        ValueError: unknown id; the message lists the closest known ids.
    """
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be a str, got {type(env_id).__name__}")
    if env_id in _SPECS or env_id in gymnax_registration._registry:
        return env_id
    short = env_id.removeprefix(_FARAMA_PREFIX).removesuffix(_FARAMA_SUFFIX)
    if short in _SPECS:
        return short
    known = ids() + gymnax_ids()
    close = difflib.get_close_matches(env_id, known, n=5, cutoff=0.5)
    close += difflib.get_close_matches(short, known, n=5, cutoff=0.5)
    close = list(dict.fromkeys(close))[:5]
    hint = f" Closest: {', '.join(close)}." if close else ""
    raise ValueError(
        f"Unknown environment id {env_id!r}.{hint} `jaxrl envs` lists all ids."
    )


def make(env_id: str, **kwargs: Any) -> tuple[Any, Any]:
    """Build a registered environment and its params.

    Args:
        env_id: a registered id (``jaxrl.registry.ids()``), a Farama MiniGrid
            id, or a gymnax id.
        **kwargs: constructor arguments (``view_size=5``) and params fields
            (``max_steps_in_episode=50``), told apart by name; for gridworlds
            also ``observation`` (``"view"``, ``"full"``, ``"rgb"``,
            ``"rgb_full"``), ``tile_size`` (pixels per cell in RGB) and
            ``mission`` (False drops the mission index from observations).

    Returns:
        ``(env, params)``: the environment and its default params with the
        params overrides applied.

    Raises:
        ValueError: unknown id.
        TypeError: an unknown keyword, or a value of the wrong type; the
            message names the accepted keywords.
    """
    env_id = canonical_id(env_id)
    if env_id in _SPECS:
        spec = _SPECS[env_id]
    else:
        spec = EnvSpec(env_id, gymnax_registration._registry[env_id], {})
    observation = {name: kwargs.pop(name) for name in _OBSERVATION_KWARGS
                   if name in kwargs}  # fmt: skip
    init_kwargs, param_kwargs = _split_kwargs(spec, kwargs)
    env = spec.factory(**{**spec.kwargs, **init_kwargs})
    if observation:
        if not hasattr(env, "with_observation"):
            raise TypeError(
                f"{env_id!r} has one observation; {sorted(observation)} apply to "
                "the gridworlds only"
            )
        env = env.with_observation(**observation)
    params = env.default_params
    fields = {f.name: f for f in dataclasses.fields(params)}
    for name, value in param_kwargs.items():
        _check_param_value(env_id, name, value, getattr(params, name), fields[name])
    return env, params.replace(**param_kwargs) if param_kwargs else params


def _split_kwargs(spec: EnvSpec, kwargs: dict[str, Any]):
    """Route each keyword to the constructor or to the params dataclass."""
    signature = inspect.signature(spec.factory)
    init_names = [
        name
        for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self"
    ]
    takes_any = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
    param_names = _param_field_names(spec)
    init_kwargs, param_kwargs = {}, {}
    for name, value in kwargs.items():
        if name in init_names or (takes_any and name not in param_names):
            _check_init_value(spec.env_id, name, value, signature.parameters.get(name))
            init_kwargs[name] = value
        elif name in param_names:
            param_kwargs[name] = value
        else:
            raise TypeError(
                f"{spec.env_id!r} got an unexpected keyword {name!r}. Accepted: "
                f"constructor {sorted(init_names)}, params {sorted(param_names)}."
            )
    return init_kwargs, param_kwargs


def _param_field_names(spec: EnvSpec) -> list[str]:
    default_env = spec.factory(**spec.kwargs)
    return [f.name for f in dataclasses.fields(default_env.default_params)]


def _check_init_value(env_id, name, value, parameter) -> None:
    if parameter is None:
        return
    expected = parameter.annotation
    if expected is inspect.Parameter.empty and parameter.default is not None:
        expected = type(parameter.default)
    if expected in (bool, int, float, str) and not _is_instance(value, expected):
        raise TypeError(
            f"{env_id!r}: {name} must be {expected.__name__}, "
            f"got {type(value).__name__} {value!r}"
        )


def _check_param_value(env_id, name, value, default, field) -> None:
    expected = field.type if isinstance(field.type, type) else type(default)
    if expected not in (bool, int, float):
        return
    if _is_instance(value, expected):
        return
    kinds = {bool: "b", int: "biu", float: "biuf"}[expected]
    if hasattr(value, "dtype") and np.dtype(value.dtype).kind in kinds:
        return
    raise TypeError(
        f"{env_id!r}: params field {name} must be {expected.__name__} "
        f"(or an array of that kind), got {type(value).__name__} {value!r}"
    )


def _is_instance(value, expected: type) -> bool:
    if expected is bool:
        return isinstance(value, bool | np.bool_)
    if isinstance(value, bool):
        return False
    if expected is int:
        return isinstance(value, numbers.Integral)
    if expected is float:
        return isinstance(value, numbers.Real)
    return isinstance(value, expected)
