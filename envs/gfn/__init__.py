"""GFlowNet environments: DAGs of partial objects with forward/backward masks.

Example::

    env, reward = make_gfn_env("hypergrid", ndim=2, height=8)
    s = env.step(env.initial_state(), jnp.int32(env.exit_action))
    reward.log_reward(s)  # log R(0, 0) = log(R0 + R1)
"""

from jaxrl.envs.gfn.base import GFNEnvironment
from jaxrl.envs.gfn.bitseq import BitSequence, BitSequenceReward, BitSequenceState
from jaxrl.envs.gfn.hypergrid import HyperGrid, HyperGridReward, HyperGridState
from jaxrl.envs.gfn.ising import Ising, IsingReward, IsingState
from jaxrl.envs.gfn.mo_hypergrid import MOHyperGrid, MOHyperGridReward
from jaxrl.envs.gfn.registry import (
    GFNEnvSpec,
    gfn_env_ids,
    make_gfn_env,
    register_gfn_env,
)

__all__ = [
    "BitSequence", "BitSequenceReward", "BitSequenceState", "GFNEnvSpec",
    "GFNEnvironment", "HyperGrid", "HyperGridReward", "HyperGridState",
    "Ising", "IsingReward", "IsingState", "MOHyperGrid", "MOHyperGridReward",
    "gfn_env_ids", "make_gfn_env", "register_gfn_env",
]  # fmt: skip
