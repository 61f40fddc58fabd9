"""The experiment engine: ``jaxrl.run`` drives any :class:`~jaxrl.program.Program`.

A run is a batch of seeds x hyperparameter settings, vmapped (and sharded
over devices) into one compiled chunk function: ``lax.scan`` over a chunk of
steps, its state donated. The host calls it again and again; between chunks
it appends the chunk's metrics to ``metrics.jsonl``, moves the progress bar,
checks which runs diverged, saves checkpoints and answers Ctrl-C. One
compilation serves the whole run, and a chunked run gives bit for bit the
numbers of one ``lax.scan`` over every step.

Example::

    program = ppo.make_program(ppo.Config(), env, params, target="DoorKey-5x5")
    result = jaxrl.run(program, ppo.HParams(), seeds=8, out="runs/doorkey")
    result.final["episode_return"]  # (8,)
"""

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import jax
import numpy as np
from rich.console import Console

from jaxrl import checkpoint, distributed, memory_check, rundir
from jaxrl.chunk_loop import ChunkLoop, RunResult, stop_requests
from jaxrl.compiled import Compiled, compile_program, init_from_raw
from jaxrl.layout import RunLayout, make_layout
from jaxrl.program import Program
from jaxrl.sharding import RunPlacement

CHECKPOINT_DIR = "checkpoints"


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (or SIGTERM) after saving what it had.

    Attributes:
        result: the :class:`RunResult` as of the last chunk.
    """

    def __init__(self, result: "RunResult"):
        super().__init__(f"interrupted at step {result.results['steps_done']}")
        self.result = result


@dataclasses.dataclass(frozen=True)
class Schedule:
    """How the host drives the compiled chunks."""

    chunk_steps: int  # steps per compiled call
    checkpoint_every: int  # chunks between checkpoints; 0: only the last
    keep_checkpoints: int  # newest checkpoints kept
    tensorboard: bool = False  # also write TensorBoard event files

    def __post_init__(self):
        for name, low in (
            ("chunk_steps", 1),
            ("checkpoint_every", 0),
            ("keep_checkpoints", 1),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def default_chunk_steps(num_steps: int, target_chunks: int = 50) -> int:
    """About ``num_steps / target_chunks`` steps, preferring a divisor of
    ``num_steps`` within a quarter of that (then no chunk runs masked steps)."""
    wanted = max(1, -(-num_steps // target_chunks))
    for size in range(wanted, -(-3 * wanted // 4) - 1, -1):
        if num_steps % size == 0:
            return size
    return wanted


def run(
    program: Program,
    hparams: Any,
    *,
    seeds: int | list[int] = 8,
    first_seed: int = 0,
    sweep: dict | None = None,
    out: str | Path | None = None,
    chunk_steps: int | None = None,
    checkpoint_every: int = 10,
    keep_checkpoints: int = 3,
    tensorboard: bool = False,
    progress: bool = True,
    console: Console | None = None,
    check_hparams=None,
    replace_existing: bool = False,
    check_memory: bool = True,
) -> RunResult:
    """Run ``program`` for every seed (x every swept setting) at once.

    Args:
        program: what to run (e.g. ``ppo.make_program(...)``).
        hparams: the base traced hyperparameters (e.g. ``ppo.HParams()``).
        seeds: how many seeds (from ``first_seed``) or which.
        sweep: ``{hparams field: [values]}``; every combination runs with
            every seed, in the same compiled program.
        out: the run directory to create (must not exist); None writes none
            (no checkpoints, no files).
        chunk_steps: steps per compiled call (default: about 1/50 of the run).
        checkpoint_every: chunks between checkpoints (0: only at the end).
        keep_checkpoints: how many of the newest checkpoints are kept.
        tensorboard: also write TensorBoard event files (needs tensorboardX).
        progress: draw a live progress bar (else a line per tenth of the run).
        console: where to print (a ``rich.console.Console``).
        check_hparams: ``hparams -> None`` raising ``ValueError`` on values
            out of range; called on every setting before anything compiles.
        replace_existing: delete an earlier jaxrl run at ``out`` first.
        check_memory: refuse, before compiling, a run whose state and one
            chunk of metrics would not fit in free memory
            (:mod:`jaxrl.memory_check`; ``JAXRL_MEMORY_CHECK=0`` also turns
            it off, ``JAXRL_MEMORY_LIMIT`` sets the limit).

    Returns:
        A :class:`RunResult`.

    Raises:
        ValueError: bad seeds, sweep, schedule or hyperparameters (before any
            directory is made or anything compiles).
        RunInterrupted: Ctrl-C or SIGTERM; the run saved a checkpoint and
            its results first (``jaxrl resume`` goes on).
    """
    layout = make_layout(seeds, sweep, hparams, first_seed)
    schedule = Schedule(
        default_chunk_steps(program.num_steps) if chunk_steps is None else chunk_steps,
        checkpoint_every,
        keep_checkpoints,
        tensorboard,
    )
    _check_settings(layout, hparams, check_hparams or program.check_hparams)
    if tensorboard:
        if out is None:
            raise ValueError("tensorboard=True needs a run directory (out=...)")
        from jaxrl import tensorboard as tensorboard_log

        tensorboard_log.check_available()
    if memory_check.is_enabled(check_memory):
        memory_check.check(program, layout, hparams, schedule.chunk_steps)
    run_dir = None
    if out is not None:
        # refused now, before compiling; made once the program compiled
        distributed.on_main_process(lambda: rundir.check_new(out, replace_existing))
        run_dir = Path(out)
    session = _Session(
        program, layout, hparams, schedule, run_dir, console or Console(), progress
    )
    return session.go(resume=False, replace_existing=replace_existing)


def sweep(program: Program, hparams: Any, grid: dict, **kwargs) -> RunResult:
    """:func:`run` over every combination of ``grid`` (``{field: [values]}``)
    with every seed, in one compilation; ``kwargs`` as for :func:`run`.

    Example::

        jaxrl.sweep(program, ppo.HParams(), {"lr": [1e-4, 3e-4], "ent_coef": [0.0,
                    0.01]}, seeds=16, out="runs/lr-ent")
    """
    if not grid:
        raise ValueError("sweep needs at least one hyperparameter to vary")
    return run(program, hparams, sweep=grid, **kwargs)


def resume(
    run_dir: str | Path,
    program: Program | None = None,
    *,
    progress: bool = True,
    console: Console | None = None,
) -> RunResult:
    """Go on with a run from its newest good checkpoint.

    The resumed run ends with the numbers the uninterrupted run would have
    had, bit for bit (same device and versions).

    Args:
        run_dir: a run directory written by :func:`run`.
        program: the run's program; None rebuilds it from ``config.json``
            through the algorithm registry (``jaxrl.algorithms``).

    Raises:
        rundir.RunDirError: not a run directory, or a finished one.
        checkpoint.CheckpointError: checkpoints exist but none is usable.
        ValueError: ``program`` is not the one the run was started with.
    """
    run_dir = Path(run_dir)
    saved = rundir.read_json(run_dir / rundir.CONFIG_FILE)
    results_path = run_dir / rundir.RESULTS_FILE
    if results_path.exists():
        status = rundir.read_json(results_path).get("status")
        if status in ("done", "diverged"):
            raise rundir.RunDirError(
                f"{run_dir} is finished (status {status!r}); nothing to resume"
            )
    _check_saved_keys(saved, run_dir / rundir.CONFIG_FILE)
    if program is None:
        from jaxrl import algorithms

        program = algorithms.program_from_config(saved)
    if program.description != saved["description"]:
        raise ValueError(
            f"the program given does not match {run_dir}: it was started with "
            f"{saved['description']}, got {program.description}"
        )
    hparams, layout, schedule = _parse_saved(saved, run_dir / rundir.CONFIG_FILE)
    if memory_check.is_enabled():
        memory_check.check(program, layout, hparams, schedule.chunk_steps)
    session = _Session(
        program, layout, hparams, schedule, run_dir, console or Console(), progress
    )
    return session.go(resume=True)


_SAVED_KEYS = (
    "description",
    "hparams",
    "hparams_type",
    "seeds",
    "settings",
    "schedule",
)


def _check_saved_keys(saved: dict, path: Path) -> None:
    missing = [key for key in _SAVED_KEYS if key not in saved]
    if missing:
        raise rundir.RunDirError(
            f"{path} is malformed: missing {', '.join(missing)} "
            "(it was not written by jaxrl.run, or was edited)"
        )


def _parse_saved(saved: dict, path: Path) -> tuple[Any, RunLayout, Schedule]:
    """The hyperparameters, layout and schedule recorded in ``config.json``.

    Raises:
        rundir.RunDirError: a field has the wrong type or value; one line.
    """
    try:
        if not isinstance(saved["hparams"], dict):
            raise TypeError("hparams is not an object")
        if not isinstance(saved["schedule"], dict):
            raise TypeError("schedule is not an object")
        seeds, settings = saved["seeds"], saved["settings"]
        if not isinstance(seeds, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in seeds
        ):
            raise TypeError("seeds is not a list of ints")
        if not isinstance(settings, list):
            raise TypeError("settings is not a list")
        hparams = _load_type(str(saved["hparams_type"]))(**saved["hparams"])
        layout = RunLayout(tuple(seeds), tuple(settings))
        schedule = Schedule(**saved["schedule"])
    except (TypeError, ValueError, AttributeError, ImportError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise rundir.RunDirError(f"{path} is malformed: {message}") from None
    return hparams, layout, schedule


def load_state(run_dir: str | Path, program: Program | None = None) -> tuple[Any, int]:
    """The state of a run's newest good checkpoint, e.g. to act with its policy.

    Args:
        run_dir: a run directory written by :func:`run`.
        program: the run's program; None rebuilds it from ``config.json``.

    Returns:
        ``(state, step)``: every leaf with the run axis first (``(R, ...)``,
        runs in ``results.json``'s ``runs`` order), and the step it was saved at.

    Raises:
        rundir.RunDirError: not a run directory.
        checkpoint.CheckpointError: no usable checkpoint.
    """
    run_dir = Path(run_dir)
    saved = rundir.read_json(run_dir / rundir.CONFIG_FILE)
    _check_saved_keys(saved, run_dir / rundir.CONFIG_FILE)
    if program is None:
        from jaxrl import algorithms

        program = algorithms.program_from_config(saved)
    hparams, layout, schedule = _parse_saved(saved, run_dir / rundir.CONFIG_FILE)
    session = _Session(
        program,
        layout,
        hparams,
        schedule,
        run_dir,
        Console(quiet=True),
        False,
    )
    batched = layout.batched_hparams(hparams)
    like = jax.eval_shape(jax.vmap(init_from_raw(program)), layout.key_data(), batched)
    session.open_run_dir(create=False)
    step, state, _ = session.checkpoints.restore_latest(like)
    return state, step


def _check_settings(layout: RunLayout, hparams: Any, check_hparams) -> None:
    if check_hparams is None:
        return
    for setting in layout.settings:
        try:
            check_hparams(hparams.replace(**setting))
        except ValueError as error:
            where = f" (sweep setting {setting})" if setting else ""
            raise ValueError(f"{error}{where}") from None


def _load_type(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(__import__(module, fromlist=[name]), name)


def _type_path(value: Any) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def hparams_dict(hparams: Any) -> dict:
    """A traced-hyperparameter dataclass as ``{field: number}``."""
    return {
        f.name: np.asarray(getattr(hparams, f.name)).item()
        for f in dataclasses.fields(hparams)
    }


class _Session:
    """One invocation of a run: fresh or resumed."""

    def __init__(self, program, layout, hparams, schedule, run_dir, console, progress):
        self.program, self.layout, self.hparams = program, layout, hparams
        self.schedule, self.run_dir = schedule, run_dir
        self.console, self.live = console, progress
        # every process saves checkpoints (orbax coordinates them); process 0
        # alone writes the other files of the run directory
        self.writes_files = run_dir is not None and distributed.is_main_process()
        self.scalars = self.checkpoints = None

    def open_run_dir(self, create: bool, replace_existing: bool = False) -> None:
        """Make the run directory (a fresh run) and open its checkpoints and
        logs; process 0 makes it, the others wait for that."""
        if self.run_dir is None:
            return
        if create:
            distributed.on_main_process(
                lambda: rundir.create(self.run_dir, replace_existing)
            )
            if self.writes_files:
                rundir.write_json(self.run_dir / rundir.CONFIG_FILE, self.config_json())
                rundir.write_json(
                    self.run_dir / rundir.RESULTS_FILE, self.running_json()
                )
        if self.writes_files and self.schedule.tensorboard:
            from jaxrl.tensorboard import ScalarLog

            self.scalars = ScalarLog(self.run_dir, self.layout)
        self.checkpoints = checkpoint.Checkpoints(
            self.run_dir / CHECKPOINT_DIR,
            self.fingerprint(),
            self.schedule.keep_checkpoints,
        )

    def _stopped_at_once(self) -> str:
        """A second Ctrl-C (or SIGTERM) stopped the run between checkpoints:
        ``results.json`` says interrupted at the newest complete checkpoint
        (a save cut short is never one), which ``jaxrl resume`` goes on from.

        Returns:
            A line that says so, for the ``KeyboardInterrupt`` raised.
        """
        step = 0
        if self.checkpoints is not None:
            # a save already under way ends (it is in the background, and
            # quick); a third Ctrl-C stops even that
            with contextlib.suppress(Exception):  # a failed save is no checkpoint
                self.checkpoints.wait()
            with contextlib.suppress(OSError, ValueError):
                step = max(self.checkpoints.steps(), default=0)
        if self.writes_files:
            path = self.run_dir / rundir.RESULTS_FILE
            with contextlib.suppress(OSError, ValueError):
                results = rundir.read_json(path)
                if results.get("status") in ("running", "interrupted"):
                    results.update(status="interrupted", steps_done=step)
                    rundir.write_json(path, results)
        return (
            f"stopped at once; the newest complete checkpoint is of step {step}: "
            f"go on with: jaxrl resume {self.run_dir}"
        )

    # --- what the run is ---------------------------------------------------

    def fingerprint(self) -> dict:
        return rundir.jsonable(
            {
                "description": self.program.description,
                "hparams": hparams_dict(self.hparams),
                "seeds": list(self.layout.seeds),
                "settings": list(self.layout.settings),
                "num_steps": self.program.num_steps,
            }
        )

    def config_json(self) -> dict:
        description = self.program.description
        return rundir.jsonable(
            {
                "schema": rundir.SCHEMA_VERSION,
                "algorithm": description.get("algorithm"),
                "target": description.get("target"),
                "config": description.get("config", {}),
                "description": description,
                "hparams": hparams_dict(self.hparams),
                "hparams_type": _type_path(self.hparams),
                "seeds": list(self.layout.seeds),
                "settings": list(self.layout.settings),
                "schedule": dataclasses.asdict(self.schedule),
                "num_steps": self.program.num_steps,
                "work_per_step": self.program.work_per_step,
                "work_unit": self.program.work_unit,
                # what each run does in all (PPO's total_steps, say, is
                # rounded down to whole updates)
                "total_work": self.program.num_steps * self.program.work_per_step,
                "versions": rundir.versions(),
                "git_commit": rundir.git_commit(),
                "devices": [str(d) for d in jax.devices()],
            }
        )

    def running_json(self) -> dict:
        """The ``results.json`` of a run that has not ended (yet)."""
        description = self.program.description
        return {
            "schema": rundir.SCHEMA_VERSION,
            "status": "running",
            "algorithm": description.get("algorithm"),
            "target": description.get("target"),
            "seeds": list(self.layout.seeds),
            "settings": list(self.layout.settings),
            "runs": self.layout.runs(),
            "steps_done": 0,
            "num_steps": self.program.num_steps,
        }

    # --- compiling ---------------------------------------------------------

    # --- running -----------------------------------------------------------

    def go(self, resume: bool, replace_existing: bool = False) -> RunResult:
        program, layout = self.program, self.layout
        label = "resuming" if resume else "running"
        self.console.print(
            f"{label} [bold]{program.description.get('algorithm', 'program')}[/] on "
            f"[bold]{program.description.get('target', '?')}[/]: "
            f"{len(layout.seeds)} seeds"
            + (
                f" x {len(layout.settings)} settings"
                if len(layout.settings) > 1
                else ""
            )
            + f" x {program.num_steps * program.work_per_step:,} {program.work_unit}, "
            f"{len(jax.devices())} {jax.devices()[0].platform} device(s)"
            + (f", run directory {self.run_dir}" if self.run_dir else ""),
            highlight=False,
        )
        with self.console.status("compiling (one program for every run)..."):
            compiled = compile_program(
                self.program, self.layout, self.hparams, self.schedule.chunk_steps
            )
        self.console.print(f"compiled in {compiled.compile_s:.1f} s")
        self.open_run_dir(create=not resume, replace_existing=replace_existing)
        state, step, history, diverged, prior_s = self._starting_point(compiled, resume)
        loop = ChunkLoop(self, compiled, history, diverged, prior_s)
        try:
            with stop_requests(self.console) as stop:
                state, step, run_s = loop.drive(state, step, stop)
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt) and self.run_dir is not None:
                raise KeyboardInterrupt(self._stopped_at_once()) from None
            if self.run_dir is not None:
                loop.write_results(
                    "failed",
                    loop.step_done,
                    prior_s + loop.elapsed,
                    compiled,
                    error=repr(error),
                )
            raise
        finally:
            if self.scalars is not None:
                self.scalars.close()
        if self.checkpoints is not None:
            self.checkpoints.wait()
        status = loop.status(stop)
        result = loop.write_results(
            status, step, prior_s + run_s, compiled, state=state
        )
        if status == "interrupted":
            self.console.print(
                f"interrupted at step {step}; go on with: jaxrl resume {self.run_dir}",
                highlight=False,
            )
            raise RunInterrupted(result)
        return result

    def _starting_point(self, compiled: Compiled, resume: bool):
        """``(state, step, history, diverged, seconds run before)``."""
        fresh = compiled.init(compiled.key_data, compiled.hparams)
        if not resume or not self.checkpoints.steps():
            if resume:
                metrics_path = self.run_dir / rundir.METRICS_FILE
                distributed.on_main_process(
                    lambda: rundir.keep_metrics_up_to(metrics_path, 0)
                )
            return fresh, 0, [], {}, 0.0
        like = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), fresh)
        restore_like = jax.tree.map(_trim_runs(compiled.placement), like)
        step, saved, refused = self.checkpoints.restore_latest(restore_like)
        for line in refused:
            self.console.print(f"[yellow]skipped[/] {line}", highlight=False)
        self.console.print(f"resuming from the checkpoint of step {step}")
        metrics_path = self.run_dir / rundir.METRICS_FILE
        # every process reads the file once process 0 has cut it to ``step``
        distributed.on_main_process(
            lambda: rundir.keep_metrics_up_to(metrics_path, step)
        )
        steps, _, history = rundir.read_metrics(metrics_path)
        if not np.array_equal(steps, np.arange(1, step + 1)):
            raise rundir.RunDirError(
                f"{metrics_path} does not hold steps 1 to {step} of the checkpoint"
            )
        history = {k: v.astype(compiled.metric_dtypes[k]) for k, v in history.items()}
        extra = self.checkpoints.extra(step)
        diverged = {int(k): v for k, v in extra.get("diverged", {}).items()}
        state = compiled.placement.put(_raw_keys(saved))
        state = jax.tree.map(_rewrap_like, state, fresh)
        return state, step, [history] if history else [], diverged, extra["run_s"]


def _trim_runs(placement: RunPlacement):
    def trim(x):
        return jax.ShapeDtypeStruct((placement.num_runs, *x.shape[1:]), x.dtype)

    return trim


def _raw_keys(tree):
    return jax.tree.map(
        lambda x: (
            np.asarray(jax.random.key_data(x))
            if checkpoint.is_typed_key(x)
            else np.asarray(x)
        ),
        tree,
    )


def _rewrap_like(x, like):
    if checkpoint.is_typed_key(like):
        return jax.random.wrap_key_data(x, impl=jax.random.key_impl(like))
    return x
