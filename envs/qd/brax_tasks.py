"""Brax locomotion QD tasks (QDax's ant_omni, ant_uni, walker2d_uni).

Each task is :func:`~jaxrl.envs.qd.policy_task.policy_task` on a brax robot
behind jaxrl's brax adapter (:class:`jaxrl.brax_adapter.BraxEnv`, backend
``"spring"`` by default, the fastest on CPU). The definitions follow QDax
(``qdax/tasks/brax/__init__.py``, ``wrappers/locomotion_wrappers.py``,
``descriptor_extractors.py``):

- ``"brax-ant-omni"``: descriptor the torso's final (x, y), clipped to a
  square box (QDax: +-30 m for its episodes); fitness the return without the
  forward-velocity term (per step ``1 - 0.5 |a|^2``, QDax's
  ``NoForwardRewardWrapper``).
- ``"brax-ant-uni"``: descriptor the fraction of steps each of the 4 feet
  touches the ground; fitness brax's ant return (forward velocity + 1 -
  control cost).
- ``"brax-walker2d-uni"``: the same for walker2d's 2 feet.

A foot touches the ground on a step when one of brax's contacts (computed
with ``debug=True``, read from ``pipeline_state.contact``) has the foot as
its second body and a distance <= 0, QDax's ``FeetContactWrapper`` rule.
Brax 0.14's ant.xml leaves the four lower-leg bodies unnamed (QDax's names
``"$ Body 4"``... come from brax 1's configs), so the ant's feet are the four
leaves of its kinematic tree; walker2d's are ``"foot"`` and ``"foot_left"``.

Every episode starts from one fixed reset (QDax's ``deterministic=True``:
one reset for all policies). Defaults are sized for a CPU (100 steps, one
hidden layer of 8); QDax's GPU settings are ``episode_steps=1000`` (its
examples use 100 to 250) with two hidden layers of 64.
"""

import jax
import jax.numpy as jnp

from jaxrl.brax_adapter import BraxEnv, BraxState
from jaxrl.envs.qd.base import Task
from jaxrl.envs.qd.policy_task import (
    final_value,
    hidden_width,
    mean_value,
    mlp_num_params,
)
from jaxrl.envs.qd.policy_task import policy_task as _policy_task

# QDax's reward offsets a step (its qd_offset is offset x episode length):
# exact for ant_omni (1 - 0.5 * 8 actuators), found by experiment for the
# others, so those two are no guaranteed bounds
REWARD_OFFSET = {"ant_omni": 3.0, "ant_uni": 3.24, "walker2d_uni": 1.413}
OMNI_BOUND = 30.0  # QDax's ant_omni position box, metres
FEET_NAMES = {"walker2d": ("foot", "foot_left")}  # ant: the leaves of its tree
NUM_FEET = {"ant": 4, "walker2d": 2}
# observation and action sizes of brax's robots with their default arguments,
# to refuse a wrong genotype_dim before brax loads (policy_task checks again)
SIZES = {"ant": (27, 8), "walker2d": (17, 6)}


class BraxTransitions(BraxEnv):
    """:class:`BraxEnv` with gymnax's ``step_env``: one brax step, no reset.

    ``info["metrics"]`` holds brax's reward terms of the step (the ones an
    auto-reset would replace by a fresh episode's zeros).
    """

    def step_env(self, key, state: BraxState, action, params):
        stepped = self._brax.step(state.brax, jnp.asarray(action, jnp.float32))
        next_state = BraxState(brax=stepped, time=state.time + 1)
        reward = jnp.asarray(stepped.reward, jnp.float32)
        terminated = jnp.asarray(stepped.done) > 0
        info = {"metrics": stepped.metrics}
        return stepped.obs.astype(jnp.float32), next_state, reward, terminated, info


def feet_links(env: BraxTransitions, robot: str) -> jax.Array:
    """Link indices of the robot's feet (see the module docstring)."""
    sys = env._brax.sys
    if robot in FEET_NAMES:
        feet = [i for i, n in enumerate(sys.link_names) if n in FEET_NAMES[robot]]
    else:
        parents = set(sys.link_parents)
        feet = [i for i in range(len(sys.link_names)) if i not in parents]
    if len(feet) != NUM_FEET[robot]:
        raise ValueError(f"found feet links {feet} on {robot}, expected "
                         f"{NUM_FEET[robot]}")  # fmt: skip
    return jnp.asarray(feet, jnp.int32)


def feet_contact(pipeline_state, feet: jax.Array) -> jax.Array:
    """1.0 for each foot some contact touches with distance <= 0, ``(F,)``."""
    contact = pipeline_state.contact
    touching = (contact.link_idx[1][None, :] == feet[:, None]) & (
        contact.dist[None, :] <= 0
    )
    return jnp.any(touching, axis=-1).astype(jnp.float32)


def _check(name: str, robot: str, genotype_dim, episode_steps, hidden_layers):
    for field, value in (("episode_steps", episode_steps),
                         ("hidden_layers", hidden_layers)):  # fmt: skip
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: {field} must be an int >= 1, got {value!r}")
    hidden_width(genotype_dim, *SIZES[robot], hidden_layers, name)


def _brax_env(robot: str, backend: str, debug: bool, episode_steps: int):
    env = BraxTransitions(robot, backend=backend, debug=debug)
    params = env.default_params.replace(max_steps_in_episode=episode_steps)
    return env, params


def brax_ant_omni(
    genotype_dim: int = mlp_num_params(27, 8, 8),
    episode_steps: int = 100,
    hidden_layers: int = 1,
    position_bound: float | None = None,
    backend: str = "spring",
    reset_seed: int = 0,
) -> Task:
    """QDax's ant_omni: reach every (x, y) while spending little control.

    Descriptor: the torso's final (x, y), clipped to ``[-b, b]^2``. Fitness:
    the sum over the episode of ``1 - 0.5 |a|^2`` (brax's ant reward without
    its forward term), so at least ``-3 T``, which is ``min_fitness`` (QDax's
    offset 3.0). The episode ends early when the torso leaves heights
    (0.2, 1.0) (brax's ant termination).

    CPU-small defaults: 100 steps, one hidden layer of 8 (296 genes), ``b``
    3 m. GPU (QDax): ``episode_steps=1000, hidden_layers=2,
    genotype_dim=6472`` (64 x 64), ``position_bound=30``.

    Args:
        genotype_dim: MLP size, ``36 h + 8`` for one hidden layer (44, 80,
            ..., 296 for h=8); with two, ``h^2 + 37 h + 8`` (6472 for 64).
        episode_steps: steps an episode (brax dt 0.05 s).
        hidden_layers: hidden layers of the MLP.
        position_bound: ``b``; None: QDax's 30 m scaled by
            ``episode_steps / 1000``.
        backend: brax pipeline.
        reset_seed: the fixed start.
    """
    _check("brax-ant-omni", "ant", genotype_dim, episode_steps, hidden_layers)
    if position_bound is None:
        position_bound = OMNI_BOUND * episode_steps / 1000
    if not (isinstance(position_bound, int | float) and position_bound > 0):
        raise ValueError(
            f"brax-ant-omni position_bound must be a number > 0, got {position_bound!r}"
        )
    bound = float(position_bound)
    env, params = _brax_env("ant", backend, False, episode_steps)

    def position(state, info):
        return jnp.clip(state.brax.pipeline_state.x.pos[0, :2], -bound, bound)

    return _policy_task(
        env,
        params,
        name="brax-ant-omni",
        genotype_dim=genotype_dim,
        state_descriptor=position,
        descriptor_fn=final_value,
        descriptor_low=(-bound, -bound),
        descriptor_high=(bound, bound),
        episode_steps=episode_steps,
        hidden_layers=hidden_layers,
        init_bounds=(-0.5, 0.5),
        reward_fn=lambda reward, info: reward - info["metrics"]["reward_forward"],
        min_fitness=-REWARD_OFFSET["ant_omni"] * episode_steps,
        reset_seed=reset_seed,
    )


def _feet_task(robot, name, genotype_dim, episode_steps, hidden_layers, backend,
               reset_seed) -> Task:  # fmt: skip
    _check(name, robot, genotype_dim, episode_steps, hidden_layers)
    env, params = _brax_env(robot, backend, True, episode_steps)
    feet = feet_links(env, robot)
    num_feet = int(feet.shape[0])
    return _policy_task(
        env,
        params,
        name=name,
        genotype_dim=genotype_dim,
        state_descriptor=lambda state, info: feet_contact(
            state.brax.pipeline_state, feet
        ),
        descriptor_fn=mean_value,
        descriptor_low=(0.0,) * num_feet,
        descriptor_high=(1.0,) * num_feet,
        episode_steps=episode_steps,
        hidden_layers=hidden_layers,
        init_bounds=(-0.5, 0.5),
        min_fitness=-REWARD_OFFSET[f"{robot}_uni"] * episode_steps,
        reset_seed=reset_seed,
    )


def brax_ant_uni(
    genotype_dim: int = mlp_num_params(27, 8, 8),
    episode_steps: int = 100,
    hidden_layers: int = 1,
    backend: str = "spring",
    reset_seed: int = 0,
) -> Task:
    """QDax's ant_uni: run forward with every gait.

    Descriptor: the fraction of the episode's steps each of the 4 feet
    touches the ground, in [0, 1]^4. Fitness: brax's ant return (x velocity
    + 1 - 0.5 |a|^2 a step). ``min_fitness`` is QDax's experimental offset,
    ``-3.24 T``.

    CPU-small defaults: 100 steps, one hidden layer of 8 (296 genes). GPU
    (QDax): ``episode_steps=1000, hidden_layers=2, genotype_dim=6472``.

    Args:
        genotype_dim: MLP size, as for :func:`brax_ant_omni`.
        episode_steps: steps an episode (brax dt 0.05 s).
        hidden_layers: hidden layers of the MLP.
        backend: brax pipeline.
        reset_seed: the fixed start.
    """
    return _feet_task("ant", "brax-ant-uni", genotype_dim, episode_steps,
                      hidden_layers, backend, reset_seed)  # fmt: skip


def brax_walker2d_uni(
    genotype_dim: int = mlp_num_params(17, 6, 8),
    episode_steps: int = 100,
    hidden_layers: int = 1,
    backend: str = "spring",
    reset_seed: int = 0,
) -> Task:
    """QDax's walker2d_uni: walk forward with every gait.

    Descriptor: the fraction of steps each foot (``"foot"``,
    ``"foot_left"``) touches the ground, in [0, 1]^2. Fitness: brax's
    walker2d return (x velocity + 1 - 0.001 |a|^2 a step); the episode ends
    when the torso leaves heights (0.8, 2.0) or tilts past 1 rad.
    ``min_fitness`` is QDax's experimental offset, ``-1.413 T``.

    CPU-small defaults: 100 steps, one hidden layer of 8 (198 genes). GPU
    (QDax): ``episode_steps=1000, hidden_layers=2, genotype_dim=5702``.

    Args:
        genotype_dim: MLP size, ``24 h + 6`` for one hidden layer (30, 54,
            ..., 198 for h=8); with two, ``h^2 + 25 h + 6`` (5702 for 64).
        episode_steps: steps an episode (brax dt 0.008 s on spring).
        hidden_layers: hidden layers of the MLP.
        backend: brax pipeline.
        reset_seed: the fixed start.
    """
    return _feet_task("walker2d", "brax-walker2d-uni", genotype_dim, episode_steps,
                      hidden_layers, backend, reset_seed)  # fmt: skip
