"""Random-action throughput of jaxrl's environments.

For each environment and batch size: env steps per second of a jitted
``lax.scan`` over ``vmap(env.step)`` with uniformly random actions, and the
compile time, separately. Episodes start at staggered step counts (as in a
long run; ``--synchronized`` starts them all at 0), so the steps timed
include the resets of a steady state. ``--modes`` adds two references that show what the
auto-reset costs:

- ``auto-reset``: ``env.step``, same-step auto-reset, every environment
  drawing a fresh level every step (exact; training's choice below 64 envs);
- ``optimistic``: the optimistic batched reset (``num_resets`` = B/16 levels
  drawn at a time when the stock of B + B/16 has room; training's default
  from 64 envs up);
- ``gymnax-select``: gymnax's default ``Environment.step``, which observes a
  fresh reset and the stepped state every step and selects between them;
- ``no-reset``: ``env.step_env`` alone, no reset at all (not a usable
  environment loop: an upper bound).

    python benchmarks/env_throughput.py
    python benchmarks/env_throughput.py --envs DoorKey-8x8 FourRooms --modes all
"""

import argparse
import functools

import jax
import jax.numpy as jnp
from common import measure, print_table, rate, save_results
from gymnax.environments import environment

import jaxrl
from jaxrl import batched_reset, threefry

MODES = ("auto-reset", "optimistic", "gymnax-select", "no-reset")


class _StepAs:
    """``env`` with ``step`` replaced (reset and spaces unchanged)."""

    def __init__(self, env, step):
        self._env, self.step = env, step

    def __getattr__(self, name):
        return getattr(self._env, name)


def _with_step(env, mode: str):
    if mode == "auto-reset":
        return env
    if mode == "gymnax-select":
        return _StepAs(env, functools.partial(environment.Environment.step, env))

    def step_without_reset(key, state, action, params):
        obs, state, reward, terminated, info = env.step_env(key, state, action, params)
        return obs, state, reward, terminated, jnp.zeros_like(terminated), info

    return _StepAs(env, step_without_reset)


def random_stepper(env, params, batch: int, mode: str, staggered: bool = True):
    """``(init, step)`` for a batch of ``env`` driven by random actions.

    ``init(key) -> carry`` resets ``batch`` copies; ``step(carry, key) ->
    carry`` takes one random action in each. The carry holds the observation,
    so no part of the step can be optimised away.

    With ``staggered``, each episode starts with its step count uniform in
    ``[0, max_steps_in_episode)``, as in a long run where episodes no longer
    end together: a timed scan shorter than an episode then still ends
    ``batch / max_steps_in_episode`` episodes per step (on top of the goals
    reached), where episodes that all start at 0 would end none. Where the
    state has no step count, nothing changes.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    num_actions = env.action_space(params).n
    if mode == "optimistic":
        stepper = batched_reset.OptimisticReset(env, batch)
    else:
        stepper = batched_reset.ExactReset(_with_step(env, mode), batch)

    def init(key):
        obs, state = stepper.reset(key, params)
        if not staggered:
            return obs, state
        times = jax.random.randint(
            jax.random.fold_in(key, 3), (batch,), 0, params.max_steps_in_episode
        )
        return obs, _with_times(state, times)

    def step(carry, key):
        _, state = carry
        key_action, key_env = threefry.split(key)  # jax.random.split's keys
        actions = jax.random.randint(key_action, (batch,), 0, num_actions)
        obs, state, *_ = stepper.step(key_env, state, actions, params)
        return obs, state

    return init, step


def _with_times(state, times):
    """``state`` (a batch state, or an optimistic one holding it) with its
    step counts set to ``times`` ``(B,)``; unchanged where there are none."""
    if isinstance(state, batched_reset.OptimisticState):
        return state._replace(env_state=_with_times(state.env_state, times))
    if not hasattr(state, "time"):
        return state
    return state.replace(time=times.astype(state.time.dtype))


TARGET_IDS = ("FourRooms", "DoorKey-8x8", "KeyCorridorS3R3", "MultiRoom-N6")
OPTIMISTIC_TARGET = 0.8  # optimistic / no-reset at batch 4096 on TARGET_IDS


def gridworld_ids() -> list[str]:
    """The registered gridworld ids (the registry also holds the hard maze,
    whose actions are continuous)."""
    from jaxrl.envs.gridworld import MiniGridEnv

    return [
        env_id
        for env_id in jaxrl.registry.ids()
        if isinstance(jaxrl.make(env_id)[0], MiniGridEnv)
    ]


def family_ids() -> list[str]:
    """One gridworld id per environment class (the first registered: each
    family's smallest level), then the target tasks not already in."""
    chosen, seen = [], set()
    for env_id in gridworld_ids():
        env_class = type(jaxrl.make(env_id)[0])
        if env_class not in seen:
            seen.add(env_class)
            chosen.append(env_id)
    return chosen + [env_id for env_id in TARGET_IDS if env_id not in chosen]


def side_by_side(results: list, modes: tuple) -> tuple[list, list]:
    """Columns and rows: steps/s of each mode per (env, batch), the
    optimistic reset's share of no-reset and its gain on auto-reset, and the
    compile seconds of the slowest mode."""
    by_key = {(r["env"], r["batch"], r["mode"]): r for r in results}
    columns = ["env", "batch", *modes]
    ratios = {"optimistic", "no-reset", "auto-reset"} <= set(modes)
    if ratios:
        columns += ["optimistic / no-reset", "optimistic / auto-reset", "target"]
    columns.append("compile s (max)")
    rows = []
    for env_id, batch in dict.fromkeys((r["env"], r["batch"]) for r in results):
        found = {m: by_key.get((env_id, batch, m)) for m in modes}
        speed = {m: r["steps_per_s"] if r else None for m, r in found.items()}
        row = [env_id, batch, *(rate(v) if v else "—" for v in speed.values())]
        if ratios:
            share = speed["optimistic"] / speed["no-reset"]
            gain = speed["optimistic"] / speed["auto-reset"]
            target = "—"
            if env_id in TARGET_IDS and batch == 4096:
                met = share >= OPTIMISTIC_TARGET
                target = f">= {OPTIMISTIC_TARGET:.0%} {'PASS' if met else 'MISS'}"
            row += [f"{share:.0%}", f"{gain:.1f}x", target]
        row.append(f"{max(r['compile_s'] for r in found.values() if r):.1f}")
        rows.append(row)
    return columns, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--envs", nargs="+", default=None,
        help="ids, or 'families' (one per family plus the target tasks); "
        "default: every gridworld",
    )  # fmt: skip
    parser.add_argument(
        "--batch-sizes", nargs="+", type=int, default=[1, 256, 4096, 16384]
    )
    parser.add_argument(
        "--modes", nargs="+", default=["auto-reset"], choices=[*MODES, "all"]
    )
    parser.add_argument(
        "--env-steps",
        type=int,
        default=1_000_000,
        help="env steps per compiled call",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--min-seconds", type=float, default=1.0,
        help="each timed call repeats until this long has passed",
    )  # fmt: skip
    parser.add_argument(
        "--synchronized", action="store_true",
        help="start every episode at step 0 (default: step counts uniform "
        "over the episode, as in a long run)",
    )  # fmt: skip
    parser.add_argument("--out", default=None, help="JSON path (never overwritten)")
    args = parser.parse_args(argv)
    modes = MODES if "all" in args.modes else tuple(args.modes)
    if args.envs == ["families"]:
        env_ids = family_ids()
    else:
        env_ids = args.envs or gridworld_ids()
    if any(b < 1 for b in args.batch_sizes):
        parser.error(f"--batch-sizes must be >= 1, got {args.batch_sizes}")

    results = []
    for env_id in env_ids:
        env, params = jaxrl.make(env_id)
        for batch in args.batch_sizes:
            for mode in modes:
                init, step = random_stepper(
                    env, params, batch, mode, staggered=not args.synchronized
                )
                result = {
                    "env": env_id,
                    "mode": mode,
                    **measure(
                        init, step, batch, args.env_steps, args.repeats,
                        args.min_seconds,
                    ),
                }
                results.append(result)
                print(
                    f"  {env_id} {mode} B={batch}: "
                    f"{rate(result['steps_per_s'])} steps/s, "
                    f"compile {result['compile_s']:.1f} s",
                    flush=True,
                )
    columns, rows = side_by_side(results, modes)
    print_table(
        f"Random-action env steps/s ({jax.default_backend()}, jax {jax.__version__})",
        columns,
        rows,
    )
    path = save_results(
        "env_throughput", {"args": vars(args), "results": results}, args.out
    )
    print(f"saved {path}")


if __name__ == "__main__":
    jnp.zeros(())  # start the backend before the first timed compile
    main()
