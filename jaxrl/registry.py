"""Environment ids: ``make`` builds an environment and its params by name.

Our ids come first (``"DoorKey-5x5"``), then aliases that environment families
register for them (another library's names for the same environment); every
id that gymnax registers (``"CartPole-v1"``) works as well. Keyword arguments
go to the environment's constructor when its signature names them, to its
params dataclass when a field does, and to its ``with_options`` when its
``make_options`` lists them; anything else is a ``TypeError`` that lists what
is accepted.

An environment class opts in to extra ``make`` keywords with two members::

    make_options = ("observation",)  # names make accepts for this class

    def with_options(self, **options):  # a configured copy of self
        ...
"""

import dataclasses
import difflib
import functools
import inspect
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """How to build one registered environment."""

    env_id: str
    factory: Callable[..., Any]
    kwargs: dict[str, Any]


_SPECS: dict[str, EnvSpec] = {}


def _gymnax_registration():
    """gymnax's registry, and jaxrl's own environments registered.

    Both load on first use: importing gymnax runs JAX code (see
    ``jaxrl/__init__.py``).
    """
    from gymnax import registration

    import jaxrl.envs  # noqa: F401  (importing registers the environments)

    return registration


_ALIASES: dict[str, str] = {}  # alias -> registered id


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


def register_alias(alias: str, env_id: str, *, overwrite: bool = False) -> None:
    """Let ``make`` accept ``alias`` for the registered ``env_id``.

    Aliases are not listed by :func:`ids`; ``canonical_id(alias)`` is
    ``env_id``.

    Raises:
        ValueError: ``env_id`` is not registered, or ``alias`` is empty, a
            registered id, or already an alias (and ``overwrite`` is False).
    """
    if not isinstance(alias, str) or not alias:
        raise ValueError(f"alias must be a non-empty str, got {alias!r}")
    if env_id not in _SPECS:
        raise ValueError(f"cannot alias {alias!r}: {env_id!r} is not registered")
    if alias in _SPECS or (alias in _ALIASES and not overwrite):
        raise ValueError(f"{alias!r} is already an id or an alias")
    _ALIASES[alias] = env_id


BRAX_PREFIX = "brax/"


def ids() -> list[str]:
    """Ids registered by jaxrl (and by the user), in registration order."""
    _gymnax_registration()
    return list(_SPECS)


def gymnax_ids() -> list[str]:
    """Ids that gymnax registers; ``make`` accepts these too."""
    return list(_gymnax_registration().registered_envs)


def canonical_id(env_id: str) -> str:
    """The registered id that ``env_id`` names: itself, or the id it aliases.

    Raises:
        ValueError: unknown id; the message lists the closest known ids.
    """
    if not isinstance(env_id, str):
        raise TypeError(f"env_id must be a str, got {type(env_id).__name__}")
    gymnax_envs = _gymnax_registration()._registry
    if env_id in _SPECS or env_id in gymnax_envs or env_id.startswith(BRAX_PREFIX):
        return env_id
    if env_id in _ALIASES:
        return _ALIASES[env_id]
    known = ids() + gymnax_ids()
    close = difflib.get_close_matches(env_id, known + list(_ALIASES), n=5, cutoff=0.5)
    close = list(dict.fromkeys(_ALIASES.get(name, name) for name in close))[:5]
    hint = f" Closest: {', '.join(close)}." if close else ""
    raise ValueError(
        f"Unknown environment id {env_id!r}.{hint} `jaxrl envs` lists all ids."
    )


def make(env_id: str, **kwargs: Any) -> tuple[Any, Any]:
    """Build a registered environment and its params.

    Args:
        env_id: a registered id (``jaxrl.registry.ids()``), an alias of one
            (``registry.register_alias``), a gymnax id, or ``brax/NAME`` for
            any brax environment (:mod:`jaxrl.brax_adapter`).
        **kwargs: constructor arguments (``view_size=5``), params fields
            (``max_steps_in_episode=50``, or Farama's ``max_steps=50``) and
            the options the environment
            lists in its ``make_options`` (applied with its
            ``with_options``), told apart by name.

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
    elif env_id.startswith(BRAX_PREFIX):
        from jaxrl.brax_adapter import BraxEnv

        name = env_id.removeprefix(BRAX_PREFIX)
        spec = EnvSpec(env_id, functools.partial(BraxEnv, name), {})
    else:
        spec = EnvSpec(env_id, _gymnax_registration()._registry[env_id], {})
    if "max_steps" in kwargs:  # Farama's name for the step limit
        if "max_steps_in_episode" in kwargs:
            raise TypeError(
                f"{env_id!r}: give max_steps or max_steps_in_episode, not both"
            )
        kwargs = dict(kwargs)
        kwargs["max_steps_in_episode"] = kwargs.pop("max_steps")
    init_kwargs, param_kwargs, options = _split_kwargs(spec, kwargs)
    env = spec.factory(**{**spec.kwargs, **init_kwargs})
    if options:
        env = env.with_options(**options)
    params = env.default_params
    fields = {f.name: f for f in dataclasses.fields(params)}
    for name, value in param_kwargs.items():
        _check_param_value(env_id, name, value, getattr(params, name), fields[name])
        if name == "max_steps_in_episode" and np.any(np.asarray(value) < 1):
            raise ValueError(
                f"{env_id!r}: max_steps_in_episode must be >= 1, got {value!r}"
            )
    return env, params.replace(**param_kwargs) if param_kwargs else params


def _split_kwargs(spec: EnvSpec, kwargs: dict[str, Any]):
    """Route each keyword to the constructor, the params dataclass or the
    environment's options."""
    signature = inspect.signature(spec.factory)
    init_names = [
        name
        for name, p in signature.parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self"
    ]
    takes_any = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
    default_env = spec.factory(**spec.kwargs)
    param_names = [f.name for f in dataclasses.fields(default_env.default_params)]
    option_names = list(getattr(default_env, "make_options", ()))
    init_kwargs, param_kwargs, options = {}, {}, {}
    for name, value in kwargs.items():
        if name in option_names:
            options[name] = value
        elif name in init_names or (takes_any and name not in param_names):
            _check_init_value(spec.env_id, name, value, signature.parameters.get(name))
            init_kwargs[name] = value
        elif name in param_names:
            param_kwargs[name] = value
        else:
            accepted = (
                f"constructor {sorted(init_names)}, params {sorted(param_names)}"
                + (f", options {sorted(option_names)}" if option_names else "")
            )
            raise TypeError(
                f"{spec.env_id!r} got an unexpected keyword {name!r}. Accepted: "
                f"{accepted}.{_option_elsewhere(name)}"
            )
    return init_kwargs, param_kwargs, options


def _option_elsewhere(name: str) -> str:
    """A hint when ``name`` is an option of other registered environments."""
    owners = [spec.env_id for spec in _SPECS.values()
              if name in getattr(spec.factory, "make_options", ())]  # fmt: skip
    if not owners:
        return ""
    return f" {name!r} is an option of other environments only (e.g. {owners[0]!r})."


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
