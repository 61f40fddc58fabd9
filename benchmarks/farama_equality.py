"""Every Farama MiniGrid wrapper on every jaxrl gridworld, against Farama's.

For each jaxrl gridworld id with a Farama counterpart (``MiniGrid-<id>-v0``,
or the id's own version), each seed and each wrapper class of
``minigrid.wrappers``: Farama's environment is reset with the seed, its
level copied into jaxrl (``from_minigrid``), and both environments,
wrapped alike, take the same random actions. Observation spaces,
observations, rewards and flags are compared at every step (an episode that
ends starts again). The walk and the wrapper arguments are those of
``tests/test_farama_wrappers.py``, which runs one id per task class in CI.

Prints a row per id for the surface's attributes after each reset (static
ones, agent, grid, goal cell, task attributes such as Fetch's targetType),
then one row per (id, wrapper): steps compared over all seeds and
``equal``, ``reset only`` (Dynamic-Obstacles: the balls' random moves come
from different generators; tests/test_farama_stochastic.py compares them by
distribution) or ``differs`` with the first difference. Exits 1 on any
difference::

    python benchmarks/farama_equality.py                  # every id
    python benchmarks/farama_equality.py --ids DoorKey-5x5 --seeds 5 --steps 200
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np

from jaxrl.farama_surface import TASK_ATTRIBUTES
from jaxrl.gymnasium_registration import GRIDWORLD_IDS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import test_farama_wrappers as farama_test  # noqa: E402


def farama_ids() -> list[str]:
    """The jaxrl gridworld ids whose Farama id is registered, in order."""
    return [i for i in GRIDWORLD_IDS if farama_test.farama_id(i) in gym.registry]


def _value(value):
    """A Farama attribute as Python values (positions as int tuples)."""
    if isinstance(value, tuple | list | np.ndarray):
        return tuple(int(v) for v in value)
    return value


def surface_difference(farama, ours) -> str:
    """The first attribute of ``ours.unwrapped`` (the Farama surface) that
    differs from Farama's after reset, or ``""``: the static ones, the
    agent, the grid, the goal cell where Farama names it, and the task
    attributes (present on both or on neither)."""
    theirs, mine = farama.unwrapped, ours.unwrapped
    names = ["width", "height", "max_steps", "agent_view_size",
             "see_through_walls", "agent_pos", "agent_dir", "mission",
             "step_count"]  # fmt: skip
    names += [n for n in ("goal_pos", "goal_position") if hasattr(theirs, n)]
    for name in names + list(TASK_ATTRIBUTES):
        if not hasattr(theirs, name):
            if hasattr(mine, name):
                return f"{name}: Farama has none, the surface has one"
            continue
        if not hasattr(mine, name):
            return f"{name}: missing"
        if _value(getattr(mine, name)) != _value(getattr(theirs, name)):
            return f"{name}: {getattr(mine, name)!r} != {getattr(theirs, name)!r}"
    if mine.grid != theirs.grid:
        return "grid: the encodings differ"
    return ""


def first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = " | ".join(lines[:4]) or type(error).__name__
    return f"{type(error).__name__}: {text}"[:300]


def check_id(env_id: str, seeds: list[int], num_steps: int, made: dict) -> list[tuple]:
    """Rows ``(id, wrapper, steps, status, first difference)`` for one id;
    ``made`` holds the jaxrl environments levels share (``make_pair``)."""
    steps = dict.fromkeys(farama_test.WRAPPERS, 0)
    differences: dict[str, str] = {}
    for seed in seeds:
        farama, ours = farama_test.make_pair(env_id, seed, made)
        ours.reset(seed=seed)
        if "surface" not in differences and surface_difference(farama, ours):
            differences["surface"] = f"seed {seed}: {surface_difference(farama, ours)}"
        for name in farama_test.WRAPPERS:
            if name in differences:
                continue
            try:
                steps[name] += farama_test.walk(
                    farama, ours, name, seed, farama_test.steps_for(env_id, num_steps)
                )
            except Exception as error:  # noqa: BLE001  (reported, not raised)
                differences[name] = f"seed {seed}: {first_line(error)}"
    reset_only = farama_test.steps_for(env_id, num_steps) == 0
    surface = "differs" if "surface" in differences else "equal"
    rows = [
        (env_id, "(surface attributes)", 0, surface, differences.get("surface", ""))
    ]
    return rows + [
        (
            env_id,
            name,
            steps[name],
            "differs"
            if name in differences
            else ("reset only" if reset_only else "equal"),
            differences.get(name, ""),
        )
        for name in farama_test.WRAPPERS
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", nargs="*", help="jaxrl ids (default: all)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    parser.add_argument("--steps", type=int, default=60, help="steps per walk")
    args = parser.parse_args(argv)
    known = farama_ids()
    ids = args.ids or known
    unknown = [i for i in ids if i not in known]
    if unknown:
        parser.error(f"--ids: no Farama counterpart for {unknown}; choose from {known}")
    if args.seeds < 1 or args.steps < 0:
        parser.error("--seeds must be >= 1 and --steps >= 0")
    seeds = list(range(args.seeds))
    # Farama's older versions (MultiRoom-N4-S5-v0...) are compared on purpose
    warnings.filterwarnings("ignore", message=".*is out of date")
    print(f"{'id':<30} {'wrapper':<28} {'steps':>6}  result")
    totals = {"equal": 0, "reset only": 0, "differs": 0}
    made: dict = {}
    start = time.perf_counter()
    for env_id in ids:
        for row in check_id(env_id, seeds, args.steps, made):
            totals[row[3]] += 1
            detail = f"  {row[4]}" if row[4] else ""
            print(f"{row[0]:<30} {row[1]:<28} {row[2]:>6}  {row[3]}{detail}")
            sys.stdout.flush()
    print(
        f"\n{len(ids)} ids x ({len(farama_test.WRAPPERS)} wrappers + surface) x "
        f"{len(seeds)} seeds x {args.steps} steps: {totals['equal']} equal, "
        f"{totals['reset only']} reset only, {totals['differs']} differ "
        f"({time.perf_counter() - start:.0f} s)"
    )
    return 1 if totals["differs"] else 0


if __name__ == "__main__":
    sys.exit(main())
