"""The README's Python examples run as written (with a smaller budget)."""

import re
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
from compile_count import compilations

README = Path(__file__).resolve().parents[1] / "README.md"
FULL_BUDGET = "ppo.Config(total_steps=100_000)"
SMALL_BUDGET = "ppo.Config(total_steps=512, num_envs=4, num_steps=64)"


def _blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2, "README lost its python examples"
    for code in blocks[:2]:
        assert FULL_BUDGET in code, "the README example changed; update this test"
    return [code.replace(FULL_BUDGET, SMALL_BUDGET) for code in blocks]


def test_readme_notebook_example_runs():
    namespace = {}
    exec(compile(_blocks()[0], str(README), "exec"), namespace)
    out, seed_3 = namespace["out"], namespace["seed_3"]
    assert out.metrics.episode_return.shape[:2] == (3, 8)
    assert seed_3.metrics.episode_return.ndim == 1
    # the sweep's lr=1e-3 row holds the seeds-only run (HParams' default lr)
    in_sweep = jax.tree.map(lambda x: x[1, 3], out.metrics)
    chex.assert_trees_all_close(in_sweep, seed_3.metrics, rtol=1e-4, atol=1e-5)
    # "still one compilation": other learning rates reuse the compiled sweep
    other = namespace["hp"].replace(lr=jnp.array([1e-4, 2e-3, 5e-3], jnp.float32))
    before = compilations()
    namespace["sweep"](namespace["keys"], other)
    assert compilations() == before


def test_readme_engine_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(_blocks()[1], str(README), "exec"), namespace)
    assert namespace["result"].final["episode_return"].shape == (4,)
    assert namespace["step"] == 2  # 512 steps / 256 per update
    assert len(namespace["grid"].results["runs"]) == 8
    assert (tmp_path / "runs" / "doorkey-lr" / "results.json").is_file()
