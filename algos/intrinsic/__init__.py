"""Intrinsic rewards for exploration, each a pure module.

Every module is a frozen dataclass of static settings with three pure
methods, so its state rides in a training run's carry:

* ``init(key, obs_example) -> state``, ``obs_example`` one batch ``(B, ...)``;
* ``reward(state, next_obs, done) -> (state, bonus)`` for a rollout's
  reached observations ``(T, B, ...)``, ``bonus`` ``(T, B)`` float32 raw;
* ``update(state, next_obs, key, lr) -> (state, loss)`` after the policy
  update (RND and RDD train their predictors; counts have nothing to learn).

``is_episodic`` says whether the intrinsic return stops at episode ends.
:mod:`~jaxrl.algos.intrinsic.normalization` holds the running scaler that
divides bonuses by the standard deviation of their discounted sums.
"""

from jaxrl.algos.intrinsic.counts import COUNT_MODES, CountState, SimHashCounts
from jaxrl.algos.intrinsic.normalization import (
    RewardScaler,
    RunningMoments,
    init_moments,
    init_reward_scaler,
    scale_rewards,
    standardize,
    update_moments,
)
from jaxrl.algos.intrinsic.rdd import (
    RDD,
    RDDState,
    discrepancy_term,
    pseudo_count_term,
)
from jaxrl.algos.intrinsic.rnd import RND, RNDState

__all__ = [
    "COUNT_MODES",
    "RDD",
    "RND",
    "CountState",
    "RDDState",
    "RNDState",
    "RewardScaler",
    "RunningMoments",
    "SimHashCounts",
    "discrepancy_term",
    "init_moments",
    "init_reward_scaler",
    "pseudo_count_term",
    "scale_rewards",
    "standardize",
    "update_moments",
]
