"""Packaging, 64-bit mode and tracer leaks: the ways users break libraries."""

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp

import jaxrl
from jaxrl.algos import ppo

ROOT = Path(__file__).resolve().parents[1]
TINY = ppo.Config(total_steps=256, num_envs=4, num_steps=16, num_minibatches=2)


def _python(code: str, cwd, **env) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
        env={**os.environ, **env}, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_regular_install_has_every_subpackage(tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps",
         "--target", str(site), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    code = (
        "import jaxrl, jaxrl.envs.gridworld, jaxrl.algos.ppo\n"
        "env, params = jaxrl.make('DoorKey-5x5')\n"
        "print(jaxrl.__file__)\n"
    )
    # elsewhere: the installed copy; at the repository root: the source tree
    elsewhere = _python(code, tmp_path, PYTHONPATH=str(site))
    assert elsewhere.strip().startswith(str(site))
    at_root = _python(code, ROOT, PYTHONPATH=str(site))
    assert at_root.strip().startswith(str(ROOT / "jaxrl"))


def test_64_bit_mode_keeps_32_bit_dtypes():
    code = (
        "import jax, jaxrl\n"
        "from jaxrl.algos import ppo\n"
        "env, params = jaxrl.make('DoorKey-5x5')\n"
        "obs, state = env.reset(jax.random.key(0), params)\n"
        "obs, state, reward, *_ = env.step(jax.random.key(1), state, 2, params)\n"
        "config = ppo.Config(total_steps=256, num_envs=4, num_steps=16,"
        " num_minibatches=2)\n"
        # output dtypes are fixed while tracing: shapes only, no compile
        "out = jax.eval_shape(ppo.make_train(config, env, params), jax.random.key(0))\n"
        "leaves = jax.tree.leaves((obs, state, reward, out))\n"
        "print(sorted({str(x.dtype) for x in leaves}))\n"
    )
    dtypes = _python(code, ROOT, JAX_ENABLE_X64="1")
    assert "float64" not in dtypes and "int64" not in dtypes, dtypes


def test_no_tracer_leaks():
    env, params = jaxrl.make("DoorKey-5x5")
    with jax.checking_leaks():
        obs, state = jax.jit(env.reset)(jax.random.key(0), params)
        jax.jit(env.step)(jax.random.key(1), state, jnp.int32(2), params)
        out = jax.jit(ppo.make_train(TINY, env, params))(jax.random.key(0))
    assert out.metrics.episode_return.shape == (TINY.num_updates,)


def test_every_package_is_listed_for_installation():
    """A regular (non-editable) install ships only the packages pyproject
    names: each directory with an __init__.py must be among them."""
    import tomllib

    root = ROOT
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]
                 ["setuptools"]["packages"])  # fmt: skip
    prefixes = {"jaxrl": "jaxrl", "envs": "jaxrl.envs", "algos": "jaxrl.algos"}
    found = set()
    for top, name in prefixes.items():
        for init in (root / top).rglob("__init__.py"):
            parts = init.parent.relative_to(root / top).parts
            found.add(".".join((name, *parts)))
    assert found <= listed, sorted(found - listed)
