"""Intrinsic rewards for exploration, each a pure module.

Every module is a frozen dataclass of static settings with three pure
methods, so its state rides in a training run's carry:

* ``init(key, obs_example) -> state``, ``obs_example`` one batch ``(B, ...)``;
* ``reward(state, next_obs, done) -> (state, bonus)`` for a rollout's
  reached observations ``(T, B, ...)``, ``bonus`` ``(T, B)`` float32 raw;
* ``update(state, next_obs, key, lr) -> (state, loss)`` after the policy
  update (RND trains its predictor; counts have nothing to learn).

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
from jaxrl.algos.intrinsic.rnd import RND, RNDState

__all__ = [
    "COUNT_MODES",
    "RND",
    "CountState",
    "RNDState",
    "RewardScaler",
    "RunningMoments",
    "SimHashCounts",
    "init_moments",
    "init_reward_scaler",
    "scale_rewards",
    "standardize",
    "update_moments",
]
