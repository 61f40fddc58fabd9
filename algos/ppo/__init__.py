"""Proximal Policy Optimization (Schulman et al., 2017) for discrete actions.

Example::

    env, params = jaxrl.make("DoorKey-5x5")
    train = ppo.make_train(ppo.Config(total_steps=100_000), env, params)
    out = jax.jit(jax.vmap(train, in_axes=(0, None)))(keys, ppo.HParams())
"""

from jaxrl.algos.ppo.config import Config, HParams, check_hparams
from jaxrl.algos.ppo.losses import LossInfo, gae, ppo_loss
from jaxrl.algos.ppo.networks import ActorCritic, make_network
from jaxrl.algos.ppo.train import (
    Metrics,
    RunnerState,
    Transition,
    final_scores,
    make_optimizer,
    make_program,
    make_train,
)
from jaxrl.program import TrainOutput

__all__ = [
    "ActorCritic", "Config", "HParams", "LossInfo", "Metrics", "RunnerState",
    "TrainOutput", "Transition", "check_hparams", "final_scores", "gae",
    "make_network", "make_optimizer", "make_program", "make_train", "ppo_loss",
]  # fmt: skip


def _program_for(config: Config, env_id: str):
    """``jaxrl train ppo --env ENV``: PPO on a registered environment."""
    import jaxrl

    env, params = jaxrl.make(env_id)
    return make_program(config, env, params, target=env_id)


def _register() -> None:
    from jaxrl import algorithms

    algorithms.register(
        algorithms.Algorithm(
            name="ppo",
            summary="PPO on one environment, many seeds (and settings) at once",
            config_type=Config,
            hparams_type=HParams,
            make_program=_program_for,
            target_kind="env",
            default_target="DoorKey-5x5",
        ),
        overwrite=True,
    )


_register()
