"""Progress reporting from inside compiled training loops.

Algorithms call :func:`report` through ``jax.debug.callback`` every
``log_every`` updates. Under ``vmap`` the callback runs once per seed (and per
hyperparameter setting), so :class:`TrainingProgress` gathers the reports for
an update from every run before it moves its bar. Without an active
``TrainingProgress`` each report is printed as one line.
"""

import threading
import time
from collections import defaultdict

import numpy as np
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

_active: list["TrainingProgress"] = []


def report(update, num_updates, env_steps, episode_return, num_episodes) -> None:
    """Host side of the training callback (one run, one update).

    Args:
        update: () int, updates finished (1-based).
        num_updates: () int, updates in the run.
        env_steps: () int, environment steps this run has taken.
        episode_return: () float, mean return of episodes ended this update.
        num_episodes: () int, how many episodes ended this update.
    """
    values = (int(update), int(num_updates), int(env_steps), float(episode_return),
              int(num_episodes))  # fmt: skip
    if _active:
        _active[-1].add(*values)
        return
    update, num_updates, env_steps, episode_return, num_episodes = values
    shown = f"{episode_return:.3f}" if num_episodes else "-"
    print(f"update {update}/{num_updates}  steps {env_steps}  return {shown}")


class TrainingProgress:
    """A live progress bar for ``num_runs`` vmapped runs of ``total_steps`` each.

    Shows environment steps over all runs, steps per second and the mean
    return (over runs that ended an episode in the last reported update).

    Example::

        steps = config.num_updates * config.batch_size
        with TrainingProgress(num_runs=8, total_steps=steps):
            out = jax.block_until_ready(train_fn(keys, hparams))
    """

    def __init__(self, num_runs: int, total_steps: int, description: str = "train"):
        self.num_runs = num_runs
        self.total_steps = total_steps
        self._pending: dict[int, list[tuple[int, float, int]]] = defaultdict(list)
        self._lock = threading.Lock()
        self._start: float | None = None
        self._start_steps = 0
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[steps]} steps"),
            TextColumn("{task.fields[rate]} steps/s"),
            TextColumn("return {task.fields[ret]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        self._task = self._bar.add_task(
            description, total=total_steps * num_runs, steps="0", rate="-", ret="-"
        )

    def __enter__(self) -> "TrainingProgress":
        self._bar.start()
        _active.append(self)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        _active.remove(self)
        self._bar.stop()

    def add(self, update, num_updates, env_steps, episode_return, num_episodes):
        """Record one run's report; redraw once every run has reported."""
        with self._lock:
            reports = self._pending[update]
            reports.append((env_steps, episode_return, num_episodes))
            if len(reports) < self.num_runs:
                return
            del self._pending[update]
            steps = sum(r[0] for r in reports)
            returns = [r[1] for r in reports if r[2] > 0]
            now = time.perf_counter()
            rate = (steps - self._start_steps) / max(now - self._start, 1e-9)
            self._bar.update(
                self._task,
                completed=steps,
                steps=f"{steps:,}",
                rate=f"{rate:,.0f}",
                ret=f"{np.mean(returns):.3f}" if returns else "-",
            )
