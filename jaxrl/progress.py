"""Progress of an engine run, updated between compiled chunks.

Nothing here runs inside compiled code: the engine calls :meth:`update` on
the host after each chunk, so progress changes no number. With a live bar
(``rich``) the bar shows work done over all runs, work per second and the
latest value of the headline metric; without one, a line is printed at most
every tenth of the run.
"""

import time

import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def headline(values: np.ndarray, weights: np.ndarray | None) -> float | None:
    """Mean over runs of the latest step that has a value (weight > 0).

    Args:
        values: ``(R, C)`` a metric over one chunk.
        weights: ``(R, C)`` sample counts behind each value, or None.
    """
    values = np.asarray(values, np.float64)
    if weights is None:
        last = values[:, -1]
    else:
        has = np.asarray(weights) > 0
        index = values.shape[1] - 1 - np.argmax(has[:, ::-1], axis=1)
        last = np.where(has.any(1), values[np.arange(len(values)), index], np.nan)
    last = last[np.isfinite(last)]
    return float(last.mean()) if last.size else None


class RunProgress:
    """Progress of ``num_runs`` runs of ``total_work`` work each.

    Args:
        num_runs: runs in the batch.
        total_work: work one run does in all.
        work_unit: what work counts (``"env steps"``).
        metric: the label of the headline metric.
        live: draw a live bar (else print at most ten lines).
        done_work: work each run had done before (a resumed run).
    """

    def __init__(
        self,
        num_runs: int,
        total_work: int,
        work_unit: str,
        metric: str,
        live: bool = True,
        console: Console | None = None,
        description: str = "run",
        done_work: int = 0,
    ):
        self.num_runs, self.total_work, self.unit = num_runs, total_work, work_unit
        self.metric, self.live = metric, live
        self.console = console or Console()
        self._start_work, self._start = done_work, time.perf_counter()
        self._next_line = 0.1
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[done]}"),
            TextColumn("{task.fields[rate]}"),
            TextColumn("{task.fields[value]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            # redrawn after each chunk only: a background redraw thread costs
            # CPU that the compiled chunks would otherwise have
            auto_refresh=False,
        )
        self._task = self._bar.add_task(
            description,
            total=total_work,
            completed=done_work,
            done=self._done(done_work),
            rate="",
            value="",
        )

    def __enter__(self) -> "RunProgress":
        if self.live:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.live:
            self._bar.stop()

    def update(self, work: int, value: float | None) -> None:
        """After a chunk: each run has done ``work``; ``value`` is the
        headline metric (None: no value yet)."""
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        rate = (work - self._start_work) * self.num_runs / elapsed
        shown = "-" if value is None else f"{value:.3f}"
        fields = {
            "done": self._done(work),
            "rate": f"{rate:,.0f} {self.unit}/s",
            "value": f"{self.metric} {shown}",
        }
        if self.live:
            self._bar.update(self._task, completed=work, **fields)
            self._bar.refresh()
            return
        fraction = work / self.total_work
        if fraction + 1e-12 >= self._next_line or work >= self.total_work:
            self._next_line = (int(fraction * 10) + 1) / 10
            self.console.print(
                f"{fraction:4.0%}  " + "  ".join(fields.values()), highlight=False
            )

    def _done(self, work: int) -> str:
        return (
            f"{work * self.num_runs:,}/{self.total_work * self.num_runs:,} {self.unit}"
        )
