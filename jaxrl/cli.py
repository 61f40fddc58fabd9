"""The ``jaxrl`` command: ``jaxrl envs``, ``jaxrl train ppo`` and ``jaxrl render``.

Every ``ppo.Config`` and ``ppo.HParams`` field is a flag (``--total-steps``,
``--lr``). Bad values are reported before anything is compiled, and an
existing run directory (or GIF) is never written into.
"""

import argparse
import dataclasses
import datetime
import sys
from pathlib import Path

import numpy as np
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
    _add_render_parser(commands)
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


# ---------------------------------------------------------------------------
# jaxrl render

_FRAMES_PER_CALL = 32  # frames rendered per compiled call (the last is padded)


def _add_render_parser(commands) -> None:
    render = commands.add_parser(
        "render",
        help="write a GIF of one gridworld episode",
        description="Play one episode (random actions, or a PPO checkpoint's "
        "policy) and write it as a GIF, the agent's view highlighted as in "
        "Farama MiniGrid.",
    )
    render.add_argument("--env", default=None,
                        help="environment id (default: the checkpoint's)")  # fmt: skip
    render.add_argument("--policy", choices=("random", "checkpoint"),
                        default="random",
                        help="who acts (default: %(default)s)")  # fmt: skip
    render.add_argument("--checkpoint", default=None, metavar="RUN_DIR",
                        help="a `jaxrl train ppo` run directory; its first "
                        "seed's policy acts, sampling its actions")  # fmt: skip
    render.add_argument("--greedy", action="store_true",
                        help="checkpoint policy: take the likeliest action "
                        "instead of sampling one")  # fmt: skip
    render.add_argument("--out", required=True, metavar="FILE.gif",
                        help="the GIF to write; an existing file is kept")  # fmt: skip
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
    import jaxrl
    from jaxrl.envs.gridworld import MiniGridEnv, render

    out = _new_gif_path(args.out)
    render.check_tile_size(args.tile_size)
    if not 0 < args.fps <= 50:
        # GIF delays are in 1/100 s, and viewers slow delays under 2/100 s down
        raise ValueError(f"--fps must be in (0, 50], got {args.fps}")
    if args.max_steps is not None and args.max_steps < 1:
        raise ValueError(f"--max-steps must be >= 1, got {args.max_steps}")
    if args.policy == "checkpoint":
        run_dir, run_config = _read_run_dir(args.checkpoint)
        env_id = args.env or run_config["env"]
    else:
        if args.checkpoint is not None:
            raise ValueError("--checkpoint needs --policy checkpoint")
        if args.env is None:
            raise ValueError("--env is required with --policy random")
        env_id = args.env
    env, env_params = jaxrl.make(env_id)
    if not isinstance(env, MiniGridEnv):
        raise ValueError(
            f"jaxrl render draws gridworld environments only; {env_id!r} is a "
            f"{type(env).__name__}"
        )
    if args.policy == "checkpoint":
        act = _checkpoint_policy(run_dir, run_config, env, env_params, args.greedy)
    else:
        act = _random_policy(env, env_params)
    max_steps = args.max_steps or int(env_params.max_steps_in_episode)

    with _CONSOLE.status("playing the episode..."):
        states, rewards, ends = _play(env, env_params, act, args.seed, max_steps)
    done = ends.any(axis=1)
    num_steps = int(np.argmax(done)) + 1 if done.any() else max_steps
    frames = _frames(env, states, num_steps + 1, args.tile_size)
    _write_gif(out, frames, args.fps)
    if not done.any():
        ending = "stopped at --max-steps"
    elif ends[num_steps - 1, 0]:
        ending = "terminated"
    else:
        ending = "truncated at the time limit"
    _CONSOLE.print(
        f"wrote {escape(str(out))}: {num_steps + 1} frames, episode length "
        f"{num_steps} ({ending}), return {float(rewards[:num_steps].sum()):.3f}",
        soft_wrap=True,
    )
    return 0


def _new_gif_path(out: str) -> Path:
    path = Path(out)
    if path.suffix.lower() != ".gif":
        raise ValueError(
            f"--out must name a .gif file (the only format written), got {out!r}"
        )
    if path.exists():
        raise FileExistsError(f"{path} already exists; pass a new --out")
    if not path.parent.is_dir():
        raise ValueError(f"the folder of --out, {path.parent}, does not exist")
    return path


def _read_run_dir(run_dir: str | None) -> tuple[Path, dict]:
    import json

    if run_dir is None:
        raise ValueError("--policy checkpoint needs --checkpoint RUN_DIR")
    path = Path(run_dir)
    config_file, checkpoint_dir = path / "config.json", path / "checkpoint"
    if not config_file.is_file() or not checkpoint_dir.is_dir():
        raise ValueError(
            f"no checkpoint in {path}: expected config.json and checkpoint/ "
            "written by `jaxrl train ppo`"
        )
    run_config = json.loads(config_file.read_text())
    if run_config.get("algo") != "ppo":
        raise ValueError(f"{config_file} is not a PPO run")
    return path, run_config


def _random_policy(env, env_params):
    space = env.action_space(env_params)
    return lambda key, obs: space.sample(key)


def _checkpoint_policy(run_dir: Path, run_config: dict, env, env_params, greedy):
    """The first seed's PPO policy, from a run directory.

    The saved state's shapes come from tracing (not running) the training
    function with the run's config; the policy may act on another env than
    the one trained on if observations and actions have the same shapes.
    """
    import jax

    import jaxrl
    from jaxrl import checkpoint
    from jaxrl.algos import ppo

    config = ppo.Config(**run_config["config"])
    train_env, train_params = jaxrl.make(run_config["env"])
    keys = jax.vmap(jax.random.key)(np.arange(run_config["num_seeds"]))
    train = ppo.make_train(config, train_env, train_params)
    like = jax.eval_shape(jax.vmap(train, in_axes=(0, None)), keys, ppo.HParams())
    _check_same_interface(train_env, train_params, env, env_params)
    saved = checkpoint.restore(run_dir / "checkpoint", like.state)
    params = jax.tree.map(lambda x: x[0], saved.params)
    network = ppo.make_network(
        env.observation_space(env_params), int(env.action_space(env_params).n),
        config.hidden_size, config.embed_dim,
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


def _play(env, env_params, act, seed: int, max_steps: int):
    """One episode of ``max_steps`` steps without auto-reset, in one scan.

    Returns:
        ``(states, rewards, ends)``: states with leaves ``(max_steps + 1,
        ...)`` (the reset state first), rewards ``(max_steps,)`` float32 and
        ends ``(max_steps, 2)`` bool (terminated, truncated) as NumPy; steps
        after the episode's end continue from its final state; cut them.
    """
    import jax
    import jax.numpy as jnp

    def step(carry, key):
        obs, state = carry
        k_act, k_step = jax.random.split(key)
        action = act(k_act, obs)
        obs, state, reward, terminated, _ = env.step_env(
            k_step, state, action, env_params
        )
        ends = jnp.stack([terminated, env.is_truncated(state, env_params)])
        return (obs, state), (state, reward, ends)

    def episode(key):
        k_reset, k_steps = jax.random.split(key)
        obs, state = env.reset(k_reset, env_params)
        keys = jax.random.split(k_steps, max_steps)
        _, (states, rewards, ends) = jax.lax.scan(step, (obs, state), keys)
        states = jax.tree.map(
            lambda first, rest: jnp.concatenate([first[None], rest]), state, states
        )
        return states, rewards, ends

    states, rewards, ends = jax.jit(episode)(jax.random.key(seed))
    return states, np.asarray(rewards), np.asarray(ends)


def _frames(env, states, num_frames: int, tile_size: int):
    """Yield the first ``num_frames`` states as ``(H, W, 3)`` uint8 pictures,
    the agent's view highlighted, rendered ``_FRAMES_PER_CALL`` at a time."""
    import jax

    from jaxrl.envs.gridworld import render

    def picture(state):
        seen = render.visible_cells(state, env.view_size, env.see_through_walls)
        return render.render_state(state, tile_size, seen)

    draw = jax.jit(jax.vmap(picture))
    for start in range(0, num_frames, _FRAMES_PER_CALL):
        # pad the last chunk to the full size: one compilation for all chunks
        index = np.arange(start, start + _FRAMES_PER_CALL)
        index = np.minimum(index, num_frames - 1)
        chunk = np.asarray(draw(jax.tree.map(lambda x, i=index: x[i], states)))
        yield from chunk[: num_frames - start]


def _write_gif(path: Path, frames, fps: float) -> None:
    """Write frames as a looping GIF with pillow.

    Pillow stores a run of identical frames once, with their durations
    summed, so the file may hold fewer frames than were rendered while
    playing for the same time.
    """
    from PIL import Image

    images = (Image.fromarray(frame) for frame in frames)
    first = next(images)
    file = open(path, "xb")  # noqa: SIM115  ("x": never replace a file)
    try:
        with file:
            first.save(file, format="GIF", save_all=True, append_images=images,
                       duration=round(1000 / fps), loop=0)  # fmt: skip
    except BaseException:
        path.unlink(missing_ok=True)  # no half-written GIF left behind
        raise


if __name__ == "__main__":
    sys.exit(main())
