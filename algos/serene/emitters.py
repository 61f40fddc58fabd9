"""SERENE's reward emitters as fixed arrays: a queue of candidates and a fixed
number of emitter slots.

A rewarding novelty-search individual becomes a *candidate*
(:class:`CandidateQueue`): its genome, descriptor, reward and first step
size wait in a fixed-capacity queue. A free *slot* (:class:`EmitterSlots`)
takes a candidate and evaluates it for ``bootstrap_generations``
generations; it stays as an *emitter* only if its improvement is above 0
(Paolo et al. 2021), and runs until it stagnates. Every slot is a
(mu + lambda) Gaussian evolution strategy on reward: ``M`` members, 2
offspring each, the best ``M`` of members and offspring kept.

A slot's reward lists (the members' rewards after each generation) live in a
ring of ``W`` lists, SERENE's stagnation window; ``num_values`` counts the
lists written. Everything here works on all slots at once; the caller says
which slots ran (``active``).
"""

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.algos.novelty_search.novelty_search import non_dominated_rank

FREE, BOOTSTRAP, RUNNING = 0, 1, 2  # slot modes


@struct.dataclass
class CandidateQueue:
    """Rewarding individuals waiting for a free emitter slot (``Q`` places)."""

    genotypes: jax.Array  # (Q, D) float32
    descriptors: jax.Array  # (Q, K) float32
    fitness: jax.Array  # (Q,) float32
    reward: jax.Array  # (Q,) float32
    sigma: jax.Array  # (Q,) float32: the emitter's step size
    is_valid: jax.Array  # (Q,) bool: places holding a candidate


@struct.dataclass
class EmitterSlots:
    """``S`` emitter slots, each a population of ``M`` around an ancestor."""

    mode: jax.Array  # (S,) int32: FREE, BOOTSTRAP or RUNNING
    ancestor_genotype: jax.Array  # (S, D) float32
    ancestor_descriptor: jax.Array  # (S, K) float32
    ancestor_fitness: jax.Array  # (S,) float32
    ancestor_reward: jax.Array  # (S,) float32
    sigma: jax.Array  # (S,) float32: Gaussian step of every offspring
    genotypes: jax.Array  # (S, M, D) float32: members
    descriptors: jax.Array  # (S, M, K) float32
    fitness: jax.Array  # (S, M) float32
    reward: jax.Array  # (S, M) float32; -inf before the first generation
    history: jax.Array  # (S, W, M) float32: ring of the last W reward lists
    num_values: jax.Array  # (S,) int32: reward lists written
    steps: jax.Array  # (S,) int32: offspring generations (not the first)
    initial_mean: jax.Array  # (S,) float32: mean of the first reward lists
    best_archived: jax.Array  # (S,) float32: best reward archived; -inf: none
    most_novel: jax.Array  # (S,) float32: novelty of its most novel agent
    feedback_genotypes: jax.Array  # (S, F, D) float32: ring of novel agents
    feedback_descriptors: jax.Array  # (S, F, K) float32
    feedback_fitness: jax.Array  # (S, F) float32
    num_feedback: jax.Array  # (S,) int32: novel agents buffered (ring count)


def empty_queue(capacity: int, genotype_dim: int, descriptor_dim: int):
    """An empty :class:`CandidateQueue`."""
    return CandidateQueue(
        genotypes=jnp.zeros((capacity, genotype_dim), jnp.float32),
        descriptors=jnp.zeros((capacity, descriptor_dim), jnp.float32),
        fitness=jnp.zeros((capacity,), jnp.float32),
        reward=jnp.zeros((capacity,), jnp.float32),
        sigma=jnp.zeros((capacity,), jnp.float32),
        is_valid=jnp.zeros((capacity,), bool),
    )


def empty_slots(num, population, genotype_dim, descriptor_dim, window, feedback):
    """``num`` free :class:`EmitterSlots`."""
    S, M, D, K, F = num, population, genotype_dim, descriptor_dim, feedback
    zeros = lambda *shape: jnp.zeros(shape, jnp.float32)  # noqa: E731
    return EmitterSlots(
        mode=jnp.zeros((S,), jnp.int32),
        ancestor_genotype=zeros(S, D),
        ancestor_descriptor=zeros(S, K),
        ancestor_fitness=zeros(S),
        ancestor_reward=zeros(S),
        sigma=zeros(S),
        genotypes=zeros(S, M, D),
        descriptors=zeros(S, M, K),
        fitness=zeros(S, M),
        reward=jnp.full((S, M), -jnp.inf, jnp.float32),
        history=zeros(S, window, M),
        num_values=jnp.zeros((S,), jnp.int32),
        steps=jnp.zeros((S,), jnp.int32),
        initial_mean=zeros(S),
        best_archived=jnp.full((S,), -jnp.inf, jnp.float32),
        most_novel=jnp.full((S,), -jnp.inf, jnp.float32),
        feedback_genotypes=zeros(S, F, D),
        feedback_descriptors=zeros(S, F, K),
        feedback_fitness=zeros(S, F),
        num_feedback=jnp.zeros((S,), jnp.int32),
    )


def push_candidates(queue: CandidateQueue, is_new, genotypes, descriptors, fitness,
                    reward, sigma) -> tuple[CandidateQueue, jax.Array]:  # fmt: skip
    """Put the rows where ``is_new`` into the queue's free places, in row
    order; rows that find no free place are dropped.

    Returns:
        ``(queue, num_dropped)``, the second a ``() int32``.
    """
    capacity = queue.is_valid.shape[0]
    free = ~queue.is_valid
    rank = jnp.cumsum(is_new, dtype=jnp.int32) - 1
    fits = is_new & (rank < jnp.sum(free, dtype=jnp.int32))
    free_places = jnp.argsort(queue.is_valid, stable=True)  # free places first
    place = jnp.where(fits, free_places[jnp.clip(rank, 0, capacity - 1)], capacity)

    def put(old, new):
        return old.at[place].set(jnp.asarray(new, old.dtype), mode="drop")

    queue = CandidateQueue(
        genotypes=put(queue.genotypes, genotypes),
        descriptors=put(queue.descriptors, descriptors),
        fitness=put(queue.fitness, fitness),
        reward=put(queue.reward, reward),
        sigma=put(queue.sigma, sigma),
        is_valid=put(queue.is_valid, jnp.ones(place.shape, bool)),
    )
    return queue, jnp.sum(is_new & ~fits, dtype=jnp.int32)


def start_slots(slots: EmitterSlots, queue: CandidateQueue, priority, allowed):
    """Give each free slot a waiting candidate, highest ``priority`` first
    (ties: the lower queue place), when ``allowed``.

    Args:
        priority: ``(Q,)``, e.g. novelty against the reward archive.
        allowed: ``() bool``.

    Returns:
        ``(slots, queue)``; a started slot is reset to a fresh BOOTSTRAP:
        nothing of an emitter that ran there before survives (a placeholder
        member can outlive the first generation when fewer than ``M`` of its
        offspring have a finite reward).
    """
    capacity = queue.is_valid.shape[0]
    free = slots.mode == FREE
    order = jnp.argsort(-jnp.where(queue.is_valid, priority, -jnp.inf), stable=True)
    rank = jnp.cumsum(free, dtype=jnp.int32) - 1
    take = free & allowed & (rank < jnp.sum(queue.is_valid, dtype=jnp.int32))
    chosen = order[jnp.clip(rank, 0, capacity - 1)]
    S, M, D = slots.genotypes.shape
    K, W = slots.descriptors.shape[2], slots.history.shape[1]
    # a started slot is a fresh one, whatever ran there before: members are
    # placeholder copies of the ancestor with reward -inf (none yet), the
    # ring, counters, archive mark and feedback buffer empty
    fresh = empty_slots(S, M, D, K, W, slots.feedback_fitness.shape[1])
    genotype = queue.genotypes[chosen]
    descriptor = queue.descriptors[chosen]
    fitness = queue.fitness[chosen]
    fresh = fresh.replace(
        mode=jnp.full((S,), BOOTSTRAP, jnp.int32),
        ancestor_genotype=genotype,
        ancestor_descriptor=descriptor,
        ancestor_fitness=fitness,
        ancestor_reward=queue.reward[chosen],
        sigma=queue.sigma[chosen],
        genotypes=jnp.broadcast_to(genotype[:, None], (S, M, D)),
        descriptors=jnp.broadcast_to(descriptor[:, None], (S, M, K)),
        fitness=jnp.broadcast_to(fitness[:, None], (S, M)),
    )

    def pick(new, old):
        return jnp.where(take.reshape((S,) + (1,) * (old.ndim - 1)), new, old)

    slots = jax.tree.map(pick, fresh, slots)
    gone = jnp.where(take, chosen, capacity)
    queue = queue.replace(is_valid=queue.is_valid.at[gone].set(False, mode="drop"))
    return slots, queue


def choose_running(key, is_chosen, is_running, novelty, gain, use_front, num: int):
    """SERENE's choice of the emitter to run (Paolo et al. 2021,
    ``choose_emitter``), made until ``num`` running emitters are chosen.

    Each pick takes, among the running emitters not chosen yet, the first
    Pareto front of (``novelty``, ``gain``), both maximised, and draws one
    of it uniformly; without a reward archive (``use_front`` False) it takes
    the highest ``gain`` (the first of equals).

    Args:
        key: the draws' key.
        is_chosen: ``(S,) bool``, emitters already chosen (they stay).
        is_running: ``(S,) bool``, the slots holding a promoted emitter.
        novelty: ``(S,)``, each ancestor's novelty against the reward archive.
        gain: ``(S,)``, each emitter's improvement.
        use_front: ``() bool``, the reward archive holds a member.
        num: emitters to have chosen (static); fewer when fewer run.

    Returns:
        ``(S,) bool``: the chosen emitters.
    """
    is_chosen = is_chosen & is_running

    def pick(i, chosen):
        eligible = is_running & ~chosen
        objectives = jnp.stack([novelty, gain], axis=-1)
        objectives = jnp.where(eligible[:, None], objectives, -jnp.inf)
        front = eligible & (non_dominated_rank(objectives) == 0)
        draw = jax.random.uniform(jax.random.fold_in(key, i), front.shape)
        by_front = jnp.argmax(jnp.where(front, draw, -1.0))
        by_gain = jnp.argmax(jnp.where(eligible, gain, -jnp.inf))
        slot = jnp.where(use_front, by_front, by_gain)
        more = (jnp.sum(chosen) < num) & jnp.any(eligible)
        return chosen.at[slot].set(chosen[slot] | more)

    return jax.lax.fori_loop(0, num, pick, is_chosen)


def offspring(key, slots: EmitterSlots, genotype_bounds) -> jax.Array:
    """``(S, 2M, D)``: two Gaussian offspring of every member; before a
    slot's first generation, ``2M`` Gaussian samples around its ancestor."""
    S, M, D = slots.genotypes.shape
    is_first = (slots.num_values == 0)[:, None, None]
    parents = jnp.where(
        is_first,
        jnp.broadcast_to(slots.ancestor_genotype[:, None], (S, 2 * M, D)),
        jnp.repeat(slots.genotypes, 2, axis=1),
    )
    noise = jax.random.normal(key, parents.shape, jnp.float32)
    x = parents + slots.sigma[:, None, None] * noise
    if genotype_bounds is not None:
        x = jnp.clip(x, *genotype_bounds)
    return x


def select(slots: EmitterSlots, active, genotypes, descriptors, fitness, reward):
    """(mu + lambda) on reward for the ``active`` slots, and their reward
    list pushed into the ring.

    Args:
        active: ``(S,) bool``.
        genotypes, descriptors, fitness, reward: the offspring, ``(S, 2M,
            ...)``; NaN reward counts as ``-inf``.
    """
    M, window = slots.genotypes.shape[1], slots.history.shape[1]
    reward = jnp.where(jnp.isnan(reward), -jnp.inf, reward)
    members = jnp.where((slots.num_values == 0)[:, None], -jnp.inf, slots.reward)
    pool_r = jnp.concatenate([members, reward], axis=1)  # (S, 3M)
    keep = jnp.argsort(-pool_r, axis=1, stable=True)[:, :M]  # best first

    def kept(old, new):
        pool = jnp.concatenate([old, new], axis=1)
        index = keep.reshape(keep.shape + (1,) * (pool.ndim - 2))
        chosen = jnp.take_along_axis(pool, index, axis=1)
        mask = active.reshape(active.shape + (1,) * (old.ndim - 1))
        return jnp.where(mask, chosen, old)

    new_reward = kept(slots.reward, reward)
    at = slots.num_values % window
    history = jnp.where(
        (active[:, None] & (jnp.arange(window)[None] == at[:, None]))[..., None],
        new_reward[:, None, :],
        slots.history,
    )
    num_values = slots.num_values + active.astype(jnp.int32)
    return slots.replace(
        genotypes=kept(slots.genotypes, genotypes),
        descriptors=kept(slots.descriptors, descriptors),
        fitness=kept(slots.fitness, fitness),
        reward=new_reward,
        history=history,
        num_values=num_values,
        steps=slots.steps + (active & (slots.num_values > 0)).astype(jnp.int32),
    )


def _recent(slots: EmitterSlots, count: int, back: int) -> jax.Array:
    """``(S, count, M)``: reward lists ``num_values - back`` onward, oldest
    first (read from the ring)."""
    window = slots.history.shape[1]
    index = (slots.num_values[:, None] - back + jnp.arange(count)) % window
    return jnp.take_along_axis(slots.history, index[..., None], axis=1)


def improvement(slots: EmitterSlots, window: int, initial_mean) -> jax.Array:
    """``(S,)``: ``max(mean(last window lists) - initial_mean, 0)``."""
    last = jnp.mean(_recent(slots, window, window), axis=(1, 2))
    return jnp.maximum(last - initial_mean, 0.0)


def initial_mean(slots: EmitterSlots, window: int) -> jax.Array:
    """``(S,)``: the mean of the first ``window`` reward lists, set once
    ``num_values`` reaches ``window`` (kept afterwards)."""
    first = jnp.mean(slots.history[:, :window], axis=(1, 2))
    return jnp.where(slots.num_values == window, first, slots.initial_mean)


def is_stagnant(slots: EmitterSlots, span: int) -> jax.Array:
    """``(S,) bool``: SERENE's "custom" stagnation. Once ``steps`` exceeds
    the window ``W``, compare the window's first ``span`` reward lists with
    its last ``span``: stagnant when the first's median is at least the
    last's, or the first's max at least the last's."""
    window = slots.history.shape[1]
    first = _recent(slots, span, window)
    last = _recent(slots, span, span)
    median_first, max_first = _median_and_max(first)
    median_last, max_last = _median_and_max(last)
    stalled = (median_first >= median_last) | (max_first >= max_last)
    return (slots.steps > window) & stalled


def _median_and_max(lists: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Median and max of each slot's ``(n, M)`` rewards, all taken together
    (numpy's median: the mean of the two middle values when ``n M`` is even).
    One sort instead of ``jnp.median``'s general quantile."""
    flat = jnp.sort(lists.reshape(lists.shape[0], -1), axis=1)
    size = flat.shape[1]
    middle = (flat[:, (size - 1) // 2] + flat[:, size // 2]) / 2
    return middle, flat[:, -1]


def to_archive(slots: EmitterSlots, active) -> tuple[jax.Array, jax.Array]:
    """SERENE's reward-archive rule for each active slot's members after an
    offspring generation: while the slot has archived nothing, its best
    member if its reward is above 0; afterwards every member whose reward
    beats the best it archived. A candidate's first generation (``steps``
    still 0: the samples around its ancestor) archives nothing, as in
    SERENE, which archives only after each offspring generation.

    Returns:
        ``(mask (S, M) bool, best_archived (S,))``.
    """
    M = slots.reward.shape[1]
    reward = slots.reward
    best = jnp.argmax(reward, axis=1)  # first of equals
    first = (jnp.arange(M)[None] == best[:, None]) & (reward > 0)
    later = reward > slots.best_archived[:, None]
    none_yet = (slots.best_archived == -jnp.inf)[:, None]
    archiving = active & (slots.steps > 0)
    mask = archiving[:, None] & jnp.where(none_yet, first, later)
    archived = jnp.max(jnp.where(mask, reward, -jnp.inf), axis=1)
    return mask, jnp.maximum(slots.best_archived, archived)


def push_feedback(slots: EmitterSlots, running, novelty_scores) -> EmitterSlots:
    """Buffer the members of ``running`` slots more novel than the slot's
    most novel agent so far, then raise that mark (SERENE's feedback).

    Args:
        running: ``(S,) bool``.
        novelty_scores: ``(S, M)`` members' novelty against novelty search's
            reference set.
    """
    F = slots.feedback_fitness.shape[1]
    novel = running[:, None] & (novelty_scores > slots.most_novel[:, None])
    rank = jnp.cumsum(novel, axis=1, dtype=jnp.int32) - 1
    place = jnp.where(novel, (slots.num_feedback[:, None] + rank) % F, F)

    def put(old, new):
        return jax.vmap(lambda o, p, n: o.at[p].set(n, mode="drop"))(old, place, new)

    most = jnp.max(jnp.where(running[:, None], novelty_scores, -jnp.inf), axis=1)
    return slots.replace(
        feedback_genotypes=put(slots.feedback_genotypes, slots.genotypes),
        feedback_descriptors=put(slots.feedback_descriptors, slots.descriptors),
        feedback_fitness=put(slots.feedback_fitness, slots.fitness),
        num_feedback=slots.num_feedback + jnp.sum(novel, axis=1, dtype=jnp.int32),
        most_novel=jnp.maximum(slots.most_novel, most),
    )


def feedback_rows(key, slots: EmitterSlots, ending, num: int):
    """Up to ``num`` buffered agents of each ``ending`` slot, drawn at
    random without replacement, as rows for the novelty archive.

    Returns:
        ``(genotypes (S num, D), fitness (S num,), descriptors (S num, K))``;
        rows not drawn have NaN descriptors (the archive skips them).
    """
    S, F = slots.feedback_fitness.shape
    held = jnp.arange(F)[None] < jnp.minimum(slots.num_feedback, F)[:, None]
    score = jnp.where(held, jax.random.uniform(key, (S, F)), -jnp.inf)
    num = min(num, F)
    _, index = jax.lax.top_k(score, num)  # (S, num)
    drawn = ending[:, None] & jnp.take_along_axis(held, index, axis=1)

    def rows(values):
        index_ = index.reshape(index.shape + (1,) * (values.ndim - 2))
        taken = jnp.take_along_axis(values, index_, axis=1)
        return taken.reshape((S * num,) + values.shape[2:])

    descriptors = rows(slots.feedback_descriptors)
    descriptors = jnp.where(drawn.reshape(-1)[:, None], descriptors, jnp.nan)
    return rows(slots.feedback_genotypes), rows(slots.feedback_fitness), descriptors
