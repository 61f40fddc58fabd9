"""Optional TensorBoard event files of a run's metrics (``--tensorboard``).

Each step's metrics go to ``RUN_DIR/tensorboard/`` as scalars: the mean over
seeds (finite values only) of every metric, per setting (``lr=0.001/loss.total``
in a sweep; TensorBoard shows it as ``lr_0.001``), against the work each run
has done. Written on the host between
chunks; the compiled program does not change. Needs ``tensorboardX``
(``pip install "jaxrl[tensorboard]"``).
"""

from pathlib import Path

import numpy as np

from jaxrl.layout import RunLayout

DIRECTORY = "tensorboard"


def check_available() -> None:
    """Raise ``ValueError`` when tensorboardX is not installed."""
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        raise ValueError(
            "--tensorboard needs tensorboardX: pip install 'jaxrl[tensorboard]'"
        ) from None


class ScalarLog:
    """Writes per-setting means of every metric, one event per step."""

    def __init__(self, run_dir: Path, layout: RunLayout):
        from tensorboardX import SummaryWriter

        self._writer = SummaryWriter(str(run_dir / DIRECTORY))
        self._labels = layout.labels() if len(layout.settings) > 1 else [""]
        self._num_seeds = len(layout.seeds)

    def write(self, first_step: int, work_per_step: int, chunk: dict) -> None:
        """``chunk``: ``{metric: (R, C) array}`` of steps ``first_step...``."""
        for name, values in chunk.items():
            values = np.asarray(values, np.float64)
            for i, label in enumerate(self._labels):
                rows = values[i * self._num_seeds : (i + 1) * self._num_seeds]
                tag = f"{label}/{name}" if label else name
                for t in range(values.shape[1]):
                    finite = rows[:, t][np.isfinite(rows[:, t])]
                    if finite.size:
                        work = (first_step + t) * work_per_step
                        self._writer.add_scalar(tag, finite.mean(), work)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
