"""The deceptive hard maze of novelty search, as an environment and a QD task.

Lehman & Stanley (2011, Evol. Comput. 19(2)) steer a disc robot with
rangefinders and a goal radar through a maze whose straight line to the exit
ends in a dead end, so fitness by distance to the exit deceives. Geometry,
sensors and motion follow the goNEAT_NS port of the original code
(``data/hard_maze.txt``, ``examples/maze/environment.go``):

- a 200 x 200 world: four border walls and seven inner walls
  (:data:`WALLS`); start (36, 184) heading 0 degrees, exit (31, 20);
- a robot of radius 8 with six rangefinders at -90, -45, 0, 45, 90 and -180
  degrees from its heading, range 100 (distance to the nearest wall the ray
  crosses, or 100), and four radar pie slices (315-45, 45-135, 135-225,
  225-315 degrees) of which the one holding the exit's bearing reads 1;
- each step, outputs ``o`` in [0, 1] change the angular velocity (degrees a
  step) and the speed by ``o - 0.5``, each clipped to [-3, 3]; the robot moves
  by its speed along its heading *before* the turn, and a move that would
  bring its centre within 8 of a wall is cancelled (the robot stays put, its
  speed kept); then the heading turns;
- 400 steps; solved when the centre comes within 5.0 of the exit, after which
  the robot stays where it is.

Departures from the port: its input vector writes the radar over the last
rangefinder (``inputs[i+j]`` where ``inputs[1+i+j]`` was meant); here the ten
readings are all kept. Fitness is ``max((d0 - d) / d0, 0.01)`` as the
project's fact sheet states (the port sets only values ``<= 0`` to 0.01).

Two ways in:

- :class:`HardMaze`, a gymnax environment with a sparse reward for RL;
- :func:`hard_maze`, the QD task ``"hard-maze"`` (``qd.make_task``): a
  genotype is the flat weight vector of a small MLP controller, scored by
  rolling it out for the whole episode.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from gymnax.environments import environment, spaces

from jaxrl.envs.qd.base import Task

# x0, y0, x1, y1 of each wall: the border, then the inner walls
WALLS = np.array(
    [
        [5, 5, 5, 200], [5, 200, 200, 200], [200, 200, 200, 5], [200, 5, 5, 5],
        [5, 49, 57, 53], [56, 54, 56, 157], [57, 106, 158, 162],
        [77, 200, 108, 164], [5, 80, 33, 121], [200, 146, 87, 91],
        [56, 55, 133, 30],
    ],
    np.float32,
)  # fmt: skip
START = (36.0, 184.0)
START_HEADING = 0.0  # degrees
EXIT = (31.0, 20.0)
WORLD_SIZE = 200.0
RADIUS = 8.0
RANGEFINDER_ANGLES = (-90.0, -45.0, 0.0, 45.0, 90.0, -180.0)  # degrees
RANGEFINDER_RANGE = 100.0
RADAR_SLICES = ((315.0, 405.0), (45.0, 135.0), (135.0, 225.0), (225.0, 315.0))
MAX_SPEED = 3.0  # bound on both speed and angular velocity
EXIT_RADIUS = 5.0
NUM_STEPS = 400
NUM_INPUTS = len(RANGEFINDER_ANGLES) + len(RADAR_SLICES)  # 10
INITIAL_DISTANCE = math.dist(START, EXIT)  # d0, about 164.08
MIN_FITNESS = 0.01
# the QD task's extras["observation"] keeps every 10th position of the path, as
# AURORA's example subsamples its trajectories (400 steps: 40 points, 80 values)
OBSERVATION_STRIDE = 10


@struct.dataclass
class Robot:
    """Where the robot is and how it moves (angles in degrees)."""

    pos: jax.Array  # (2,) float32
    heading: jax.Array  # () float32, in [0, 360)
    speed: jax.Array  # () float32, in [-3, 3]
    angular_velocity: jax.Array  # () float32, degrees a step, in [-3, 3]


def start_robot() -> Robot:
    """The robot at the start, at rest."""
    return Robot(
        pos=jnp.asarray(START, jnp.float32),
        heading=jnp.float32(START_HEADING),
        speed=jnp.float32(0.0),
        angular_velocity=jnp.float32(0.0),
    )


def wall_distance(pos: jax.Array) -> jax.Array:
    """Distance from ``pos`` (2,) to the nearest point of any wall, ()."""
    a, b = jnp.asarray(WALLS[:, :2]), jnp.asarray(WALLS[:, 2:])
    ab = b - a
    u = jnp.sum((pos - a) * ab, -1) / jnp.sum(ab * ab, -1)
    nearest = a + jnp.clip(u, 0.0, 1.0)[:, None] * ab
    return jnp.min(jnp.linalg.norm(pos - nearest, axis=-1))


def rangefinders(robot: Robot) -> jax.Array:
    """Distance along each rangefinder to the nearest wall it crosses, (6,).

    A ray is the segment from the robot to ``RANGEFINDER_RANGE`` away; it
    reads the full range when it crosses no wall. Crossings count strictly
    inside both segments; a ray parallel to a wall does not hit it.
    """
    angles = jnp.deg2rad(robot.heading + jnp.asarray(RANGEFINDER_ANGLES, jnp.float32))
    ray = RANGEFINDER_RANGE * jnp.stack([jnp.cos(angles), jnp.sin(angles)], -1)
    a, wall = jnp.asarray(WALLS[:, :2]), jnp.asarray(WALLS[:, 2:] - WALLS[:, :2])

    def cross(p, q):
        return p[..., 0] * q[..., 1] - p[..., 1] * q[..., 0]

    # robot + s ray = a + r wall, solved for s (along the ray) and r (the wall)
    offset = a - robot.pos  # (W, 2)
    denom = cross(ray[:, None], wall[None])  # (R, W)
    safe = jnp.where(denom == 0, 1.0, denom)
    s = cross(offset[None], wall[None]) / safe
    r = cross(offset[None], ray[:, None]) / safe
    hit = (denom != 0) & (s > 0) & (s < 1) & (r > 0) & (r < 1)
    return jnp.min(jnp.where(hit, s, 1.0), axis=-1) * RANGEFINDER_RANGE


def radar(robot: Robot) -> jax.Array:
    """1.0 for the pie slice holding the exit's bearing, else 0.0, (4,)."""
    to_exit = jnp.asarray(EXIT, jnp.float32) - robot.pos
    bearing = jnp.rad2deg(jnp.arctan2(to_exit[1], to_exit[0])) - robot.heading
    bearing = jnp.mod(bearing, 360.0)
    low, high = (jnp.asarray(b, jnp.float32) for b in zip(*RADAR_SLICES, strict=True))

    def inside(angle):
        return (angle >= low) & (angle < high)

    return (inside(bearing) | inside(bearing + 360.0)).astype(jnp.float32)


def sense(robot: Robot) -> jax.Array:
    """The controller's inputs: rangefinders / range then radar, (10,) float32."""
    return jnp.concatenate([rangefinders(robot) / RANGEFINDER_RANGE, radar(robot)])


def move(robot: Robot, action: jax.Array) -> Robot:
    """One step of the port's motion rule for outputs ``action`` (2,) in [0, 1]."""
    action = jnp.clip(jnp.asarray(action, jnp.float32), 0.0, 1.0)
    turn = jnp.clip(robot.angular_velocity + action[0] - 0.5, -MAX_SPEED, MAX_SPEED)
    speed = jnp.clip(robot.speed + action[1] - 0.5, -MAX_SPEED, MAX_SPEED)
    rad = jnp.deg2rad(robot.heading)  # the move uses the heading before the turn
    target = robot.pos + speed * jnp.stack([jnp.cos(rad), jnp.sin(rad)])
    pos = jnp.where(wall_distance(target) < RADIUS, robot.pos, target)
    return Robot(
        pos=pos,
        heading=jnp.mod(robot.heading + turn, 360.0),
        speed=speed,
        angular_velocity=turn,
    )


def exit_distance(pos: jax.Array) -> jax.Array:
    """Distance from ``pos`` (..., 2) to the exit, (...)."""
    return jnp.linalg.norm(pos - jnp.asarray(EXIT, jnp.float32), axis=-1)


@struct.dataclass
class MazeState(environment.EnvState):
    """A hard-maze episode."""

    robot: Robot
    time: jax.Array  # () int32, steps taken this episode


@struct.dataclass
class MazeParams(environment.EnvParams):
    """Hard-maze parameters; every field may be vmapped."""

    max_steps_in_episode: int = NUM_STEPS  # traced: 400 in the paper
    exit_radius: float = EXIT_RADIUS  # traced: solved within this of the exit


class HardMaze(environment.Environment[MazeState, MazeParams]):
    """The hard maze of novelty search (Lehman & Stanley 2011), for RL.

    Observation: ``(10,)`` float32 in [0, 1]: six rangefinder distances over
    their range (at -90, -45, 0, 45, 90, -180 degrees from the heading) and
    four radar slices toward the exit (one reads 1). A bias input is the
    policy's business.
    Action: ``Box(0, 1, (2,))`` float32: ``o - 0.5`` is added to the angular
    velocity and to the speed (each then clipped to [-3, 3]); actions
    outside the box are clipped to it.
    Reward: 1.0 on the step that reaches the exit, else 0.0. (The
    distance-based fitness ``(d0 - d) / d0`` belongs to the QD task
    :func:`hard_maze`, not to this reward.)
    Termination: the robot's centre within ``params.exit_radius`` of the
    exit.
    Truncation: ``time >= params.max_steps_in_episode`` (400).
    State: :class:`MazeState` (a :class:`Robot` and the step count).
    Static args: none; the walls, start and exit are the module's constants.
    Params: :class:`MazeParams`.

    ``info["pos"]`` is the robot's position after the step (before any
    auto-reset).

    Example::

        env = HardMaze()
        params = env.default_params
        obs, state = env.reset(jax.random.key(0), params)
        obs, state, reward, terminated, truncated, info = env.step(
            jax.random.key(1), state, jnp.array([0.5, 1.0]), params)
    """

    @property
    def default_params(self) -> MazeParams:
        return MazeParams()

    @property
    def name(self) -> str:
        return "HardMaze"

    @property
    def num_actions(self) -> int:
        return 2

    def action_space(self, params: MazeParams | None = None) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (2,), jnp.float32)

    def observation_space(self, params: MazeParams | None = None) -> spaces.Box:
        return spaces.Box(0.0, 1.0, (NUM_INPUTS,), jnp.float32)

    def reset_env(self, key: jax.Array, params: MazeParams):
        state = MazeState(robot=start_robot(), time=jnp.int32(0))
        return self.observe(key, state, None, params), state

    def step_env(self, key: jax.Array, state: MazeState, action, params: MazeParams):
        robot = move(state.robot, action)
        state = MazeState(robot=robot, time=state.time + 1)
        reached = exit_distance(robot.pos) < params.exit_radius
        obs = self.observe(key, state, action, params)
        info = {"pos": robot.pos}
        return obs, state, reached.astype(jnp.float32), reached, info

    def observe(self, key, state: MazeState, action, params) -> jax.Array:
        return sense(state.robot)


def num_policy_params(hidden: int) -> int:
    """Genes of the controller with ``hidden`` units: ``13 * hidden + 2``.

    Input layer ``(NUM_INPUTS + 1) x hidden`` (the +1 is the bias input),
    output layer ``(hidden + 1) x 2``.
    """
    return (NUM_INPUTS + 1) * hidden + (hidden + 1) * 2


def policy(genotype: jax.Array, obs: jax.Array) -> jax.Array:
    """The controller: obs (10,) -> outputs (2,) in (0, 1).

    ``genotype`` is ``[W1.ravel(), W2.ravel()]`` with ``W1`` of shape
    ``(11, hidden)`` and ``W2`` of shape ``(hidden + 1, 2)``; row 0 of each
    multiplies the bias input 1. Hidden units are tanh, outputs sigmoid.
    """
    hidden = (genotype.shape[-1] - 2) // (NUM_INPUTS + 3)
    split = (NUM_INPUTS + 1) * hidden
    w1 = genotype[:split].reshape(NUM_INPUTS + 1, hidden)
    w2 = genotype[split:].reshape(hidden + 1, 2)
    h = jnp.tanh(jnp.concatenate([jnp.ones(1, obs.dtype), obs]) @ w1)
    return jax.nn.sigmoid(jnp.concatenate([jnp.ones(1, h.dtype), h]) @ w2)


def rollout(genotype: jax.Array, num_steps: int = NUM_STEPS):
    """Run one controller for ``num_steps`` steps from the start.

    The robot stops for good once within ``EXIT_RADIUS`` of the exit.

    Returns:
        ``(final_pos (2,), is_solved (), path (num_steps, 2))``, float32 and
        bool.
    """

    def step(carry, _):
        robot, solved = carry
        moved = move(robot, policy(genotype, sense(robot)))
        robot = jax.tree.map(lambda old, new: jnp.where(solved, old, new), robot, moved)
        solved = solved | (exit_distance(robot.pos) < EXIT_RADIUS)
        return (robot, solved), robot.pos

    init = (start_robot(), jnp.bool_(False))
    (robot, solved), path = jax.lax.scan(step, init, None, length=num_steps)
    return robot.pos, solved, path


def hard_maze_score(genotypes: jax.Array, key: jax.Array | None = None):
    """Score a batch of controllers on the hard maze.

    Args:
        genotypes: ``(N, 13 h + 2)`` float, flat MLP weights (:func:`policy`).
        key: unused (the maze is deterministic); kept for the task signature.

    Returns:
        ``(fitness (N,), descriptors (N, 2), extras)``: fitness
        ``max((d0 - d) / d0, 0.01)`` with ``d`` the final distance to the
        exit and ``d0`` the start's; descriptor the final (x, y). ``extras``
        holds ``"is_solved"`` ``(N,)`` bool and ``"observation"`` ``(N, 2 *
        NUM_STEPS // OBSERVATION_STRIDE)`` float32: the positions after
        steps 10, 20, ..., 400 (the last one the descriptor), each divided by
        the world size so it lies in [0, 1], flattened as ``x1, y1, x2, y2,
        ...`` (what a learned behaviour space, e.g. AURORA's, encodes).
    """
    del key
    genotypes = jnp.asarray(genotypes, jnp.float32)
    pos, solved, path = jax.vmap(rollout)(genotypes)
    progress = (INITIAL_DISTANCE - exit_distance(pos)) / INITIAL_DISTANCE
    fitness = jnp.maximum(progress, MIN_FITNESS)
    points = path[:, OBSERVATION_STRIDE - 1 :: OBSERVATION_STRIDE] / WORLD_SIZE
    observation = points.reshape(points.shape[0], -1).astype(jnp.float32)
    return fitness, pos, {"is_solved": solved, "observation": observation}


def hard_maze(genotype_dim: int = num_policy_params(5)) -> Task:
    """The hard maze as a QD task: neuroevolution of a fixed-topology MLP.

    The paper evolves NEAT networks (topology included); this task fixes
    the topology to 10 inputs + bias -> ``h`` tanh -> 2 sigmoid outputs
    (``h = 5`` by default, SERENE's hidden width; 67 genes). Genes lie in
    [-5, 5], SERENE's genome bounds for its maze controller.

    Args:
        genotype_dim: ``13 h + 2`` for ``h >= 1`` hidden units (15, 28, 41,
            54, 67, ...).

    Raises:
        ValueError: ``genotype_dim`` is not of that form.
    """
    is_int = isinstance(genotype_dim, int) and not isinstance(genotype_dim, bool)
    hidden, rest = divmod(genotype_dim - 2, NUM_INPUTS + 3) if is_int else (0, 0)
    if hidden < 1 or rest:
        raise ValueError(
            "hard-maze genotype_dim must be 13 * h + 2 for h >= 1 hidden units "
            f"(15, 28, 41, 54, 67 = 5 hidden, the default, ...), got {genotype_dim!r}"
        )
    return Task(
        name="hard-maze",
        score_fn=hard_maze_score,
        genotype_dim=genotype_dim,
        descriptor_low=(0.0, 0.0),
        descriptor_high=(WORLD_SIZE, WORLD_SIZE),
        genotype_bounds=(-5.0, 5.0),
        # float32's 0.01 lies just below 0.01: the true floor, so that the
        # QD-score offset never makes a floored elite count negative
        min_fitness=float(np.float32(MIN_FITNESS)),
    )


def plot_maze(positions, path, trajectories=None) -> None:
    """Draw the maze, the start, the exit and robot positions to an image.

    Args:
        positions: ``(N, 2)`` final positions (descriptors), drawn as dots.
        path: where to write the figure (its suffix picks the format).
        trajectories: optional ``(T, 2)`` or ``(M, T, 2)`` paths drawn as lines.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    for x0, y0, x1, y1 in WALLS:
        ax.plot([x0, x1], [y0, y1], color="black", linewidth=2)
    if trajectories is not None:
        lines = np.asarray(trajectories).reshape(-1, *np.shape(trajectories)[-2:])
        for line in lines:
            ax.plot(line[:, 0], line[:, 1], linewidth=0.8, alpha=0.6)
    points = np.asarray(positions).reshape(-1, 2)
    ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.6, label="final positions")
    ax.scatter(*START, marker="o", s=60, color="tab:green", label="start")
    ax.scatter(*EXIT, marker="*", s=120, color="tab:red", label="exit")
    ax.set(xlim=(0, WORLD_SIZE + 5), ylim=(0, WORLD_SIZE + 5), aspect="equal")
    ax.invert_yaxis()  # the port's y axis points down the screen
    ax.legend(loc="lower right", fontsize=7)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
