"""benchmarks/compare_gfn.py refuses bad timing and budget arguments before
it trains anything."""

import pytest
from benchmark_scripts import load

compare_gfn = load("compare_gfn")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--repeats", "0"], "--repeats must be >= 1, got 0"),
        (["--loss-table", "--loss-budget", "16", "0"], "--loss-budget needs"),
    ],
)
def test_bad_arguments_are_refused(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        compare_gfn.parse_args(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_defaults_time_best_of_three():
    args = compare_gfn.parse_args([])
    assert args.repeats == 3 and list(args.loss_budget) == [16, 2000]
