"""Importing jaxrl runs no JAX computation, so it starts no JAX backend.

A backend that starts at import time fixes the platform and the XLA flags
before the user can choose them (``jax.config.update("jax_platforms", ...)``,
``XLA_FLAGS``, the flag ``jaxrl/__init__.py`` sets), and costs start-up time
in every process that only wants, say, ``jaxrl envs``.
"""

import json
import os
import subprocess
import sys
import textwrap

import jaxrl
import jaxrl.algos

# Runs in a fresh interpreter. Every eager JAX operation passes through
# EvalTrace.process_primitive. The probe walks the stack outwards from there:
# the first frame in jaxrl's own files is blamed; a module body of another
# package met first (code that package runs when imported) ends the walk.
#
# WARN: gymnax 1.0.1 builds a jnp array when imported (misc/frozen_lake.py),
# so importing gymnax, which our environments subclass, starts a backend by
# itself. The probe therefore blames statements, and checks the backend only
# where gymnax's import leaves it alone.
_PROBE = textwrap.dedent(
    """
    import json, os, traceback
    from jax._src import core, xla_bridge

    roots = tuple(root + os.sep for root in json.loads({roots!r}))
    blamed = []
    original = core.EvalTrace.process_primitive

    def record(self, primitive, args, params, /):
        for frame in reversed(traceback.extract_stack()):
            if frame.filename.startswith(roots):
                blamed.append(f"{{frame.filename}}:{{frame.lineno}} "
                              f"({{primitive.name}})")
                break
            if frame.name == "<module>":
                break
        return original(self, primitive, args, params)

    core.EvalTrace.process_primitive = record
    import gymnax  # noqa: F401
    gymnax_started = xla_bridge.backends_are_initialized()
    {code}
    print(json.dumps({{
        "blamed": blamed,
        "gymnax_started": gymnax_started,
        "started": xla_bridge.backends_are_initialized(),
    }}))
    """
)


def _probe(code: str) -> dict:
    """Run ``code`` after ``import gymnax`` in a fresh interpreter."""
    roots = [os.path.dirname(m.__file__) for m in (jaxrl, jaxrl.envs, jaxrl.algos)]
    script = _PROBE.format(roots=json.dumps(roots), code=code)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_starts_no_backend():
    result = _probe("import jaxrl, jaxrl.algos.ppo, jaxrl.envs.gridworld")
    assert result["blamed"] == [], "JAX work at import time:\n" + "\n".join(
        result["blamed"]
    )
    if not result["gymnax_started"]:
        assert not result["started"]


def test_make_runs_no_jax_computation():
    """Building an environment configures Python objects only."""
    result = _probe(
        "import jaxrl\n"
        "for env_id in jaxrl.registry.ids(): jaxrl.make(env_id)\n"
        "jaxrl.make('DoorKey-8x8', observation='rgb', tile_size=8)"
    )
    assert result["blamed"] == [], "JAX work while making envs:\n" + "\n".join(
        result["blamed"]
    )


def test_import_jaxrl_starts_no_backend():
    """``import jaxrl`` (the engine, programs, the algorithm registry) leaves
    the backend alone, so ``jax.distributed.initialize()`` can follow it;
    environments load, and gymnax with them, on first use."""
    code = textwrap.dedent(
        """
        import jaxrl
        from jax._src import xla_bridge
        from jaxrl import algorithms, engine, program, rundir  # noqa: F401
        assert not xla_bridge.backends_are_initialized(), "backend started"
        jaxrl.make("Empty-5x5")
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_qd_results_are_one_attribute_away():
    # `jaxrl.qd.load_archive(run_dir)` without importing jaxrl.qd first
    assert jaxrl.qd.load_archive.__name__ == "load_archive"
