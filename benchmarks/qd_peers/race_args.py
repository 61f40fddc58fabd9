"""The arm race's command line, shared by the peer drivers (each runs in its
own virtual environment with this directory on its path)."""

import argparse


def parse_race_args() -> argparse.Namespace:
    """``--dof --archive --cells --centroids --batch --iterations --sigma-iso
    --sigma-line --seed``, as benchmarks/compare_qd.py passes them."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--dof", type=int, default=100)
    parser.add_argument("--archive", choices=("grid", "cvt"), default="grid")
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--centroids", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--iterations", type=int, default=976)
    parser.add_argument("--sigma-iso", type=float, default=0.005)
    parser.add_argument("--sigma-line", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()
