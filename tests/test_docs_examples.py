"""The README's Python example runs as written (with a smaller budget)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
FULL_BUDGET = "ppo.Config(total_steps=100_000)"
SMALL_BUDGET = "ppo.Config(total_steps=2_048, num_envs=4, num_steps=64)"


def test_readme_notebook_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    code = blocks[0]
    assert FULL_BUDGET in code, "the README example changed; update this test"
    namespace = {}
    exec(
        compile(code.replace(FULL_BUDGET, SMALL_BUDGET), str(README), "exec"), namespace
    )
    out = namespace["out"]
    assert out.metrics.episode_return.shape[:2] == (3, 8)
    assert namespace["seed_3"].metrics.episode_return.ndim == 1
