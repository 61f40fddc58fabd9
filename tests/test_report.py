"""jaxrl.stats and jaxrl.report on small run directories written by hand."""

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from jaxrl import report, stats

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --- helpers: fake run directories ---------------------------------------------


def _results(**overrides) -> dict:
    """A schema-1 results.json for 2 settings x 4 seeds of PPO."""
    seeds, settings = [0, 1, 2, 3], [{"lr": 0.001}, {"lr": 0.0003}]
    results = {
        "schema": 1,
        "status": "done",
        "algorithm": "ppo",
        "target": "DoorKey-5x5",
        "seeds": seeds,
        "settings": settings,
        "runs": [{"seed": s, "setting": i} for i in range(2) for s in seeds],
        "config": {},
        "hparams": {},
        # setting 0: 1, 2, 3, 4; setting 1: 10, (diverged), 30, 40
        "final": {"episode_return": [1.0, 2.0, 3.0, 4.0, 10.0, None, 30.0, 40.0]},
        "nonfinite": {"episode_return": [5]},
        "summary": {},
        "primary": "episode_return",
        "lower_is_better": [],
        "curves": [
            {
                "metric": "episode_return",
                "weight": "num_episodes",
                "label": "episode return",
            }
        ],
        "work_unit": "env steps",
        "steps_done": 6,
        "num_steps": 6,
        "compile_s": 1.0,
        "run_s": 2.0,
        "throughput": {"value": 1000.0, "unit": "env steps/s"},
        "diverged": [{"run": 5, "seed": 1, "setting": 1, "step": 4}],
        "versions": {"jaxrl": "0.1.0"},
        "git_commit": None,
        "device": "cpu",
    }
    return {**results, **overrides}


def _metrics_lines(num_runs: int, num_steps: int, work_per_step: int) -> list[str]:
    """Per step: returns rising with the step, one episode ended every other
    step (weight 0 and "nan" in between)."""
    lines = []
    for step in range(1, num_steps + 1):
        ended = step % 2 == 0
        returns = [(step + r) / 10 if ended else "nan" for r in range(num_runs)]
        record = {
            "step": step,
            "work": step * work_per_step,
            "metrics": {
                "episode_return": returns,
                "num_episodes": [1 if ended else 0] * num_runs,
            },
        }
        lines.append(json.dumps(record))
    return lines


def _make_run(
    path: Path,
    results: dict | None,
    num_steps: int = 6,
    work_per_step: int = 128,
    config: dict | None = None,
) -> Path:
    path.mkdir(parents=True)
    num_runs = len(results["runs"]) if results else 4
    lines = _metrics_lines(num_runs, num_steps, work_per_step)
    (path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if results is not None:
        (path / "results.json").write_text(json.dumps(results))
    if config is not None:
        (path / "config.json").write_text(json.dumps(config))
    return path


# --- stats ------------------------------------------------------------------------


def test_iqm_known_values():
    # 8 values: int(0.25 * 8) = 2 cut from each end -> mean(3, 4, 5, 6) = 4.5
    assert stats.iqm(np.arange(1, 9)) == 4.5
    # 5 values: int(1.25) = 1 cut from each end -> mean(2, 3, 4) = 3 (100 is gone)
    assert stats.iqm([1, 2, 3, 4, 100]) == 3.0
    # 3 values: int(0.75) = 0 cut -> plain mean (rliable does the same)
    assert stats.iqm([1, 2, 6]) == 3.0
    assert stats.iqm([7.0]) == 7.0
    assert math.isnan(stats.iqm([1.0, np.nan, 3.0]))
    with pytest.raises(ValueError):
        stats.iqm([])


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 10, 13])
def test_iqm_matches_scipy_trim_mean(n):
    # rliable's metrics.aggregate_iqm is scipy.stats.trim_mean(x, 0.25, axis=None)
    x = np.random.default_rng(n).normal(size=n) ** 3
    assert stats.iqm(x) == pytest.approx(scipy_stats.trim_mean(x, 0.25), rel=1e-12)


def test_bootstrap_ci_contains_estimate_and_is_deterministic():
    x = np.random.default_rng(0).normal(3.0, 1.0, size=10)
    lo, hi = stats.bootstrap_ci(x, "mean", seed=1)
    assert lo < x.mean() < hi
    assert (lo, hi) == stats.bootstrap_ci(x, "mean", seed=1)
    assert (lo, hi) != stats.bootstrap_ci(x, "mean", seed=2)
    assert isinstance(lo, float) and isinstance(hi, float)
    lo_iqm, hi_iqm = stats.bootstrap_ci(x, stats.iqm, seed=1)
    assert lo_iqm < stats.iqm(x) < hi_iqm
    # A callable is resampled with the same draws as the vectorised "mean".
    by_callable = stats.bootstrap_ci(x, lambda v: float(np.mean(v)), seed=1)
    assert by_callable == pytest.approx((lo, hi), rel=1e-12)
    # Two values 0 and 1: resample means 0, 0.5, 1 with chances 1/4, 1/2, 1/4,
    # so the 2.5th and 97.5th percentiles of many resamples are 0 and 1.
    assert stats.bootstrap_ci([0.0, 1.0], "mean") == (0.0, 1.0)
    assert stats.bootstrap_ci([2.5], "iqm") == (2.5, 2.5)
    with pytest.raises(ValueError, match="finite"):
        stats.bootstrap_ci([1.0, np.nan], "mean")


def test_summarize_drops_nonfinite_and_is_json_ready():
    summary = stats.summarize([1.0, None, np.nan, 3.0, np.inf])
    assert summary["n"] == 2
    assert summary["mean"] == 2.0 and summary["iqm"] == 2.0
    assert summary["std"] == 1.0  # population std of 1, 3
    assert 1.0 <= summary["ci95"][0] <= 2.0 <= summary["ci95"][1] <= 3.0
    assert 1.0 <= summary["iqm_ci95"][0] <= summary["iqm_ci95"][1] <= 3.0
    json.dumps(summary, allow_nan=False)
    assert all(type(v) is float for v in [summary["mean"], *summary["ci95"]])

    empty = stats.summarize([None, np.nan])
    assert empty["n"] == 0
    assert all(empty[k] is None for k in ("mean", "std", "iqm", "ci95", "iqm_ci95"))

    single = stats.summarize(np.array([0.25]))
    assert single == {"mean": 0.25, "std": 0.0, "iqm": 0.25, "ci95": [0.25, 0.25],
                      "iqm_ci95": [0.25, 0.25], "n": 1}  # fmt: skip


def test_smooth_weighted_trailing_mean():
    values = np.array([1.0, np.nan, 3.0, 5.0])
    weights = np.array([1.0, 0.0, 2.0, 1.0])
    # window 2: [1/1, (1 + nothing)/1, 3*2/2, (3*2 + 5*1)/(2 + 1)]
    expected = [1.0, 1.0, 3.0, 11.0 / 3.0]
    np.testing.assert_allclose(stats.smooth(values, weights, 2), expected)
    # no weight in the window -> NaN; per run on (R, T)
    two = stats.smooth(np.ones((2, 3)), np.array([[0, 0, 1], [1, 0, 0]]), 1)
    np.testing.assert_array_equal(np.isnan(two), [[1, 1, 0], [0, 1, 1]])
    with pytest.raises(ValueError):
        stats.smooth(values, weights, 0)


def test_modules_import_neither_jax_nor_plotting():
    # The package's __init__ imports the environments (and so JAX); load the
    # two modules under a bare stand-in package to see what they import.
    source = Path(__file__).resolve().parents[1] / "jaxrl"
    code = textwrap.dedent(f"""
        import sys, types
        package = types.ModuleType("jaxrl")
        package.__path__ = [{str(source)!r}]
        sys.modules["jaxrl"] = package
        import jaxrl.report, jaxrl.stats
        heavy = [m for m in sys.modules
                 if m.split(".")[0] in ("jax", "jaxlib", "matplotlib", "scipy")]
        assert not heavy, heavy
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- load_run ---------------------------------------------------------------------


def test_load_run_decodes_nonfinite_and_skips_a_cut_last_line(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    lines = [
        {"step": 1, "work": 64, "metrics": {"x": [1.5, "nan"], "y": ["inf", 2]}},
        {"step": 2, "work": 128, "metrics": {"x": ["-inf", 3], "y": [0, None]}},
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (path / "metrics.jsonl").write_text(text + '{"step": 3, "work": 192, "metr')
    with pytest.warns(UserWarning, match="line 3, cut short"):
        run = report.load_run(path)
    np.testing.assert_array_equal(run.steps, [1, 2])
    np.testing.assert_array_equal(run.work, [64.0, 128.0])
    np.testing.assert_array_equal(run.metrics["x"], [[1.5, -np.inf], [np.nan, 3.0]])
    np.testing.assert_array_equal(run.metrics["y"], [[np.inf, 0.0], [2.0, np.nan]])
    assert run.results is None and run.status == "unknown"
    assert run.runs == [{"seed": 0, "setting": 0}, {"seed": 1, "setting": 0}]

    # A bad line before the last one is an error, not something to skip.
    (path / "metrics.jsonl").write_text("garbage\n" + text)
    with pytest.raises(ValueError, match="line 1"):
        report.load_run(path)


def test_load_run_rejects_what_is_not_a_run_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty.*no metrics.jsonl or results.json"):
        report.load_run(tmp_path / "empty")
    with pytest.raises(ValueError, match="missing does not exist"):
        report.compare([tmp_path / "missing"])
    old = _make_run(tmp_path / "old", _results(schema=None))
    with pytest.raises(ValueError, match="results.json has schema None"):
        report.load_run(old)


# --- compare ----------------------------------------------------------------------


def test_compare_table_numbers_files_and_no_overwrite(tmp_path):
    run = _make_run(tmp_path / "sweep", _results(status="diverged"))
    out = tmp_path / "report"
    markdown = report.compare([run], out_dir=out)
    lines = markdown.splitlines()
    assert lines[0].startswith("| run | episode_return: mean ± std |")
    first = next(line for line in lines if "[lr=0.001]" in line)
    second = next(line for line in lines if "[lr=0.0003]" in line)
    # Seeds 1, 2, 3, 4: mean 2.5, population std sqrt(1.25) = 1.118 (3 digits
    # shown); IQM cuts int(0.25 * 4) = 1 from each end: mean(2, 3) = 2.5.
    assert first.startswith("| ppo DoorKey-5x5 [lr=0.001] | 2.5 ± 1.12 | 2.5 [")
    assert "| 4/4 | diverged: 0 of 4 |" in first
    # 10, 30, 40 (one seed diverged): mean 26.67, std 12.47; IQM of 3 values
    # cuts nothing, so it equals the mean.
    assert "| 26.7 ± 12.5 | 26.7 [" in second
    assert "| 3/4 | diverged: 1 of 4 |" in second

    text = (out / "report.md").read_text()
    assert markdown in text and "![learning curves (env steps)]" in text
    png = (out / "learning_curves.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000

    before = (out / "report.md").stat().st_mtime_ns
    with pytest.raises(FileExistsError, match="report.md"):
        report.compare([run], out_dir=out)
    assert (out / "report.md").stat().st_mtime_ns == before
    (out / "report.md").unlink()
    with pytest.raises(FileExistsError, match="learning_curves.png"):
        report.compare([run], out_dir=out)
    assert not (out / "report.md").exists()  # nothing written when refusing


def test_compare_work_units_and_a_run_without_results(tmp_path):
    ppo = _make_run(tmp_path / "ppo", _results())
    qd_results = _results(
        algorithm="map_elites",
        target="arm",
        settings=[{}],
        runs=[{"seed": s, "setting": 0} for s in range(4)],
        final={"coverage": [0.5, 0.6, 0.7, 0.8]},
        nonfinite={},
        diverged=[],
        primary="coverage",
        curves=[{"metric": "episode_return", "weight": None, "label": "max fitness"}],
        work_unit="evaluations",
    )
    qd = _make_run(tmp_path / "qd", qd_results, work_per_step=32)
    (qd / "archive.png").write_bytes(b"\x89PNG")  # a QD run's picture
    config = {"algorithm": "ppo", "target": "Empty-5x5", "seeds": [0, 1, 2, 3],
              "settings": [{}], "num_steps": 10, "work_unit": "env steps"}  # fmt: skip
    killed = _make_run(tmp_path / "killed", None, num_steps=6, config=config)
    out = tmp_path / "out"
    markdown = report.compare([ppo, qd, killed], out_dir=out)

    row = next(line for line in markdown.splitlines() if "Empty-5x5" in line)
    assert "| unknown at step 6/10, estimated |" in row
    text = (out / "report.md").read_text()
    assert "estimated: the run wrote no results.json" in text
    assert "(../qd/archive.png)" in text  # linked from where the report lies
    # Final values estimated from metrics.jsonl: window max(1, 6 // 10) = 1
    # step, the last (6), where run r returned (6 + r) / 10 -> 0.6 .. 0.9.
    assert "| 0.75 ± 0.112 |" in row
    assert "| map_elites arm | - | - | - | 0.65 ± 0.112 |" in markdown
    names = sorted(p.name for p in out.iterdir())
    assert names == ["learning_curves_env_steps.png", "learning_curves_evaluations.png",
                     "report.md"]  # fmt: skip


def test_plot_run_draws_into_the_run_directory(tmp_path):
    run = _make_run(tmp_path / "one", _results(settings=[{}], runs=[
        {"seed": s, "setting": 0} for s in range(8)]), num_steps=40)  # fmt: skip
    path = report.plot_run(run)
    assert path == run / "learning_curves.png"
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert report.plot_run(run) == path  # the run's own plot is redrawn
