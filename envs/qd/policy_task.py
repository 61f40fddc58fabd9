"""Policy-search QD tasks built from any gymnax environment.

:func:`policy_task` turns an environment into a :class:`~jaxrl.envs.qd.Task`:
a genotype is the flat weight vector of a small fixed-topology MLP policy,
scored by one deterministic episode of ``episode_steps`` steps through
the engine's shared rollout (:func:`jaxrl.rollout.rollout` on a
:class:`jaxrl.rollout.FixedStart` batch: one start, the same step key for
every genotype, no reset). The fitness is the episode's return (rewards after the step
that ends the episode are masked out); the descriptor is a reduction over
the episode of a small per-step quantity read from each state reached (the
robot's position, which feet touch the ground). This is the scheme of QDax's
brax tasks (``qdax/tasks/brax``: one rollout per policy, a mask after the
first ``done``, a "state descriptor" each step reduced to the final value or
the mean over the episode).

Two departures from QDax, both so that an episode is exact and cheap:

- the environment is stepped with its non-resetting ``step_env`` (the
  gymnax transition without auto-reset), so the state recorded for the step
  that ends the episode is the one reached, not a fresh reset; QDax records
  the state each action was taken in, so its last one is one step earlier;
- the per-step quantity is read from the states *reached* by steps 1..T
  (QDax's from the states acted in, 0..T-1).

The registered gridworld task :func:`gridworld_final_position` lives here;
the brax locomotion tasks are in :mod:`jaxrl.envs.qd.brax_tasks`.
"""

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from gymnax.environments import environment, spaces

from jaxrl.envs.qd.base import Task
from jaxrl.rollout import FixedStart, rollout

# each extras["observation"] keeps every 10th step's state descriptor, as
# AURORA's example subsamples its trajectories (see the hard maze)
OBSERVATION_STRIDE = 10
_MAX_HIDDEN = 4096  # widest hidden layer the genotype size is matched against


def mlp_num_params(
    num_inputs: int, num_outputs: int, hidden: int, hidden_layers: int = 1
) -> int:
    """Genes of an MLP with ``hidden_layers`` layers of ``hidden`` units.

    Each layer is a weight matrix and a bias vector:
    ``(num_inputs + 1) h + (hidden_layers - 1) (h + 1) h + (h + 1) num_outputs``.
    """
    first = (num_inputs + 1) * hidden
    middle = (hidden_layers - 1) * (hidden + 1) * hidden
    return first + middle + (hidden + 1) * num_outputs


def hidden_width(
    genotype_dim: int,
    num_inputs: int,
    num_outputs: int,
    hidden_layers: int = 1,
    name: str = "policy task",
) -> int:
    """The hidden width ``h`` whose MLP has exactly ``genotype_dim`` genes.

    Raises:
        ValueError: no width fits; the message lists the sizes that do.
    """
    is_int = isinstance(genotype_dim, int) and not isinstance(genotype_dim, bool)
    sizes = {}
    for hidden in range(1, _MAX_HIDDEN + 1):
        size = mlp_num_params(num_inputs, num_outputs, hidden, hidden_layers)
        sizes[size] = hidden
        if is_int and size >= genotype_dim:
            break
    if is_int and genotype_dim in sizes:
        return sizes[genotype_dim]
    listed = ", ".join(
        f"{mlp_num_params(num_inputs, num_outputs, h, hidden_layers)} (h={h})"
        for h in (1, 2, 3, 4, 8, 16, 32, 64)
    )
    raise ValueError(
        f"{name} genotype_dim must be the size of an MLP {num_inputs} -> "
        f"{hidden_layers} x h -> {num_outputs} with biases, "
        f"{mlp_num_params(num_inputs, num_outputs, 1, hidden_layers)} genes for "
        f"h=1, ...: {listed}, ...; got {genotype_dim!r}"
    )


def mlp_apply(genotype: jax.Array, x: jax.Array, hidden: int, hidden_layers: int):
    """The policy network: ``x`` ``(I,)`` -> outputs ``(O,)`` (no output squash).

    ``genotype`` is ``[W1.ravel(), b1, W2.ravel(), b2, ...]`` with ``W1``
    ``(I, h)``, the middle layers ``(h, h)`` and the last ``(h, O)``; hidden
    units are tanh (the hard maze's controller; QDax's brax MLPs use relu).
    """
    num_inputs = x.shape[-1]
    rest = genotype.shape[-1] - mlp_num_params(num_inputs, 0, hidden, hidden_layers)
    num_outputs = rest // (hidden + 1)
    shapes = [(num_inputs, hidden)] + [(hidden, hidden)] * (hidden_layers - 1)
    shapes.append((hidden, num_outputs))
    offset = 0
    for i, (rows, cols) in enumerate(shapes):
        w = genotype[offset : offset + rows * cols].reshape(rows, cols)
        offset += rows * cols
        b = genotype[offset : offset + cols]
        offset += cols
        x = x @ w + b
        if i < len(shapes) - 1:
            x = jnp.tanh(x)
    return x


def flatten_obs(obs: Any) -> jax.Array:
    """Every leaf of an observation, raveled and cast to float32, one vector."""
    leaves = jax.tree.leaves(obs)
    return jnp.concatenate([jnp.ravel(leaf).astype(jnp.float32) for leaf in leaves])


def final_value(values: jax.Array, alive: jax.Array) -> jax.Array:
    """The per-step values ``(T, K)`` at the episode's last step ``(K,)``."""
    last = jnp.sum(alive.astype(jnp.int32)) - 1
    return values[last]


def mean_value(values: jax.Array, alive: jax.Array) -> jax.Array:
    """The per-step values ``(T, K)`` averaged over the episode's steps ``(K,)``
    (QDax's feet-contact proportion when the values are 0/1 contacts)."""
    kept = jnp.where(alive[:, None], values, 0.0)
    return jnp.sum(kept, 0) / jnp.maximum(jnp.sum(alive), 1)


def _check_env(env, env_params, episode_steps: int, hidden_layers: int, name: str):
    if hasattr(env, "_env"):
        raise TypeError(
            f"{name}: env must be an unwrapped gymnax environment (episodes are "
            "stepped with its step_env, which a wrapper does not pass through), "
            f"got the wrapper {type(env).__name__}"
        )
    step_env = getattr(type(env), "step_env", None)
    if step_env is None or step_env is environment.Environment.step_env:
        raise TypeError(
            f"{name}: env must implement gymnax's step_env (the transition "
            f"without auto-reset); {type(env).__name__} does not (for brax, "
            "use jaxrl.envs.qd.brax_tasks.BraxTransitions)"
        )
    for field, value in (("episode_steps", episode_steps),
                         ("hidden_layers", hidden_layers)):  # fmt: skip
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}: {field} must be an int >= 1, got {value!r}")
    limit = getattr(env_params, "max_steps_in_episode", None)
    if isinstance(limit, int) and episode_steps > limit:
        raise ValueError(
            f"{name}: episode_steps ({episode_steps}) must not exceed the "
            f"environment's max_steps_in_episode ({limit})"
        )


def _action_fn(space) -> tuple[int, Callable[[jax.Array], jax.Array]]:
    """The policy's output size and its map from outputs to an action."""
    if isinstance(space, spaces.Discrete):
        return int(space.n), lambda out: jnp.argmax(out).astype(jnp.int32)
    if isinstance(space, spaces.Box):
        low = jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), space.shape)
        high = jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), space.shape)
        if not (jnp.all(jnp.isfinite(low)) and jnp.all(jnp.isfinite(high))):
            raise ValueError("policy_task needs a bounded Box action space")
        size = int(jnp.size(low))

        def squash(out):
            unit = (jnp.tanh(out.reshape(space.shape)) + 1.0) / 2.0
            return (low + unit * (high - low)).astype(space.dtype)

        return size, squash
    raise TypeError(
        f"policy_task supports Discrete and bounded Box action spaces, got "
        f"{type(space).__name__}"
    )


def _num_inputs(env, env_params, obs_fn, key, name: str) -> int:
    """The policy's input size, from the observation space where it is a Box
    fed as is (tracing a brax reset takes seconds), else from a traced
    reset."""
    space = env.observation_space(env_params)
    if obs_fn is flatten_obs and isinstance(space, spaces.Box):
        return math.prod(space.shape)
    shape = jax.eval_shape(lambda k: obs_fn(env.reset(k, env_params)[0]), key).shape
    if len(shape) != 1:
        raise ValueError(f"{name}: obs_fn must give a vector, got shape {shape}")
    return shape[0]


def policy_task(
    env,
    env_params,
    *,
    name: str,
    genotype_dim: int,
    state_descriptor: Callable[[Any, dict], jax.Array],
    descriptor_fn: Callable[[jax.Array, jax.Array], jax.Array],
    descriptor_low: tuple[float, ...],
    descriptor_high: tuple[float, ...],
    episode_steps: int = 100,
    hidden_layers: int = 1,
    init_bounds: tuple[float, float] = (-1.0, 1.0),
    reward_fn: Callable[[jax.Array, dict], jax.Array] | None = None,
    solved_fn: Callable[[jax.Array], jax.Array] | None = None,
    obs_fn: Callable[[Any], jax.Array] = flatten_obs,
    min_fitness: float | None = None,
    reset_seed: int = 0,
) -> Task:
    """A gymnax environment as a QD task: neuroevolution of an MLP policy.

    Each genotype is the flat weight vector of an MLP (:func:`mlp_apply`)
    from ``obs_fn(obs)`` through ``hidden_layers`` tanh layers of ``h``
    units, ``h`` chosen so that the MLP has ``genotype_dim`` genes. Discrete
    actions are the argmax of the outputs; a Box action is ``tanh`` of the
    outputs scaled to the box. Every genotype plays one episode from the same
    start (reset and step keys come from ``reset_seed``, so the score is a
    function of the genotype alone, and the score key is unused): exactly
    ``episode_steps`` non-resetting steps, the episode ending at the first
    ``terminated`` or at the last step.

    Args:
        env: an unwrapped gymnax environment with ``step_env``.
        env_params: its params.
        name: the task's id.
        genotype_dim: the MLP's size (:func:`hidden_width` lists the sizes).
        state_descriptor: ``(state, info) -> (K',)`` float32, read from every
            state reached.
        descriptor_fn: ``(values (T, K'), alive (T,)) -> (K,)``; ``alive`` is
            True up to and including the step that ends the episode
            (:func:`final_value`, :func:`mean_value`).
        descriptor_low, descriptor_high: the descriptor box.
        episode_steps: ``T``, at most ``env_params.max_steps_in_episode``.
        hidden_layers: number of hidden layers (QDax's brax MLPs have two).
        init_bounds: where first genotypes are drawn (genes are unbounded).
        reward_fn: ``(reward, info) -> reward`` replacing the environment's
            reward in the fitness; None keeps the reward.
        solved_fn: ``episode_return -> bool``; when given, ``extras`` has
            ``"is_solved"`` ``(N,)``.
        obs_fn: observation -> ``(I,)`` float32 policy input.
        min_fitness: a lower bound on the fitness, or None.
        reset_seed: seed of the fixed start and step keys.

    Returns:
        The :class:`Task`. Its ``extras`` hold ``"observation"`` ``(N,
        K' T / 10)``: the per-step values after steps 10, 20, ... (held at
        their last value once the episode has ended), flattened.

    Raises:
        ValueError, TypeError: a bad argument, before any compilation.
    """
    _check_env(env, env_params, episode_steps, hidden_layers, name)
    num_outputs, to_action = _action_fn(env.action_space(env_params))
    k_reset, k_steps = jax.random.split(jax.random.key(reset_seed))
    num_inputs = _num_inputs(env, env_params, obs_fn, k_reset, name)
    hidden = hidden_width(genotype_dim, num_inputs, num_outputs, hidden_layers, name)
    reward_fn = reward_fn or (lambda reward, info: reward)

    def record(reward, state, info):
        value = jnp.asarray(state_descriptor(state, info), jnp.float32)
        return reward_fn(reward, info), value

    def score(genotypes, key=None):
        del key  # one deterministic episode a genotype
        genotypes = jnp.asarray(genotypes, jnp.float32)
        stepper = FixedStart(env, genotypes.shape[0], record)
        obs, state = stepper.reset(k_reset, env_params)

        def policy(_, obs):
            def act(genotype, obs):
                out = mlp_apply(genotype, obs_fn(obs), hidden, hidden_layers)
                return to_action(out)

            return jax.vmap(act)(genotypes, obs), None

        _, steps = rollout(
            stepper, env_params, policy, (state, obs, k_steps), episode_steps
        )
        rewards, values = steps.info["record"]  # (T, B), (T, B, K')
        # alive up to and including the step that ends the episode
        alive = jnp.cumsum(steps.terminated, axis=0) - steps.terminated == 0
        returns = jnp.sum(jnp.where(alive, rewards, 0.0), axis=0).astype(jnp.float32)
        alive, values = alive.T, jnp.swapaxes(values, 0, 1)
        descriptors = jax.vmap(descriptor_fn)(values, alive)
        # after the end, hold the last value so the observation stays finite
        held = jax.vmap(lambda v, a: jnp.where(a[:, None], v, final_value(v, a)))(
            values, alive
        )
        points = held[:, OBSERVATION_STRIDE - 1 :: OBSERVATION_STRIDE]
        extras = {"observation": points.reshape(points.shape[0], -1)}
        if solved_fn is not None:
            extras["is_solved"] = jax.vmap(solved_fn)(returns)
        return returns, descriptors.astype(jnp.float32), extras

    return Task(
        name=name,
        score_fn=score,
        genotype_dim=genotype_dim,
        descriptor_low=tuple(descriptor_low),
        descriptor_high=tuple(descriptor_high),
        genotype_bounds=None,
        init_bounds=init_bounds,
        min_fitness=min_fitness,
    )


def gridworld_final_position(
    genotype_dim: int = mlp_num_params(151, 7, 8),
    env_id: str = "FourRooms",
    episode_steps: int = 100,
    hidden_layers: int = 1,
    reset_seed: int = 0,
) -> Task:
    """A sparse gridworld as a QD task: where does the policy end up?

    The policy sees the 7 x 7 x 3 egocentric view (ids divided by 10) and
    the one-hot direction, 151 inputs, and picks the argmax of 7 logits. One
    level (the reset of ``reset_seed``: FourRooms' walls, gaps, start and
    goal), one episode.

    - Fitness: the episode return (MiniGrid's ``1 - 0.9 t / max_steps`` on
      reaching the goal, else 0).
    - Descriptor: the agent's final (x, y), each divided by the grid's size
      minus 1, so in [0, 1]^2.
    - ``extras["is_solved"]``: return > 0.

    CPU-small defaults: FourRooms' whole episode (100 steps, MiniGrid's
    limit), one hidden layer of 8 (1,279 genes). A GPU setting: two hidden
    layers of 64 (``hidden_layers=2, genotype_dim=14343``) and batches of
    thousands, or a larger level with a longer limit (``env_id="DoorKey-8x8",
    episode_steps=640``).

    Args:
        genotype_dim: the MLP's size: ``159 h + 7`` for one hidden layer of
            ``h`` (166, 325, ..., 1279 for h=8, the default).
        env_id: a ``jaxrl.make`` gridworld id with a sparse reward
            (``"FourRooms"``, ``"DoorKey-5x5"``...).
        episode_steps: steps an episode (at most the gridworld's limit).
        hidden_layers: hidden layers of the MLP.
        reset_seed: the level and the step keys.

    Raises:
        ValueError: a bad genotype size (the message lists valid ones).
    """
    from jaxrl.registry import make

    env, params = make(env_id)
    size = jax.eval_shape(lambda k: env.reset(k, params)[1], jax.random.key(0))
    scale = jnp.asarray(size.grid.shape[:2], jnp.float32) - 1.0

    def position(state, info):
        return state.agent_pos.astype(jnp.float32) / scale

    def inputs(obs):
        # object, colour and state ids are at most 10: scaled into [0, 1]
        view = jnp.ravel(obs.image).astype(jnp.float32) / 10.0
        return jnp.concatenate([view, jax.nn.one_hot(obs.direction, 4)])

    return policy_task(
        env,
        params,
        name="gridworld-final-position",
        genotype_dim=genotype_dim,
        state_descriptor=position,
        descriptor_fn=final_value,
        descriptor_low=(0.0, 0.0),
        descriptor_high=(1.0, 1.0),
        episode_steps=episode_steps,
        hidden_layers=hidden_layers,
        init_bounds=(-1.0, 1.0),
        solved_fn=lambda episode_return: episode_return > 0,
        obs_fn=inputs,
        min_fitness=0.0,
        reset_seed=reset_seed,
    )
