"""The ``jaxrl`` command: ``jaxrl envs`` and ``jaxrl train ppo``.

Every ``ppo.Config`` and ``ppo.HParams`` field is a flag (``--total-steps``,
``--lr``). Bad values are reported before anything is compiled, and an
existing run directory is never written into.
"""

import argparse
import dataclasses
import datetime
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

_CONSOLE = Console()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jaxrl`` script; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except (ValueError, TypeError, FileExistsError) as error:
        # soft_wrap: a message (and any path in it) stays on one line
        _CONSOLE.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
        return 2


def _build_parser() -> argparse.ArgumentParser:
    from jaxrl.algos import ppo

    parser = argparse.ArgumentParser(
        prog="jaxrl", description="Hard-exploration RL in JAX."
    )
    commands = parser.add_subparsers(dest="command")
    envs = commands.add_parser("envs", help="list the environment ids")
    envs.set_defaults(handler=_list_envs)

    train = commands.add_parser("train", help="train an agent")
    algos = train.add_subparsers(dest="algo", required=True)
    ppo_parser = algos.add_parser(
        "ppo",
        help="PPO on one environment, many seeds at once",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ppo_parser.add_argument("--env", default="DoorKey-5x5", help="environment id")
    ppo_parser.add_argument("--seeds", type=int, default=8, help="seeds run at once")
    ppo_parser.add_argument("--seed", type=int, default=0, help="first seed")
    ppo_parser.add_argument(
        "--out", default=None, help="run directory (default: runs/ppo-ENV-TIME)"
    )
    ppo_parser.add_argument(
        "--no-progress", action="store_true", help="no live progress bar"
    )
    _add_dataclass_flags(ppo_parser, ppo.Config, skip=("log_every",))
    _add_dataclass_flags(ppo_parser, ppo.HParams)
    ppo_parser.set_defaults(handler=_train_ppo)
    return parser


def _add_dataclass_flags(parser, cls, skip=()) -> None:
    defaults = cls()
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        default = getattr(defaults, field.name)
        flag = "--" + field.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, type=_parse_bool, default=default,
                                metavar="{true,false}")  # fmt: skip
        else:
            parser.add_argument(flag, type=type(default), default=default)


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _list_envs(args) -> int:
    from jaxrl import registry

    _CONSOLE.print("[bold]jaxrl[/] (Farama MiniGrid ids such as "
                   "MiniGrid-DoorKey-5x5-v0 work too):")  # fmt: skip
    for env_id in registry.ids():
        _CONSOLE.print(f"  {env_id}")
    _CONSOLE.print("[bold]gymnax[/]:")
    for env_id in registry.gymnax_ids():
        _CONSOLE.print(f"  {env_id}")
    return 0


def _train_ppo(args) -> int:
    import jaxrl
    from jaxrl import experiment
    from jaxrl.algos import ppo

    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    config = _from_args(ppo.Config, args, log_every=0)
    hparams = _from_args(ppo.HParams, args)
    ppo.check_hparams(hparams)
    env, env_params = jaxrl.make(args.env)
    run_dir = _new_run_dir(args.out, f"ppo-{args.env}")
    config = dataclasses.replace(config, log_every=max(1, config.num_updates // 100))
    experiment.run_ppo(
        env_id=args.env, env=env, env_params=env_params, config=config,
        hparams=hparams, num_seeds=args.seeds, first_seed=args.seed,
        run_dir=run_dir, show_progress=not args.no_progress, console=_CONSOLE,
    )  # fmt: skip
    return 0


def _from_args(cls, args, **overrides):
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
              if hasattr(args, f.name)}  # fmt: skip
    return cls(**{**values, **overrides})


def _new_run_dir(out: str | None, prefix: str) -> Path:
    if out is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{prefix}-{stamp}"
    path = Path(out)
    if path.exists():
        raise FileExistsError(
            f"run directory {path} already exists; pass a new --out so that "
            "earlier results are kept"
        )
    path.mkdir(parents=True)
    return path


if __name__ == "__main__":
    sys.exit(main())
