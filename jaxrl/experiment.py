"""A complete PPO experiment from the command line: compile, run with a
progress bar, then write a results table, JSON, learning-curve plot and
checkpoint into one run directory."""

import dataclasses
import json
import platform
import time
from pathlib import Path

import jax
import numpy as np
from rich.console import Console
from rich.table import Table

from jaxrl import checkpoint, plots
from jaxrl.progress import TrainingProgress


def final_scores(metrics, num_final_updates: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-run final return and success rate.

    Both are means over the episodes that ended in the last
    ``num_final_updates`` updates (episodes weighted equally).

    Args:
        metrics: PPO metrics with leaves ``(R, U)``.
        num_final_updates: how many trailing updates count.

    Returns:
        ``(final_return, success_rate)``, each ``(R,)`` float64; NaN for a run
        with no finished episode in that window.
    """
    counts = np.asarray(metrics.num_episodes)[:, -num_final_updates:].astype(np.float64)
    returns = np.asarray(metrics.episode_return)[:, -num_final_updates:]
    success = np.asarray(metrics.success_rate)[:, -num_final_updates:]
    total = counts.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        final_return = np.where(total > 0, (returns * counts).sum(1) / total, np.nan)
        success_rate = np.where(total > 0, (success * counts).sum(1) / total, np.nan)
    return final_return, success_rate


def run_ppo(*, env_id, env, env_params, config, hparams, num_seeds, first_seed,
            run_dir: Path, show_progress: bool, console: Console) -> dict:  # fmt: skip
    """Train ``num_seeds`` PPO agents at once and write the run directory.

    Returns:
        The results dictionary that is also written to ``results.json``.
    """
    from jaxrl.algos import ppo

    train = ppo.make_train(config, env, env_params)
    keys = jax.vmap(jax.random.key)(np.arange(first_seed, first_seed + num_seeds))
    _write_json(run_dir / "config.json", {
        "algo": "ppo", "env": env_id, "num_seeds": num_seeds,
        "first_seed": first_seed, "config": dataclasses.asdict(config),
        "hparams": _hparams_dict(hparams),
    })  # fmt: skip
    console.print(
        f"Training PPO on [bold]{env_id}[/]: {num_seeds} seeds x "
        f"{config.num_updates * config.batch_size:,} steps, "
        f"device {jax.devices()[0].platform}, run directory {run_dir}"
    )

    with console.status("compiling (one program for all seeds)..."):
        start = time.perf_counter()
        compiled = jax.jit(jax.vmap(train, in_axes=(0, None))).lower(keys, hparams)
        compiled = compiled.compile()
        compile_s = time.perf_counter() - start
    console.print(f"compiled in {compile_s:.1f} s")

    steps_per_run = config.num_updates * config.batch_size
    start = time.perf_counter()
    if show_progress:
        with TrainingProgress(num_seeds, steps_per_run, description="ppo"):
            out = jax.block_until_ready(compiled(keys, hparams))
    else:
        out = jax.block_until_ready(compiled(keys, hparams))
    run_s = time.perf_counter() - start

    results = _results(env_id, config, num_seeds, first_seed, out.metrics,
                       compile_s, run_s)  # fmt: skip
    _print_table(console, results)
    _write_json(run_dir / "results.json", results)
    metrics = out.metrics
    plot = plots.plot_learning_curves(
        env_steps=np.asarray(metrics.env_steps)[0],
        returns=np.asarray(metrics.episode_return),
        valid=np.asarray(metrics.num_episodes) > 0,
        success=np.asarray(metrics.success_rate),
        path=run_dir / "learning_curve.png",
        title=f"PPO on {env_id}",
    )
    saved = checkpoint.save(run_dir / "checkpoint", out.state)
    console.print(f"results: {run_dir / 'results.json'}\nplot: {plot}\n"
                  f"checkpoint: {saved}")  # fmt: skip
    return results


def _results(env_id, config, num_seeds, first_seed, metrics, compile_s, run_s):
    final_return, success_rate = final_scores(metrics, config.num_final_updates)
    steps = num_seeds * config.num_updates * config.batch_size
    return {
        "env": env_id,
        "seeds": list(range(first_seed, first_seed + num_seeds)),
        "final_return": _floats(final_return),
        "success_rate": _floats(success_rate),
        "final_return_mean": float(np.nanmean(final_return)),
        "final_return_std": float(np.nanstd(final_return)),
        "success_rate_mean": float(np.nanmean(success_rate)),
        "final_window_updates": config.num_final_updates,
        "env_steps_total": steps,
        "env_steps_per_s": steps / run_s,
        "compile_s": compile_s,
        "run_s": run_s,
        "jax_version": jax.__version__,
        "device": str(jax.devices()[0].device_kind),
        "platform": platform.platform(),
        "curves": {
            "env_steps": np.asarray(metrics.env_steps)[0].tolist(),
            "episode_return": np.asarray(metrics.episode_return).tolist(),
            "num_episodes": np.asarray(metrics.num_episodes).tolist(),
        },
    }


def _print_table(console: Console, results: dict) -> None:
    window = results["final_window_updates"]
    table = Table(
        title=f"PPO on {results['env']}: episodes of the last {window} updates"
    )
    table.add_column("seed", justify="right")
    table.add_column("final return", justify="right")
    table.add_column("success rate", justify="right")
    for seed, ret, success in zip(results["seeds"], results["final_return"],
                                  results["success_rate"], strict=True):  # fmt: skip
        table.add_row(str(seed), _number(ret, ".3f"), _number(success, ".1%"))
    table.add_section()
    mean, std = results["final_return_mean"], results["final_return_std"]
    table.add_row(
        "mean ± std",
        f"{_number(mean, '.3f')} ± {_number(std, '.3f')}",
        _number(results["success_rate_mean"], ".1%"),
    )
    if any(ret is None for ret in results["final_return"]):
        console.print("n/a: no episode ended in the final window for that seed")
    console.print(table)
    console.print(
        f"env steps/s (all seeds): {results['env_steps_per_s']:,.0f}   "
        f"compile: {results['compile_s']:.1f} s   run: {results['run_s']:.1f} s"
    )


def _number(value, spec: str) -> str:
    """A table cell: ``n/a`` for a seed with no finished episode."""
    return "n/a" if value is None or np.isnan(value) else format(value, spec)


def _hparams_dict(hparams) -> dict:
    return {f.name: np.asarray(getattr(hparams, f.name)).tolist()
            for f in dataclasses.fields(hparams)}  # fmt: skip


def _floats(values: np.ndarray) -> list:
    return [None if np.isnan(v) else float(v) for v in values]


def _write_json(path: Path, data: dict) -> None:
    if path.exists():
        raise FileExistsError(f"{path} exists; refusing to overwrite it")
    path.write_text(json.dumps(data, indent=2))
