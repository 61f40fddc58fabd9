"""Shared test set-up: compiler flags, ``--exhaustive``, shared environments.

Tests marked ``exhaustive`` repeat a check over every registered id where the
default run already covers one id per environment class (the other ids share
that class's code and differ only in sizes and layouts). They are deselected
unless ``--exhaustive`` is given::

    python -m pytest -q                                # the default run
    python -m pytest -q --exhaustive                   # everything
    python -m pytest -q --exhaustive -m exhaustive     # only the exhaustive ones
"""

import os

# WARN: set before JAX compiles anything; subprocesses inherit it. Almost
# every test compiles a small program and runs it for milliseconds, so JAX's
# jax_disable_most_optimizations (LLVM optimisation level 0, no expensive
# passes) makes the suite about a third faster on CPU (measured on the
# gridworld resets and steps and on the PPO tests, 2 cores). It changes how
# well the machine code is optimised, not what it computes (no fast-math
# either way). Set JAX_DISABLE_MOST_OPTIMIZATIONS=0 to test optimised code.
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

from collections import Counter  # noqa: E402
from typing import Any, NamedTuple  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

import jaxrl  # noqa: E402

# In case JAX was imported (and read its environment) before this file.
jax.config.update(
    "jax_disable_most_optimizations",
    os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"].lower()
    in ("1", "y", "yes", "t", "true", "on"),
)


def pytest_addoption(parser):
    parser.addoption(
        "--exhaustive",
        action="store_true",
        default=False,
        help="also run tests marked exhaustive (every id, not one per class)",
    )


def pytest_report_header(config):
    if not config.getoption("--exhaustive"):
        return "exhaustive tests deselected (pass --exhaustive to run them)"
    return None


def pytest_collection_modifyitems(config, items):
    if config.getoption("--exhaustive"):
        return
    kept, deselected = [], []
    for item in items:
        exhaustive = item.get_closest_marker("exhaustive") is not None
        (deselected if exhaustive else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


class SharedEnv(NamedTuple):
    """One environment instance with jitted ``reset`` and ``step`` for the
    whole test session (params are arguments, so any params values reuse the
    compilation). ``traces`` counts how often each was traced."""

    env: Any
    params: Any
    reset: Any  # jax.jit(env.reset): (key, params) -> (obs, state)
    step: Any  # jax.jit(env.step): (key, state, action, params) -> 6-tuple
    step_batch: Any  # step vmapped over keys, states and actions (params shared)
    traces: Counter


_SHARED: dict[str, SharedEnv] = {}


def _shared_env(env_id: str) -> SharedEnv:
    if env_id not in _SHARED:
        env, params = jaxrl.make(env_id)
        traces = Counter()

        def reset(key, params):
            traces["reset"] += 1  # runs at trace time only
            return env.reset(key, params)

        def step(key, state, action, params):
            traces["step"] += 1
            return env.step(key, state, action, params)

        step_batch = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
        _SHARED[env_id] = SharedEnv(
            env, params, jax.jit(reset), jax.jit(step), step_batch, traces
        )
    return _SHARED[env_id]


@pytest.fixture(scope="session")
def shared_env():
    """``shared_env(env_id) -> SharedEnv``: one per id for the whole session.

    Compiling a gridworld's reset and step takes seconds; tests that only run
    them share one compilation. Tests that patch or wrap the environment
    must make their own with ``jaxrl.make``.
    """
    return _shared_env
