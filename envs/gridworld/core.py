"""MiniGrid-like environments: state, dynamics and observations.

Dynamics follow Farama MiniGrid's ``MiniGridEnv.step``: the same seven
actions, the same rules for moving, picking up, dropping and toggling, the
reward ``1 - 0.9 * step_count / max_steps`` on reaching the goal, and the
same egocentric, occluded 7x7 view encoded as ``(object, color, state)``.
Subclasses only generate levels.
"""

import copy
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from jaxrl import threefry
from jaxrl.batched_reset import injection_pending, take_injected_reset
from jaxrl.envs.gridworld import constants as C
from jaxrl.envs.gridworld import missions, render
from jaxrl.envs.gridworld.view import egocentric_view, line_of_sight

# Observation modes: Farama's default egocentric view, and its FullyObsWrapper,
# RGBImgPartialObsWrapper and RGBImgObsWrapper.
OBSERVATION_MODES = ("view", "full", "rgb", "rgb_full")


@struct.dataclass
class GridState(environment.EnvState):
    """One gridworld episode in progress.

    ``time`` () int32 is the step count, as Farama's ``step_count``.
    """

    grid: jax.Array  # (W, H, 3) uint8, (object, color, state) per cell, [x, y]
    agent_pos: jax.Array  # (2,) int32, (x, y)
    agent_dir: jax.Array  # () int32, 0 right, 1 down, 2 left, 3 up
    carrying: jax.Array  # (3,) uint8 encoded carried object; EMPTY_CELL if none
    mission: jax.Array  # () int32 index into missions.MISSIONS
    marks: jax.Array  # (K, 2) int32 task-specific cells (doors, targets...)


@struct.dataclass
class GridParams(environment.EnvParams):
    """Per-episode parameters; every field may be vmapped."""

    max_steps_in_episode: int = 100  # traced: truncation and reward scale
    # traced: the goal pays 1 - time_penalty * steps / max_steps_in_episode;
    # Farama's 0.9, or 0.0 for NAVIX's flat reward of 1
    time_penalty: float = 0.9


_NO_MARKS = np.zeros((0, 2), np.int32)


class Level(NamedTuple):
    """A generated level, before the episode starts.

    ``mission`` indexes :data:`missions.MISSIONS`; ``marks`` are the cells a
    task's rules refer to (for example the door that must be opened), ``(K, 2)``
    int32 with ``K`` fixed per task.
    """

    grid: jax.Array  # (W, H, 3) uint8
    agent_pos: jax.Array  # (2,) int32
    agent_dir: jax.Array  # () int32
    mission: jax.Array = np.int32(0)  # () int32
    marks: jax.Array = _NO_MARKS  # (K, 2) int32


class Observation(NamedTuple):
    """Farama MiniGrid's observation, the mission as an integer."""

    image: jax.Array  # (V, V, 3) uint8, [i, j] as Farama's obs["image"]
    direction: jax.Array  # () int32, Farama's obs["direction"]
    mission: jax.Array | None  # () int32 index into missions.MISSIONS, or None


# NumPy, not jnp: a jnp constant would start a JAX backend at import time.
_EMPTY = np.asarray(C.EMPTY_CELL, np.uint8)
_WALL = np.asarray(C.WALL_CELL, np.uint8)


def success_reward(
    time: jax.Array, max_steps: jax.Array, time_penalty: jax.Array = 0.9
) -> jax.Array:
    """Farama's ``_reward()``: () float32 ``1 - time_penalty * time /
    max_steps``, with Farama's ``time_penalty`` of 0.9 by default."""
    progress = time.astype(jnp.float32) / jnp.asarray(max_steps, jnp.float32)
    penalty = jnp.asarray(time_penalty, jnp.float32)
    return (1.0 - penalty * progress).astype(jnp.float32)


def goal_reward(time: jax.Array, params: "GridParams") -> jax.Array:
    """:func:`success_reward` with ``params``' step limit and time penalty."""
    return success_reward(time, params.max_steps_in_episode, params.time_penalty)


def check_action(action, num_actions: int) -> None:
    """Refuse, when tracing, an action that is not a () integer.

    Raises:
        TypeError: naming ``action``, the expected and the given shape/dtype.
    """
    shape, dtype = jnp.shape(action), jnp.result_type(action)
    if shape != () or not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(
            f"action must be a () integer array in [0, {num_actions}), got shape "
            f"{shape} dtype {dtype}"
        )


def on_goal(state: GridState) -> jax.Array:
    """() bool: the agent stands on the goal, which under the base rules
    happens only on the step that reaches it and ends the episode."""
    return state.grid[state.agent_pos[0], state.agent_pos[1], 0] == C.GOAL


def box_contents(cell: jax.Array) -> jax.Array:
    """``(3,)`` uint8 object inside a box cell (its state byte), empty if none."""
    code = cell[2]
    inside = jnp.stack([code >> 4, code & 15, jnp.uint8(0)]).astype(jnp.uint8)
    return jnp.where(code == 0, _EMPTY, inside)


def as_seen(cells: jax.Array) -> jax.Array:
    """Cells ``(..., 3)`` as Farama encodes them: a box's contents are hidden
    (its state byte, which holds them here, reads 0)."""
    hidden = (cells[..., 0] == C.BOX)[..., None] & (jnp.arange(3) == 2)
    return jnp.where(hidden, jnp.uint8(0), cells)


def transition(
    state: GridState,
    action: jax.Array,
    max_steps: jax.Array,
    time_penalty: jax.Array = 0.9,
) -> tuple[GridState, jax.Array, jax.Array]:
    """Farama MiniGrid's ``step`` rules, without observation or time limit.

    Args:
        state: the state before the action.
        action: () int in ``[0, 7)``: left, right, forward, pickup, drop,
            toggle, done.
        max_steps: () episode step limit, which scales the goal reward.
        time_penalty: () the share of the goal reward lost by the step limit.

    Returns:
        ``(next_state, reward, terminated)``; reward () float32 is
        ``1 - 0.9 * step_count / max_steps`` on stepping onto the goal, else 0;
        terminated () bool on stepping onto the goal or lava.
    """
    grid, pos, carried = state.grid, state.agent_pos, state.carrying
    width, height = grid.shape[0], grid.shape[1]
    action = jnp.asarray(action, jnp.int32)
    time = state.time + 1

    front = pos + jnp.asarray(C.DIR_TO_VEC)[state.agent_dir]
    inside = (
        (front[0] >= 0) & (front[0] < width) & (front[1] >= 0) & (front[1] < height)
    )
    fx = jnp.clip(front[0], 0, width - 1)
    fy = jnp.clip(front[1], 0, height - 1)
    stored = grid[fx, fy]
    cell = jnp.where(inside, stored, _WALL)
    obj, color, door_state = cell[0], cell[1], cell[2]
    is_carrying = carried[0] != C.EMPTY

    turn = jnp.where(action == C.LEFT, -1, jnp.where(action == C.RIGHT, 1, 0))
    agent_dir = (state.agent_dir + turn) % 4

    forward = action == C.FORWARD
    is_open_door = (obj == C.DOOR) & (door_state == C.OPEN)
    can_overlap = (
        (obj == C.EMPTY) | (obj == C.GOAL) | (obj == C.LAVA) | (obj == C.FLOOR)
    ) | is_open_door
    agent_pos = jnp.where(forward & can_overlap, front, pos)
    reached_goal = forward & (obj == C.GOAL)
    terminated = reached_goal | (forward & (obj == C.LAVA))
    reward = jnp.where(reached_goal, success_reward(time, max_steps, time_penalty), 0.0)

    can_pickup = (obj == C.KEY) | (obj == C.BALL) | (obj == C.BOX)
    picks = (action == C.PICKUP) & can_pickup & ~is_carrying
    drops = (action == C.DROP) & (obj == C.EMPTY) & is_carrying
    toggles_door = (action == C.TOGGLE) & (obj == C.DOOR)
    opens_box = (action == C.TOGGLE) & (obj == C.BOX)
    holds_key = is_carrying & (carried[0] == C.KEY) & (carried[1] == color)
    unlocked = jnp.where(holds_key, C.OPEN, C.LOCKED)
    flipped = jnp.where(door_state == C.OPEN, C.CLOSED, C.OPEN)
    new_door_state = jnp.where(door_state == C.LOCKED, unlocked, flipped)
    toggled = cell.at[2].set(new_door_state.astype(jnp.uint8))

    new_cell = jnp.where(picks, _EMPTY, jnp.where(drops, carried, cell))
    new_cell = jnp.where(toggles_door, toggled, new_cell)
    new_cell = jnp.where(opens_box, box_contents(cell), new_cell)
    grid = grid.at[fx, fy].set(jnp.where(inside, new_cell, stored))
    carrying = jnp.where(picks, cell, jnp.where(drops, _EMPTY, carried))

    next_state = state.replace(
        time=time, grid=grid, agent_pos=agent_pos, agent_dir=agent_dir,
        carrying=carrying,
    )  # fmt: skip
    return next_state, reward, terminated


def full_grid_image(state: GridState) -> jax.Array:
    """Farama's ``FullyObsWrapper`` image: ``(W, H, 3)`` uint8, the whole grid
    encoded, the agent's cell ``(AGENT, RED, direction)``."""
    agent = jnp.stack([jnp.int32(C.AGENT), jnp.int32(C.RED), state.agent_dir])
    grid = as_seen(state.grid)
    return grid.at[state.agent_pos[0], state.agent_pos[1]].set(agent.astype(jnp.uint8))


def observe_image(state: GridState, view_size: int, see_through_walls: bool):
    """Farama's ``gen_obs()["image"]``: ``(V, V, 3)`` uint8 egocentric view,
    unseen cells ``(0, 0, 0)``, the carried object (or empty) at the agent's
    own cell ``(V // 2, V - 1)``."""
    view = egocentric_view(state.grid, state.agent_pos, state.agent_dir, view_size)
    if see_through_walls:
        image = view
    else:
        obj, door_state = view[..., 0], view[..., 2]
        closed_door = (obj == C.DOOR) & (door_state != C.OPEN)
        visible = line_of_sight((obj != C.WALL) & ~closed_door)
        image = jnp.where(visible[..., None], view, jnp.uint8(0))
    image = image.at[view_size // 2, view_size - 1].set(state.carrying)
    return as_seen(image)


class MiniGridEnv(environment.Environment[GridState, GridParams]):
    """Base class of the gridworld tasks: Farama MiniGrid's dynamics and view.

    Observation: :class:`Observation` with ``image`` ``(V, V, 3)`` uint8 (the
        egocentric view, Farama's encoding) and ``direction`` () int32.
    Action: ``Discrete(7)``: left, right, forward, pickup, drop, toggle, done.
    Reward: ``1 - 0.9 * step_count / max_steps`` on reaching the goal, else 0.
    Termination: stepping onto the goal (or lava).
    Truncation: ``step_count >= params.max_steps_in_episode``.
    Info: ``info["success"]`` () bool is True on the step that ends the
        episode with the task solved (the goal reached, the right object
        picked up, ...: see :meth:`task_rules`), besides gymnax's keys.
    State: :class:`GridState`.
    Static args: ``width``, ``height``, ``view_size`` (odd, >= 3),
        ``see_through_walls``.
    Params: :class:`GridParams`.

    Subclasses implement :meth:`generate`.
    """

    # The keywords jaxrl.make accepts besides constructor arguments and params
    # fields; it hands them to with_options.
    make_options = ("observation", "tile_size", "mission")
    render_fps = 10  # Farama MiniGrid's metadata["render_fps"]

    def __init__(
        self,
        width: int,
        height: int,
        max_steps: int,
        view_size: int = 7,
        see_through_walls: bool = False,
    ):
        for name, value, low in (("width", width, 3), ("height", height, 3)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if not isinstance(view_size, int) or view_size < 3 or view_size % 2 == 0:
            raise ValueError(f"view_size must be an odd int >= 3, got {view_size!r}")
        if view_size > 31:
            raise ValueError(f"view_size must be at most 31, got {view_size}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an int >= 1, got {max_steps!r}")
        self.width = width  # static: shapes depend on it
        self.height = height  # static
        self.max_steps = max_steps  # default for params.max_steps_in_episode
        self.view_size = view_size  # static
        self.see_through_walls = see_through_walls  # static: changes the graph
        self.observation_mode = "view"  # static; see with_observation
        self.tile_size = 8  # static, pixels per cell in the RGB modes
        self.include_mission = True  # static; see with_observation

    def with_observation(
        self, observation: str = "view", tile_size: int = 8, mission: bool = True
    ):
        """A copy of this environment that observes in another mode.

        Args:
            observation: ``"view"`` (default: the egocentric ``(V, V, 3)`` encoded
                view), ``"full"`` (the whole grid encoded, ``(W, H, 3)``, the
                agent as ``(AGENT, RED, direction)``: Farama's
                ``FullyObsWrapper``), ``"rgb"`` (the view drawn,
                ``(V * t, V * t, 3)`` uint8: ``RGBImgPartialObsWrapper``) or
                ``"rgb_full"`` (the whole grid drawn with the agent and its
                view highlighted, ``(H * t, W * t, 3)``: ``RGBImgObsWrapper``).
            tile_size: pixels per cell ``t`` in the RGB modes (Farama uses 8
                for the view and 32 for pictures).
            mission: keep the mission index in the observation; with False
                ``obs.mission`` is ``None`` (an empty pytree leaf) and the
                space has no ``"mission"``.

        ``make(env_id, observation=..., tile_size=..., mission=...)`` does the
        same.
        """
        if not isinstance(mission, bool):
            raise TypeError(f"mission must be True or False, got {mission!r}")
        if observation not in OBSERVATION_MODES:
            raise ValueError(
                f"observation must be one of {list(OBSERVATION_MODES)}, "
                f"got {observation!r}"
            )
        tile_size = render.check_tile_size(tile_size)
        env = copy.copy(self)
        env.observation_mode, env.tile_size = observation, tile_size
        env.include_mission = mission
        return env

    def with_options(self, **options):
        """What ``jaxrl.make`` calls with the :attr:`make_options` it was given:
        :meth:`with_observation`."""
        return self.with_observation(**options)

    def render_rgb(
        self, state: GridState, params: GridParams | None = None, tile_size: int = 32
    ) -> jax.Array:
        """The whole grid drawn as Farama's ``render()`` draws it.

        Args:
            state: the state to draw (not batched; ``jax.vmap`` for a batch).
            params: unused; the picture depends on the state only.
            tile_size: pixels per cell ``t``; 32 is Farama's default.

        Returns:
            ``(H * t, W * t, 3)`` uint8, the cells the agent sees highlighted.
        """
        del params
        seen = render.visible_cells(state, self.view_size, self.see_through_walls)
        return render.render_state(state, tile_size, highlight=seen)

    def generate(self, key: jax.Array, params: GridParams) -> Level:
        """Sample a level from the task's distribution."""
        raise NotImplementedError

    @property
    def default_params(self) -> GridParams:
        return GridParams(max_steps_in_episode=self.max_steps)

    def initial_state(self, key: jax.Array, params: GridParams) -> GridState:
        """A fresh episode's state on a newly sampled level."""
        return self.start(self.generate(key, params))

    def initial_states(self, key: jax.Array, count: int, params: GridParams):
        """``count`` independent :meth:`initial_state` draws, leaves
        ``(count, ...)``: what the optimistic reset restocks with. Tasks whose
        generation rejects draws override it to pool tries across the batch.
        """
        keys = threefry.split(key, count)  # jax.random.split's keys, unrolled
        return jax.vmap(self.initial_state, in_axes=(0, None))(keys, params)

    def start(self, level: Level) -> GridState:
        """The state of an episode starting on ``level``."""
        # jnp.asarray: levels may hold NumPy constants; state leaves are arrays
        return GridState(
            time=jnp.int32(0),
            grid=jnp.asarray(level.grid, jnp.uint8),
            agent_pos=jnp.asarray(level.agent_pos, jnp.int32),
            agent_dir=jnp.asarray(level.agent_dir, jnp.int32),
            carrying=jnp.asarray(_EMPTY),
            mission=jnp.asarray(level.mission, jnp.int32),
            marks=jnp.asarray(level.marks, jnp.int32),
        )

    def reset(self, key, params=None):
        """gymnax's (jitted) ``reset``; inside a batched reset that hands over
        levels drawn in bulk, ``reset_env`` unjitted (a jitted function's
        cache would keep the first handed-over level)."""
        if not injection_pending():
            return super().reset(key, params)
        return self.reset_env(key, self.default_params if params is None else params)

    def reset_env(self, key, params):
        state = take_injected_reset()  # a batched reset's level, drawn in bulk
        if state is None:
            state = self.initial_state(key, params)
        return self.observe(key, state, None, params), state

    def task_rules(
        self,
        before: GridState,
        action: jax.Array,
        after: GridState,
        reward: jax.Array,
        terminated: jax.Array,
        params: GridParams,
    ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """The task's own success and failure rules, applied after each move.

        Farama tasks such as Unlock or Fetch override ``step`` to change the
        reward and termination once the move is made; here they override this.
        The default keeps the base rules (goal and lava).

        Returns:
            ``(reward () float32, terminated () bool, success () bool)``:
            ``success`` is the task's own success condition, met on the step
            that gives the success reward and ends the episode. Reaching the
            goal is success in every task (the base rules reward it and end
            the episode), so the default returns False and overrides need
            not include it.
        """
        del before, action, after, params
        return reward, terminated, jnp.zeros((), jnp.bool_)

    def step_env(self, key, state, action, params):
        """Farama's step: ``action`` is a () integer in ``[0, 7)``.

        A wrong shape or a non-integer dtype is refused when tracing. An
        integer outside ``[0, 7)`` cannot raise under ``jit``: it moves
        nothing and takes one step of time (``jaxrl.checked(env)`` turns it
        into an error under ``checkify``).
        """
        del key
        check_action(action, self.num_actions)
        stepped, reward, terminated = transition(
            state, action, params.max_steps_in_episode, params.time_penalty
        )
        reward, terminated, success = self.task_rules(
            state, action, stepped, reward, terminated, params
        )
        success = (success | on_goal(stepped)) & terminated
        obs = self.observe(None, stepped, action, params)
        return obs, stepped, reward, terminated, {"success": success}

    def step(self, key, state, action, params=None):
        """gymnax's ``step`` (same-step auto-reset), observing once.

        gymnax's default builds the observation of the stepped state and of a
        fresh reset, then selects one; under ``vmap`` both always run. Here the
        state is selected first and observed once, which gives identical
        outputs for less work. ``info["final_observation"]`` is
        ``step_env``'s observation (XLA drops it when unused), so subclasses
        change the dynamics by overriding ``step_env`` as in gymnax.

        Not jitted here (gymnax's base ``step`` is): the caller jits, usually
        around a whole rollout, and a method jitted with ``self`` static would
        hash the environment on every call and retrace for every copy.
        """
        if params is None:
            params = self.default_params
        # jax.random.split(key)'s two keys, without XLA:CPU's hash loop
        key_step, key_reset = threefry.split(key)
        reached, stepped, reward, terminated, info = self.step_env(
            key_step, state, action, params
        )
        truncated = self.is_truncated(stepped, params)
        done = terminated | truncated
        fresh = take_injected_reset()
        if fresh is None:
            fresh = self.initial_state(key_reset, params)
        next_state = jax.tree.map(
            lambda new, old: jax.lax.select(done, new, old), fresh, stepped
        )
        info = {
            **info,
            "terminated": terminated,
            "truncated": truncated,
            "final_observation": reached,
        }
        obs = self.observe(None, next_state, action, params)
        return obs, next_state, reward, terminated, truncated, info

    # OptimisticReset hands step the state of the next episode, drawn ahead.
    takes_injected_reset = True

    # This step returns what gymnax's Environment.step would (step_env, the
    # time limit, same-step auto-reset), so an adapter may call step_env and
    # is_truncated itself. A subclass overriding step is not covered.
    gymnax_equivalent_step = step

    def observe(self, key, state, action, params) -> Observation:
        del key, action, params
        mode, tile = self.observation_mode, self.tile_size
        if mode == "full":
            image = full_grid_image(state)
        elif mode == "rgb_full":
            image = self.render_rgb(state, tile_size=tile)
        else:
            image = observe_image(state, self.view_size, self.see_through_walls)
            if mode == "rgb":
                image = render.render_view(image, tile)
        mission = state.mission if self.include_mission else None
        return Observation(image, state.agent_dir, mission)

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def num_actions(self) -> int:
        return C.NUM_ACTIONS

    def action_space(self, params=None) -> spaces.Discrete:
        return spaces.Discrete(C.NUM_ACTIONS)

    def observation_space(self, params=None) -> spaces.Dict:
        v, t, mode = self.view_size, self.tile_size, self.observation_mode
        if mode == "rgb":
            image = spaces.Box(0, 255, (v * t, v * t, 3), jnp.uint8)
        elif mode == "rgb_full":
            image = spaces.Box(0, 255, (self.height * t, self.width * t, 3), jnp.uint8)
        else:
            # the full grid shows the agent (code 10) with its direction (<= 3)
            states = C.NUM_STATES if mode == "view" else 4
            high = jnp.asarray([C.NUM_OBJECTS - 1, C.NUM_COLORS - 1, states - 1])
            shape = (v, v, 3) if mode == "view" else (self.width, self.height, 3)
            image = spaces.Box(0, high, shape, jnp.uint8)
        fields = {"image": image, "direction": spaces.Discrete(4)}
        if self.include_mission:
            fields["mission"] = spaces.Discrete(missions.NUM_MISSIONS)
        return spaces.Dict(fields)
