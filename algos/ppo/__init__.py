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
    TrainOutput,
    Transition,
    make_optimizer,
    make_train,
)

__all__ = [
    "ActorCritic", "Config", "HParams", "LossInfo", "Metrics", "RunnerState",
    "TrainOutput", "Transition", "check_hparams", "gae", "make_network",
    "make_optimizer", "make_train", "ppo_loss",
]  # fmt: skip
