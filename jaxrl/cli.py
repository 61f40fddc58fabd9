"""The ``jaxrl`` command: ``envs``, ``train ALGO``, ``resume``, ``report``, ``render``.

``jaxrl train`` has a subcommand per registered algorithm
(:mod:`jaxrl.algorithms`), with a flag for every field of its ``Config`` and
``HParams``. Everything is checked before a run directory is made or
anything is compiled; an existing run directory is never written into
(``--overwrite`` replaces a jaxrl run directory on request). Exit status: 0
done, 2 refused, 3 diverged (every run went non-finite: results.json says
where, and nothing is scored), 130 interrupted (the run saved a checkpoint
first).
"""

import argparse
import signal
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from jaxrl.cli_flags import add_dataclass_flags, from_args

_CONSOLE = Console()
_EXIT_REFUSED, _EXIT_DIVERGED, _EXIT_INTERRUPTED = 2, 3, 130


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxrl`` script; returns the exit status."""
    from jaxrl.checkpoint import CheckpointError
    from jaxrl.distributed import MainProcessError, initialize_from_env
    from jaxrl.engine import RunInterrupted

    try:
        # JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID: join the
        # other processes first; building the parser starts a JAX backend
        initialize_from_env()
    except ValueError as error:
        _CONSOLE.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
        return _EXIT_REFUSED
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return _EXIT_REFUSED
    try:
        return args.handler(args)
    except RunInterrupted:
        return _EXIT_INTERRUPTED
    except KeyboardInterrupt as error:  # a second Ctrl-C, or one before the run
        detail = f": {escape(str(error))}" if str(error) else ""
        _CONSOLE.print(f"[yellow]interrupted[/]{detail}", soft_wrap=True)
        return _EXIT_INTERRUPTED
    except (
        ValueError, TypeError, FileExistsError, CheckpointError, MainProcessError
    ) as error:  # fmt: skip
        # MainProcessError: process 0 refused (it says why); soft_wrap: a
        # message (and any path in it) stays on one line
        _CONSOLE.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
        return _EXIT_REFUSED


def _build_parser() -> argparse.ArgumentParser:
    from jaxrl import algorithms

    parser = argparse.ArgumentParser(
        prog="jaxrl", description="Hard-exploration RL, quality-diversity and "
        "GFlowNets in JAX.",
    )  # fmt: skip
    commands = parser.add_subparsers(dest="command")
    envs = commands.add_parser("envs", help="list the environment ids")
    envs.set_defaults(handler=_list_envs)

    train = commands.add_parser("train", help="train an algorithm (many seeds at once)")
    algos = train.add_subparsers(dest="algo", required=True, metavar="ALGO")
    for name in algorithms.names():
        _add_train_parser(algos, algorithms.get(name))

    resume = commands.add_parser(
        "resume", help="go on with an interrupted run from its newest good checkpoint"
    )
    resume.add_argument("run_dir", metavar="RUN_DIR")
    resume.add_argument("--no-progress", action="store_true",
                        help="no live progress bar")  # fmt: skip
    resume.set_defaults(handler=_resume)

    report = commands.add_parser(
        "report", help="compare finished runs: table (IQM, bootstrap CIs) and curves"
    )
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    report.add_argument(
        "--out", default=None, metavar="DIR",
        help="write report.md and learning_curves.png here",
    )  # fmt: skip
    report.set_defaults(handler=_report)
    _add_render_parser(commands)
    return parser


def _add_train_parser(algos, algorithm) -> None:
    parser = algos.add_parser(
        algorithm.name, help=algorithm.summary, description=algorithm.summary
    )
    kind = algorithm.target_kind
    parser.add_argument(f"--{kind}", default=algorithm.default_target,
                        dest="target", help=f"{kind} id "
                        f"(default: {algorithm.default_target})")  # fmt: skip
    run = parser.add_argument_group("run")
    run.add_argument("--seeds", type=int, default=8,
                     help="seeds run at once (default: 8)")  # fmt: skip
    run.add_argument("--seed", type=int, default=0, help="first seed (default: 0)")
    run.add_argument("--sweep", action="append", default=[], metavar="NAME=V1,V2",
                     help="sweep a hyperparameter over values (repeat for a "
                     "grid); one compilation for every setting x seed")  # fmt: skip
    run.add_argument(
        "--out",
        default=None,
        help=f"run directory (default: runs/{algorithm.name}-TARGET-TIME)",
    )
    run.add_argument("--overwrite", action="store_true",
                     help="replace --out if it holds an earlier jaxrl run")  # fmt: skip
    run.add_argument(
        "--no-progress", action="store_true",
        help="no live progress bar (a line per tenth of the run)",
    )  # fmt: skip
    run.add_argument(
        "--no-memory-check", action="store_true",
        help="skip the memory estimate made before compiling",
    )  # fmt: skip
    run.add_argument(
        "--chunk-steps",
        type=int,
        default=None,
        help="steps per compiled call (default: about 1/50 of the run)",
    )
    run.add_argument("--checkpoint-every", type=int, default=10,
                     help="chunks between checkpoints; 0: only at the end "
                     "(default: 10)")  # fmt: skip
    run.add_argument("--keep-checkpoints", type=int, default=3,
                     help="newest checkpoints kept (default: 3)")  # fmt: skip
    run.add_argument(
        "--tensorboard", action="store_true",
        help="also write TensorBoard event files into RUN_DIR/tensorboard",
    )  # fmt: skip
    add_dataclass_flags(parser, algorithm.config_type, "config (static: shapes "
                        "and loop lengths)")  # fmt: skip
    add_dataclass_flags(parser, algorithm.hparams_type, "hyperparameters "
                        "(traced: sweepable in one compilation)")  # fmt: skip
    parser.set_defaults(handler=_train, algorithm=algorithm)


def _list_envs(args) -> int:
    from jaxrl import registry
    from jaxrl.brax_adapter import brax_names
    from jaxrl.envs import gfn, qd

    groups = [
        ("[bold]jaxrl[/] (Farama MiniGrid ids such as MiniGrid-DoorKey-5x5-v0 "
         "work too):", registry.ids()),
        ("[bold]gymnax[/]:", registry.gymnax_ids()),
        ("[bold]brax[/] (continuous actions):",
         [registry.BRAX_PREFIX + name for name in brax_names()]),
        ("[bold]GFlowNet[/] (jaxrl train gfn --env ID; ID:name=value,... "
         "overrides sizes):", gfn.gfn_env_ids()),
        ("[bold]quality-diversity tasks[/]:", qd.task_ids()),
    ]  # fmt: skip
    for title, ids in groups:
        _CONSOLE.print(title)
        for env_id in ids:
            _CONSOLE.print(f"  {env_id}")
    return 0


def _train(args) -> int:
    """``jaxrl train ALGO``: check everything, then make the directory and run."""
    import jaxrl
    from jaxrl.layout import parse_sweep

    algorithm = args.algorithm
    config = from_args(algorithm.config_type, args)
    hparams = from_args(algorithm.hparams_type, args)
    sweep = parse_sweep(args.sweep)
    out = _run_dir_path(args.out, algorithm.name, args.target, args.overwrite)
    program = algorithm.make_program(config, args.target)
    _note_rounded_total(config, program)
    result = jaxrl.run(
        program, hparams, seeds=args.seeds, first_seed=args.seed, sweep=sweep,
        out=out, chunk_steps=args.chunk_steps,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints, progress=not args.no_progress,
        tensorboard=args.tensorboard,
        console=_CONSOLE,
        replace_existing=args.overwrite,
        check_memory=not args.no_memory_check,
    )  # fmt: skip
    return _exit_status(result)


def _exit_status(result) -> int:
    """0, or ``_EXIT_DIVERGED`` when every run of ``result`` went non-finite."""
    return _EXIT_DIVERGED if result.results.get("status") == "diverged" else 0


def _note_rounded_total(config, program) -> None:
    """Say so when ``--total-steps`` is not a whole number of engine steps
    (the run does fewer; config.json records ``total_work``). Not for the
    Config's own default: the run's first line gives the steps it does."""
    requested = getattr(config, "total_steps", None)
    total = program.num_steps * program.work_per_step
    default = getattr(type(config)(), "total_steps", None)
    if isinstance(requested, int) and requested not in (total, default):
        _CONSOLE.print(
            f"note: --total-steps {requested:,} is not a multiple of one update "
            f"({program.work_per_step:,} {program.work_unit}): each run does "
            f"{total:,} {program.work_unit}",
            soft_wrap=True,
        )


def _run_dir_path(out: str | None, algorithm: str, target: str,
                  overwrite: bool) -> Path:  # fmt: skip
    """The run directory to create; with ``--overwrite`` an existing jaxrl
    run there will be replaced (after every other check has passed).

    Checked now, before the program is built (seconds for a gridworld):
    process 0 alone looks at the filesystem and the others get its answer,
    as :func:`jaxrl.run` does again later.
    """
    from jaxrl import distributed, rundir

    if out is None:
        import jax

        if jax.process_count() > 1:  # each host would stamp its own name
            raise ValueError(
                "a run over several processes needs --out: the same directory "
                "for every process, on a filesystem that all of them see"
            )
        import datetime

        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        return Path("runs") / f"{algorithm}-{target}-{stamp}"
    path = Path(out)
    if overwrite and path.exists() and not (path / rundir.CONFIG_FILE).is_file():
        raise ValueError(
            f"--overwrite replaces jaxrl run directories only; {path} is not one"
        )
    distributed.on_main_process(lambda: rundir.check_new(path, overwrite))
    return path


def _resume(args) -> int:
    import jaxrl

    result = jaxrl.resume(args.run_dir, progress=not args.no_progress,
                          console=_CONSOLE)  # fmt: skip
    return _exit_status(result)


def _report(args) -> int:
    from jaxrl import report

    report.compare(args.run_dirs, out_dir=args.out)
    return 0


# ---------------------------------------------------------------------------
# jaxrl render


_MAX_EPISODES = 64  # jaxrl render --episodes: an 8 x 8 grid at most


def _add_render_parser(commands) -> None:
    render = commands.add_parser(
        "render",
        help="write a video (GIF or MP4) of episodes of an environment that "
        "draws itself",
        description="Play episodes (random actions, or a PPO checkpoint's "
        "policy) and write them as a GIF or an MP4 (pip install "
        "'jaxrl[video]'); several episodes play in one compiled call and "
        "show side by side. Any environment with a "
        "`render_rgb(state, params, tile_size)` method works (the gridworlds "
        "highlight the agent's view, as Farama MiniGrid does).",
    )
    render.add_argument("env_id", nargs="?", default=None, metavar="ENV",
                        help="environment id (default: the checkpoint's)")  # fmt: skip
    render.add_argument("--env", default=None, help="the same as ENV")
    render.add_argument("--policy", default="random",
                        metavar="random|checkpoint|RUN_DIR",
                        help="who acts: random actions, or the first seed's "
                        "policy of a `jaxrl train ppo` run directory, given "
                        "here or with --checkpoint (default: %(default)s)")  # fmt: skip
    render.add_argument("--checkpoint", default=None, metavar="RUN_DIR",
                        help="the run directory of --policy checkpoint")  # fmt: skip
    render.add_argument("--greedy", action="store_true",
                        help="checkpoint policy: take the likeliest action "
                        "instead of sampling one")  # fmt: skip
    render.add_argument("--out", required=True, metavar="FILE.gif|FILE.mp4",
                        help="the video; an existing file is kept")  # fmt: skip
    render.add_argument("--episodes", type=int, default=1,
                        help="episodes played at once and shown in a grid, "
                        f"1 to {_MAX_EPISODES}; episode i has seed SEED + i "
                        "(default: %(default)s)")  # fmt: skip
    render.add_argument("--seed", type=int, default=0,
                        help="episode seed (default: %(default)s)")  # fmt: skip
    render.add_argument("--max-steps", type=int, default=None,
                        help="steps at most (default: the time limit)")  # fmt: skip
    render.add_argument("--tile-size", type=int, default=32,
                        help="pixels per cell (default: %(default)s)")  # fmt: skip
    render.add_argument("--fps", type=float, default=8.0,
                        help="frames per second (default: %(default)s)")  # fmt: skip
    render.set_defaults(handler=_render_episode)


def _render_episode(args) -> int:
    """``jaxrl render``: checks everything first, then plays and writes."""
    import jax

    import jaxrl
    from jaxrl.envs.gridworld import episode_video

    if args.env_id and args.env and args.env_id != args.env:
        raise ValueError(f"ENV {args.env_id!r} and --env {args.env!r} disagree")
    args.env = args.env_id or args.env
    out = _new_video_path(args.out)
    if not 0 < args.fps <= 50:
        # GIF delays are in 1/100 s, and viewers slow delays under 2/100 s down
        raise ValueError(f"--fps must be in (0, 50], got {args.fps}")
    if args.max_steps is not None and args.max_steps < 1:
        raise ValueError(f"--max-steps must be >= 1, got {args.max_steps}")
    if not 1 <= args.episodes <= _MAX_EPISODES:
        raise ValueError(
            f"--episodes must be from 1 to {_MAX_EPISODES}, got {args.episodes}"
        )
    run_dir = _policy_run_dir(args)
    if run_dir is not None:
        run_dir, run_config = _read_run_dir(run_dir)
        env_id = args.env or run_config["target"]
    else:
        if args.env is None:
            raise ValueError("--env is required with --policy random")
        env_id = args.env
    env, env_params = jaxrl.make(env_id)
    if not callable(getattr(env, "render_rgb", None)):
        raise ValueError(
            f"{env_id!r} ({type(env).__name__}) cannot draw itself: jaxrl render "
            "needs an environment with render_rgb(state, params, tile_size)"
        )
    # tracing one picture checks --tile-size before anything runs
    state = jax.eval_shape(env.reset, jax.random.key(0), env_params)[1]
    jax.eval_shape(lambda s: env.render_rgb(s, env_params, args.tile_size), state)
    if run_dir is not None:
        act = _checkpoint_policy(run_dir, run_config, env, env_params, args.greedy)
    else:
        act = episode_video.random_policy(env, env_params)
    max_steps = args.max_steps or int(env_params.max_steps_in_episode)

    with _CONSOLE.status("playing..."):
        if args.episodes == 1:
            episode = episode_video.play_episode(
                env, env_params, act, jax.random.key(args.seed), max_steps
            )
            num_frames = episode.length + 1
            frames = episode_video.episode_frames(
                env, episode.states, num_frames, args.tile_size
            )
        else:
            seeds = jax.numpy.arange(args.episodes) + args.seed
            episode = episode_video.play_episodes(
                env, env_params, act, jax.vmap(jax.random.key)(seeds), max_steps
            )
            num_frames = int(episode.lengths.max()) + 1
            frames = episode_video.mosaic_frames(env, episode, args.tile_size)
        episode_video.write_video(out, frames, args.fps)
    _CONSOLE.print(f"wrote {escape(str(out))}: {num_frames} frames, "
                   f"{_episode_summary(episode)}", soft_wrap=True)  # fmt: skip
    return 0


def _episode_summary(episode) -> str:
    """How the episodes ended: one line."""
    import numpy as np

    lengths, returns = np.atleast_1d(episode.lengths, episode.returns)
    last = (np.arange(len(lengths)), lengths - 1)
    terminated = np.atleast_2d(episode.terminated)[last]
    truncated = np.atleast_2d(episode.truncated)[last]
    if len(lengths) == 1:
        ending = ("terminated" if terminated[0] else "truncated at the time limit"
                  if truncated[0] else "stopped at --max-steps")  # fmt: skip
        return f"episode length {lengths[0]} ({ending}), return {returns[0]:.3f}"
    return (
        f"{len(lengths)} episodes in a grid, lengths {lengths.min()} to "
        f"{lengths.max()} ({terminated.sum()} terminated, "
        f"{(truncated & ~terminated).sum()} truncated at the time limit, "
        f"{(~truncated & ~terminated).sum()} stopped at --max-steps), "
        f"mean return {returns.mean():.3f}"
    )


def _new_video_path(out: str) -> Path:
    from jaxrl.envs.gridworld import episode_video

    path = Path(out)
    try:
        episode_video.check_video_path(path)
    except (ImportError, ValueError) as error:  # mp4 needs jaxrl[video]
        raise ValueError(f"--out: {error}") from error
    if path.exists():
        raise FileExistsError(f"{path} already exists; pass a new --out")
    if not path.parent.is_dir():
        raise ValueError(f"the folder of --out, {path.parent}, does not exist")
    return path


def _policy_run_dir(args) -> str | None:
    """The run directory whose policy acts, or None for random actions."""
    if args.policy == "random":
        if args.checkpoint is not None:
            raise ValueError("--checkpoint needs --policy checkpoint")
        return None
    if args.policy == "checkpoint":
        if args.checkpoint is None:
            raise ValueError("--policy checkpoint needs --checkpoint RUN_DIR")
        return args.checkpoint
    if args.checkpoint is not None:
        raise ValueError(
            f"--policy {args.policy!r} and --checkpoint both name a run "
            "directory; give one"
        )
    if not Path(args.policy).is_dir():
        raise ValueError(
            "--policy must be random, checkpoint or a `jaxrl train ppo` run "
            f"directory; {args.policy!r} is none of these"
        )
    return args.policy


def _read_run_dir(run_dir: str) -> tuple[Path, dict]:
    from jaxrl import rundir

    path = Path(run_dir)
    if not (path / rundir.CONFIG_FILE).is_file():
        raise ValueError(f"no checkpoint in {path}: it holds no config.json "
                         "written by `jaxrl train ppo`")  # fmt: skip
    run_config = rundir.read_json(path / rundir.CONFIG_FILE)
    if run_config.get("algorithm") != "ppo":
        raise ValueError(f"{path} is not a PPO run")
    return path, run_config


def _checkpoint_policy(run_dir: Path, run_config: dict, env, env_params, greedy):
    """The first seed's PPO policy, from the run's newest good checkpoint.

    The policy may act on another env than the one trained on if
    observations and actions have the same shapes.
    """
    import jax

    import jaxrl
    from jaxrl.algos import ppo
    from jaxrl.engine import load_state

    config = ppo.Config(**run_config["config"])
    if config.recurrent:
        raise ValueError(
            "--policy checkpoint plays feed-forward PPO policies; this run's "
            "policy is recurrent (Config.recurrent), which render does not drive"
        )
    train_env, train_params = jaxrl.make(run_config["target"])
    _check_same_interface(train_env, train_params, env, env_params)
    state, _ = load_state(run_dir)
    params = jax.tree.map(lambda x: x[0], state.params)
    network = ppo.make_network(
        env.observation_space(env_params), int(env.action_space(env_params).n),
        config.hidden_size, config.embed_dim, config.num_value_heads,
    )  # fmt: skip

    def act(key, obs):
        logits, _ = network.apply(params, obs)
        if greedy:
            return jax.numpy.argmax(logits).astype(jax.numpy.int32)
        return jax.random.categorical(key, logits).astype(jax.numpy.int32)

    return act


def _check_same_interface(train_env, train_params, env, env_params) -> None:
    import jax

    def interface(e, p):
        obs = jax.eval_shape(e.reset, jax.random.key(0), p)[0]
        shapes = jax.tree.map(lambda x: (x.shape, str(x.dtype)), obs)
        return shapes, int(e.action_space(p).n)

    if interface(train_env, train_params) != interface(env, env_params):
        raise ValueError(
            "the checkpoint's policy was trained on an environment with other "
            "observation or action shapes; pass its --env or leave --env out"
        )


def script() -> None:
    """The ``jaxrl`` command: :func:`main`, its status as the exit code.

    Once the command has returned, every result is written; a Ctrl-C that
    lands while the interpreter then shuts down (JAX's exit hooks) is
    ignored rather than printed as a traceback.
    """
    status = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(status)


if __name__ == "__main__":
    script()
