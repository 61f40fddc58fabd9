"""The engine's host loop: chunk after chunk, with metrics, divergence and saves.

:class:`ChunkLoop` is what :mod:`jaxrl.engine` runs between compiled calls;
it also assembles the :class:`RunResult` a run returns.
"""

import contextlib
import dataclasses
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import distributed, rundir
from jaxrl.program import flatten_metrics
from jaxrl.progress import RunProgress, headline

if TYPE_CHECKING:
    from rich.console import Console


@dataclasses.dataclass
class RunResult:
    """What a run leaves: arrays on the host, and the results as written.

    Attributes:
        state: the final state, every leaf with the run axis first ``(R, ...)``.
        history: ``{metric: (R, T) array}``, every step's metrics.
        final: ``{metric: (R,) array}``, the program's final scores.
        results: the ``results.json`` dictionary.
        run_dir: the run directory, or None for a run without one.
    """

    state: Any
    history: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    results: dict
    run_dir: Path | None


class ChunkLoop:
    """The host loop of one session: chunks, metrics, divergence, saves."""

    def __init__(
        self, session, compiled, history: list, diverged: dict[int, int], prior_s: float
    ):
        self.session, self.compiled = session, compiled
        self.chunks = history  # [{metric: (R, n)}], oldest first
        self.diverged = diverged  # run -> step at which it diverged
        self.prior_s = prior_s  # seconds run before this session (resumed)
        self.step_done, self.elapsed, self.session_work = 0, 0.0, 0
        self.checkpoint_s: list[float] = []

    def drive(self, state, step: int, stop: list) -> tuple[Any, int, float]:
        """Run chunks until the end, a stop request, or every run diverged."""
        program, schedule = self.session.program, self.session.schedule
        placement, console = self.compiled.placement, self.session.console
        self.step_done, first_step = step, step
        start = time.perf_counter()
        curve = program.curves[0] if program.curves else None
        chunks = 0
        with RunProgress(
            placement.num_runs,
            program.num_steps * program.work_per_step,
            program.work_unit,
            curve.label if curve else program.primary,
            live=self.session.live,
            console=console,
            description=program.description.get("algorithm", "run"),
            done_work=step * program.work_per_step,
        ) as bar:
            while step < program.num_steps and not _agreed_stop(stop):
                state, metrics, healthy = self.compiled.chunk(
                    state, self.compiled.hparams, jnp.int32(step)
                )
                size = min(schedule.chunk_steps, program.num_steps - step)
                metrics = {
                    k: v[:, :size]
                    for k, v in placement.get(flatten_metrics(metrics)).items()
                }
                self._record(step, metrics, placement.get(healthy))
                step, chunks = step + size, chunks + 1
                self.step_done = step
                self.session_work = (step - first_step) * program.work_per_step
                self.session_work *= placement.num_runs
                self.elapsed = time.perf_counter() - start
                if curve is not None:
                    weight = metrics.get(curve.weight) if curve.weight else None
                    value = headline(metrics[curve.metric], weight)
                else:
                    value = None
                bar.update(step * program.work_per_step, value)
                if self.all_diverged:
                    break
                due = (
                    schedule.checkpoint_every
                    and chunks % schedule.checkpoint_every == 0
                )
                if due and step < program.num_steps:
                    self._save(step, state)
            if not self.all_diverged:
                self._save(step, state)
        self.elapsed = time.perf_counter() - start
        return state, step, self.elapsed

    @property
    def all_diverged(self) -> bool:
        return len(self.diverged) == self.compiled.placement.num_runs

    def status(self, stop: list) -> str:
        if self.all_diverged:
            return "diverged"
        return (
            "interrupted"
            if stop and self.step_done < self.session.program.num_steps
            else "done"
        )

    def _record(self, first: int, metrics: dict, healthy: np.ndarray) -> None:
        session = self.session
        if session.writes_files:
            rundir.append_metrics(
                session.run_dir / rundir.METRICS_FILE,
                first + 1,
                session.program.work_per_step,
                metrics,
            )
        if session.scalars is not None:
            session.scalars.write(first + 1, session.program.work_per_step, metrics)
        self.chunks.append(metrics)
        runs = session.layout.runs()
        for r in np.flatnonzero(~np.asarray(healthy)):
            if int(r) in self.diverged:
                continue
            bad = np.zeros(next(iter(metrics.values())).shape[1], bool)
            for values in metrics.values():
                bad |= ~np.isfinite(np.asarray(values[r], np.float64))
            offset = int(np.argmax(bad)) if bad.any() else len(bad) - 1
            self.diverged[int(r)] = first + offset + 1
            session.console.print(
                f"[red]diverged[/]: run {r} (seed {runs[r]['seed']}"
                + (
                    f", {session.layout.labels()[runs[r]['setting']]}"
                    if len(session.layout.settings) > 1
                    else ""
                )
                + f") went non-finite by step {self.diverged[int(r)]}",
                highlight=False,
            )

    def _save(self, step: int, state) -> None:
        checkpoints = self.session.checkpoints
        if checkpoints is None:
            return
        extra = {
            "diverged": {str(k): v for k, v in self.diverged.items()},
            "run_s": self.prior_s + self.elapsed,
        }
        if self.session.writes_files:
            rundir.sync(self.session.run_dir / rundir.METRICS_FILE)
        seconds = checkpoints.save(step, state, extra=extra)
        self.checkpoint_s.append(seconds)

    def write_results(
        self,
        status: str,
        step: int,
        run_s: float,
        compiled,
        state=None,
        error: str | None = None,
    ):
        """Final scores, ``results.json``, table and plots; a :class:`RunResult`."""
        from jaxrl import results as results_lib

        session, program = self.session, self.session.program
        history = _concat(self.chunks)
        final = program.final(history) if history else {}
        final = {k: np.array(v, np.float64) for k, v in final.items()}
        for r in self.diverged:
            for values in final.values():
                values[r] = np.nan
        config = session.config_json()
        if session.run_dir is not None:
            with contextlib.suppress(rundir.RunDirError):
                config = rundir.read_json(session.run_dir / rundir.CONFIG_FILE)
        results = results_lib.results_dict(
            program=program,
            layout=session.layout,
            config=config,
            final=final,
            diverged=self.diverged,
            status=status,
            steps_done=step,
            compile_s=compiled.compile_s,
            run_s=run_s,
            session_work=self.session_work,
            session_s=self.elapsed,
            checkpoint_s=self.checkpoint_s,
            error=error,
        )
        if session.writes_files:
            rundir.write_json(session.run_dir / rundir.RESULTS_FILE, results)
        if status != "failed":
            results_lib.print_table(session.console, results, session.layout)
            if session.writes_files and history:
                _plot(session, results)
        if (
            state is not None
            and compiled.placement.padded_runs != compiled.placement.num_runs
        ):
            state = jax.tree.map(lambda x: x[: compiled.placement.num_runs], state)
        if (
            program.artifacts is not None
            and state is not None
            and status != "failed"
            and session.writes_files
        ):
            for path in program.artifacts(state, session.run_dir):
                session.console.print(f"wrote {path}", highlight=False)
        return RunResult(state, history, final, results, session.run_dir)


def _agreed_stop(stop: list) -> bool:
    """Whether to stop before the next chunk: in a multi-process run, every
    process stops at the same chunk boundary once any was asked to (one that
    went on alone would wait for the others forever)."""
    if distributed.any_process(bool(stop)) and not stop:
        stop.append(None)  # asked in another process
    return bool(stop)


def _concat(chunks: list[dict]) -> dict[str, np.ndarray]:
    if not chunks:
        return {}
    return {
        name: np.concatenate([c[name] for c in chunks], axis=1) for name in chunks[0]
    }


def _plot(session, results: dict) -> None:
    from jaxrl import report

    path = report.plot_run(session.run_dir)
    session.console.print(
        f"results: {session.run_dir / rundir.RESULTS_FILE}\nplot: {path}",
        highlight=False,
    )


@contextlib.contextmanager
def stop_requests(console: "Console"):
    """SIGINT/SIGTERM ask the run to stop at the next chunk boundary; a
    second one stops at once (``KeyboardInterrupt``)."""
    requested: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.getsignal(s) for s in signals}

    def handler(signum, frame):
        if requested:
            raise KeyboardInterrupt
        requested.append(signum)
        console.print("[yellow]stopping after this chunk[/] (again to stop at once)")

    for s in signals:
        signal.signal(s, handler)
    try:
        yield requested
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
