"""Bit sequences (Malkin et al., 2022): masks, modes, reward, exact log p on a
tree, modes found, the test-set Spearman correlation and whole runs."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from compile_count import compilations

from jaxrl.algos import gflownet as gfn
from jaxrl.algos.gflownet.evaluation import mark_found_modes, tree_log_probs
from jaxrl.envs.gfn import make_gfn_env
from jaxrl.envs.gfn.bitseq import BLOCKS, BitSequence, BitSequenceReward

TINY_ID = "bitseq:n=8,k=4,num_modes=5,mode_threshold=1"


def _all_states(env):
    """Every non-terminal state (each prefix of whole words) and every
    terminal one, as Python word lists and a batched state."""
    prefixes = [
        list(words)
        for length in range(env.num_words + 1)
        for words in itertools.product(range(2**env.k), repeat=length)
    ]
    rows = [(p + [0] * (env.num_words - len(p)), len(p), False) for p in prefixes]
    rows += [(p, len(p), True) for p in prefixes if len(p) == env.num_words]
    words, lengths, terminal = zip(*rows, strict=True)
    states = jax.tree.map(
        jnp.asarray, env.initial_state().replace(
            words=np.array(words, np.int32), length=np.array(lengths, np.int32),
            is_terminal=np.array(terminal),
        ),
    )  # fmt: skip
    return rows, states


def _masks_and_moves(env, states):
    """Masks of every state, and for every (state, action): the state, the
    child and the child stepped back, the parent and the parent stepped on."""
    actions = jnp.arange(env.num_actions, dtype=jnp.int32)
    each = jax.vmap(lambda s: jax.vmap(lambda a: s)(actions))(states)
    grid = jnp.broadcast_to(actions, each.length.shape)
    move = jax.vmap(jax.vmap(env.step))
    back = jax.vmap(jax.vmap(env.backward_step))
    children, parents = move(each, grid), back(each, grid)
    masks = jax.vmap(env.forward_mask)(states), jax.vmap(env.backward_mask)(states)
    return masks, (each, children, back(children, grid), move(parents, grid))


def test_masks_allow_exactly_the_valid_actions_and_steps_invert():
    env = BitSequence(n=8, k=2)  # 4 words of 2 bits: 5 actions, exit last
    assert (env.num_actions, env.exit_action, env.max_length) == (5, 4, 5)
    rows, states = _all_states(env)
    (fmask, bmask), (each, children, undone, redone) = jax.jit(
        lambda s: _masks_and_moves(env, s)
    )(states)
    fmask, bmask = np.asarray(fmask), np.asarray(bmask)
    for i, (words, length, terminal) in enumerate(rows):
        full = length == env.num_words
        forward = [not terminal and not full] * 4 + [not terminal and full]
        backward = [not terminal and length > 0 and words[length - 1] == w
                    for w in range(4)] + [terminal]  # fmt: skip
        assert fmask[i].tolist() == forward, (words, length, terminal)
        assert bmask[i].tolist() == backward, (words, length, terminal)
    # each valid forward step is undone by the same backward action, each
    # valid backward step redone by it; a terminal state never moves
    is_terminal = np.asarray(states.is_terminal)[:, None] & np.ones_like(fmask)
    for after, where in ((undone, fmask), (redone, bmask), (children, is_terminal)):
        for name in ("words", "length", "is_terminal"):
            np.testing.assert_array_equal(
                np.asarray(getattr(after, name))[where],
                np.asarray(getattr(each, name))[where],
            )
    # observation: the written bits, then which bits are written
    s = env.step(env.step(env.initial_state(), jnp.int32(2)), jnp.int32(3))
    np.testing.assert_array_equal(
        env.observe(s), [1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
    )
    assert bool(env.is_initial(env.initial_state())) and not bool(env.is_initial(s))


def test_modes_are_blocks_drawn_from_the_seed():
    reward = BitSequenceReward()  # n = 120, 60 modes of 15 blocks of 8 bits
    modes = reward.modes
    assert modes.shape == (60, 120) and modes.dtype == np.uint8
    blocks = {tuple(b) for b in BLOCKS}
    assert all(tuple(block) in blocks for block in modes.reshape(-1, 8))
    assert len({m.tobytes() for m in modes}) == 60  # distinct
    np.testing.assert_array_equal(BitSequenceReward().modes, modes)  # same seed
    assert not np.array_equal(BitSequenceReward(mode_seed=1).modes, modes)
    # n = 8: one block a mode, so 5 distinct modes are the 5 blocks
    tiny = BitSequenceReward(n=8, k=2, num_modes=5).modes
    assert {tuple(m) for m in tiny} == blocks
    with pytest.raises(ValueError, match=r"num_modes must be an int in \[1, 5\]"):
        BitSequenceReward(n=8, k=2, num_modes=6)
    with pytest.raises(ValueError, match="n must be a multiple of 8"):
        BitSequenceReward(n=12, k=4)
    with pytest.raises(ValueError, match=r"n \(8\) must be a multiple of the word"):
        BitSequence(n=8, k=3)
    with pytest.raises(ValueError, match="distance_norm must be one of none, length"):
        BitSequenceReward(distance_norm="n")
    with pytest.raises(TypeError, match="beta must be float"):
        make_gfn_env("bitseq:beta=abc")


def test_reward_known_values():
    env, reward = make_gfn_env("bitseq", n=8, k=2, num_modes=5)
    scaled = BitSequenceReward(n=8, k=2, num_modes=5, beta=3.0, distance_norm="length")
    x = env.from_bits([1, 1, 1, 1, 1, 1, 1, 0])
    y = env.from_bits([1, 0, 1, 0, 1, 0, 1, 0])
    # x = 11111110: 7 from 00000000, 1 from 11111111, 3 from 11110000, 5 from
    # 00001111, 3 from 00111100: d = 1, log R = -2 * 1
    np.testing.assert_array_equal(np.sort(reward.mode_distances(x)), [1, 3, 3, 5, 7])
    assert float(reward.log_reward(x)) == -2.0
    # y = 10101010 is 4 bits from each of the five blocks: log R = -2 * 4;
    # normalised by n = 8 with beta = 3: -3 * 4 / 8
    np.testing.assert_array_equal(reward.mode_distances(y), [4] * 5)
    assert float(reward.log_reward(y)) == -8.0
    assert float(scaled.log_reward(y)) == -1.5
    assert float(reward.log_reward(env.from_bits(reward.modes[2]))) == 0.0
    assert bool(reward.is_mode(x)) and not bool(
        BitSequenceReward(n=8, k=2, num_modes=5, mode_threshold=0).is_mode(x)
    )


def test_exact_log_p_matches_sampled_frequencies():
    """On 16 sequences of 4 bits, the exact log p(x) of a random policy (one
    path per object) against the frequencies of 40,000 sampled trajectories,
    every action of which the forward mask allowed."""
    env = BitSequence(n=4, k=2)
    network = gfn.GFNPolicy(env.num_actions, 16, False, False, False)
    params = network.init(jax.random.key(1), jnp.zeros((1, env.observation_size)))

    def logits(obs):
        return 3.0 * network.apply(params, obs, method=gfn.GFNPolicy.forward_logits)

    every = env.from_bits(np.array(list(itertools.product((0, 1), repeat=4))))
    num = 40_000

    @jax.jit
    def compute(key):
        traj = gfn.sample_trajectories(env, logits, key, num, 0.0, 1.0)
        before = jax.tree.map(lambda x: x[:-1], traj.states)
        masks = jax.vmap(jax.vmap(env.forward_mask))(before)
        allowed = jnp.take_along_axis(masks, traj.actions[..., None], -1)[..., 0]
        is_ok = jnp.all(allowed | ~traj.is_valid) & jnp.all(traj.is_valid)
        return tree_log_probs(env, every, logits), traj.states.words[-1], is_ok

    log_p, words, is_ok = compute(jax.random.key(2))
    assert bool(is_ok)  # valid actions only; every trajectory takes 3 steps
    p = np.exp(np.asarray(log_p))
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-5)
    words = np.asarray(words)
    counts = np.bincount(words[:, 0] * 4 + words[:, 1], minlength=16) / num
    # each frequency has standard deviation sqrt(p (1 - p) / num) <= 0.0025
    np.testing.assert_allclose(counts, p, atol=0.01)
    assert p.max() > 3 * p.min()  # far from uniform: the check has teeth


def test_mark_found_modes_by_hand():
    found = jnp.array([False, False, True, False])
    distances = jnp.array([[3, 9, 9, 9], [9, 2, 9, 9]])  # (B=2, K=4)
    # threshold 2: mode 1 (distance 2, inclusive) is found, mode 0 (3) is not;
    # mode 2 stays found
    np.testing.assert_array_equal(
        mark_found_modes(found, distances, 2), [False, True, True, False]
    )
    np.testing.assert_array_equal(
        mark_found_modes(found, distances, 3), [True, True, True, False]
    )


def test_spearman_on_known_cases_and_the_test_set():
    reward = BitSequenceReward(n=16, k=4, num_modes=3)
    test = reward.test_bits  # each mode, then copies with 1 .. 15 flips
    assert test.shape == (3 * 16, 16)
    flips = (test.reshape(3, 16, 16) != reward.modes[:, None, :]).sum(-1)
    np.testing.assert_array_equal(flips, np.tile(np.arange(16), (3, 1)))

    @jax.jit
    def correlations(log_r):
        ones = jnp.ones(log_r.shape, bool)
        a, b = jnp.array([1.0, 2, 3, 4]), jnp.array([1.0, 3, 2, 4])
        return (gfn.evaluation.spearman(a, b, jnp.ones(4, bool)),
                gfn.evaluation.spearman(log_r, log_r, ones),
                gfn.evaluation.spearman(-log_r, log_r, ones))  # fmt: skip

    log_r = jax.vmap(reward.log_reward)(
        jax.tree.map(jnp.asarray, reward.test_objects())
    )
    by_hand, same, reverse = correlations(log_r)
    # ranks 1 2 3 4 against 1 3 2 4: 1 - 6 * (1 + 1) / (4 * 15) = 0.8
    np.testing.assert_allclose(by_hand, 0.8, rtol=1e-6)
    # log p = log R ranks the test set exactly as log R does, -log R exactly
    # backwards, whatever the ties (log R = -2 d takes 16 values on 48 objects)
    np.testing.assert_allclose(same, 1.0, rtol=1e-6)
    np.testing.assert_allclose(reverse, -1.0, rtol=1e-6)


# SubTB (flow head and all); padded rollouts compile fastest.
CONFIG = gfn.Config(loss="subtb", num_iterations=8, eval_every=2, batch_size=8,
                    hidden_size=16, use_learned_backward=False,
                    rollout="padded")  # fmt: skip


@pytest.fixture(scope="module")
def runs():
    """Two seeds of SubTB, then again with other keys and another lr."""
    env, reward = make_gfn_env(TINY_ID)
    one_seed = gfn.make_train(CONFIG, env, reward)
    traces = []

    def train(keys, hparams):
        traces.append(1)  # at trace time only
        return jax.vmap(one_seed, (0, None))(keys, hparams)

    train = jax.jit(train)
    keys = jax.random.split(jax.random.key(0), 2)
    start = compilations()
    out = train(keys, gfn.HParams(lr=1e-2))
    again = train(jax.random.split(jax.random.key(1), 2), gfn.HParams(lr=3e-3))
    return env, reward, out, again, len(traces), compilations() - start


def test_one_compilation_per_run(runs):
    *_, out, again, num_traces, num_compilations = runs
    assert num_traces == 1 and num_compilations == 1
    assert not np.array_equal(out.metrics.loss, again.metrics.loss)


def test_run_counts_found_modes_and_reports_spearman(runs):
    env, reward, out, *_ = runs
    assert out.metrics.l1 is None and out.metrics.kl is None
    found = np.asarray(out.metrics.modes_found)  # (2 seeds, 4 evaluations)
    assert found.shape == (2, 4) and (np.diff(found, axis=1) >= 0).all()
    assert (found <= 5).all() and (found[:, -1] > 0).all()
    is_found = np.asarray(out.state.is_mode_found)
    assert is_found.shape == (2, 5) and is_found.dtype == bool
    np.testing.assert_array_equal(is_found.sum(1), found[:, -1])
    assert out.state.is_visited.shape == (2, 0)  # no per-state table
    # the reported Spearman is that of the exact log p of the final policy
    rho = jax.jit(jax.vmap(lambda p: _test_set_spearman(env, reward, p)))(
        out.state.params.net
    )
    np.testing.assert_allclose(rho, out.metrics.spearman[:, -1], atol=1e-5)
    assert np.isfinite(out.metrics.spearman).all()
    # final scores of a run on the modes: only what is defined there
    history = {"modes_found": found, "spearman": np.asarray(out.metrics.spearman)}
    assert sorted(gfn.final_scores(history)) == ["modes_found", "spearman"]


def _test_set_spearman(env, reward, params):
    network = gfn.GFNPolicy(env.num_actions, 16, False, False, False)

    def logits(obs):
        return network.apply(params, obs, method=gfn.GFNPolicy.forward_logits)

    test = reward.test_objects()
    log_p = tree_log_probs(env, test, logits)
    log_r = jax.vmap(reward.log_reward)(test)
    return gfn.evaluation.spearman(log_p, log_r, jnp.ones(log_p.shape, bool))


def test_environments_that_cannot_be_evaluated_are_refused():
    env, _ = make_gfn_env(TINY_ID)
    hypergrid_reward = make_gfn_env("hypergrid", ndim=2, height=4)[1]
    with pytest.raises(ValueError, match="lacks mode_distances, mode_threshold"):
        gfn.make_program(CONFIG, env, hypergrid_reward)
    with pytest.raises(ValueError, match="needs log R on every state"):
        gfn.make_program(gfn.Config(loss="mdb"), *make_gfn_env(TINY_ID))
