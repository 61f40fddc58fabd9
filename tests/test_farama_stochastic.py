"""Dynamic-Obstacles against Farama MiniGrid: the deterministic part step by
step, the balls' random moves by their distribution."""

import copy
from collections import Counter

import gymnasium as gym
import jax
import minigrid  # noqa: F401  (registers the MiniGrid-* ids)
import numpy as np
import pytest

import jaxrl
from jaxrl.envs.gridworld import from_minigrid
from jaxrl.envs.gridworld.core import as_seen


def _balls(farama) -> tuple:
    return tuple(tuple(int(v) for v in o.cur_pos) for o in farama.obstacles)


@pytest.mark.parametrize(
    "env_id", ["Dynamic-Obstacles-6x6", "Dynamic-Obstacles-Random-5x5"]
)
def test_agent_rules_match_farama_given_the_same_ball_moves(env_id):
    """Each step: take Farama's ball moves, then our agent step must give
    Farama's agent, grid, observation, reward and ending."""
    ours, params = jaxrl.make(env_id)
    farama = gym.make(f"MiniGrid-{env_id}-v0").unwrapped
    assert ours.action_space(params).n == farama.action_space.n == 3
    finish = jax.jit(ours.finish_step)
    rng = np.random.default_rng(0)
    steps, hits = 0, 0
    for episode in range(60):
        if episode >= 4 and steps > 150:
            break
        farama.reset(seed=episode)
        for _ in range(farama.max_steps):
            _, _, before = from_minigrid(farama)
            front = farama.grid.get(*farama.front_pos)
            blocked = front is not None and front.type != "goal"
            action = int(rng.integers(0, 3))
            farama_obs, reward, terminated, truncated, _ = farama.step(action)
            _, _, after_balls = from_minigrid(farama)
            moved = before.replace(grid=after_balls.grid, marks=after_balls.marks)
            obs, state, our_reward, our_terminated, _ = finish(
                moved, action, blocked, params
            )
            steps += 1
            hits += reward < 0
            context = f"{env_id} episode {episode} step {int(state.time)}"
            assert tuple(np.asarray(state.agent_pos)) == tuple(farama.agent_pos), (
                context
            )
            assert int(state.agent_dir) == farama.agent_dir, context
            np.testing.assert_array_equal(
                np.asarray(as_seen(state.grid)), farama.grid.encode(), context
            )
            np.testing.assert_array_equal(obs.image, farama_obs["image"], context)
            assert np.isclose(float(our_reward), reward), context
            assert bool(our_terminated) == terminated, context
            assert bool(ours.is_truncated(state, params)) == truncated, context
            if terminated or truncated:
                break
    assert steps > 150 and hits > 0


def test_ball_moves_have_farama_distribution():
    """From the same state, where the balls go after one step: Farama's
    frequencies over many draws and ours agree (total variation < 0.05 for
    each ball's destination, < 0.12 for the first two balls jointly; the
    sampling noise at 4000 draws is about half of each)."""
    farama = gym.make("MiniGrid-Dynamic-Obstacles-6x6-v0").unwrapped
    farama.reset(seed=3)
    ours, params = jaxrl.make("Dynamic-Obstacles-6x6")
    _, _, state = from_minigrid(farama)
    draws = 4000
    farama_outcomes = []
    for index in range(draws):
        twin = copy.deepcopy(farama)
        twin.np_random = np.random.default_rng(index)
        twin.step(0)  # turning: only the balls move
        farama_outcomes.append(_balls(twin))
    keys = jax.random.split(jax.random.key(0), draws)
    moved = jax.jit(jax.vmap(ours.move_obstacles, in_axes=(0, None)))(keys, state)
    marks = np.asarray(moved.marks)
    our_outcomes = [tuple(map(tuple, m.tolist())) for m in marks]

    def total_variation(a, b):
        ca, cb = Counter(a), Counter(b)
        return 0.5 * sum(abs(ca[k] - cb[k]) for k in ca | cb) / draws

    assert len(set(farama_outcomes)) > 5  # the balls do move, in many ways
    for ball in range(len(farama.obstacles)):
        tv = total_variation([o[ball] for o in farama_outcomes],
                             [o[ball] for o in our_outcomes])  # fmt: skip
        assert tv < 0.05, (ball, tv)
    # the second ball moves after the first: their pair agrees too
    pairs = (
        [o[:2] for o in farama_outcomes], [o[:2] for o in our_outcomes]
    )  # fmt: skip
    assert total_variation(*pairs) < 0.12
