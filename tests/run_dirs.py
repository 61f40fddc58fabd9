"""Helpers for tests that take a finished run directory apart."""

import shutil
from pathlib import Path


def rewind_to_older_checkpoint(out: Path, expected_steps: list[int]) -> None:
    """Make the finished run in ``out`` look interrupted after its older
    checkpoint: ``results.json`` says ``interrupted`` and the newest
    checkpoint is gone. The checkpoints must be at ``expected_steps``."""
    results = out / "results.json"
    results.write_text(results.read_text().replace('"done"', '"interrupted"'))
    steps = sorted(
        int(p.name) for p in (out / "checkpoints").iterdir() if p.name.isdigit()
    )
    assert steps == expected_steps
    shutil.rmtree(out / "checkpoints" / str(steps[-1]))
