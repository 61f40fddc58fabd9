"""Probe environments: the smallest tasks that tell a broken RL agent apart.

Each probe isolates one part of an actor-critic agent, after Andy Jones'
"Debugging RL, Without the Agonizing Pain" (2021) and rejax's probe tests:

- :class:`OneStepBandit`: the policy must prefer the rewarding action;
- :class:`DelayedReward`: the critic must discount a reward one step away;
- :class:`StateDependentReward`: the critic must read the observation;
- :class:`RememberSign`: the policy must remember an earlier observation
  (a memoryless agent cannot score above 1/2).

They are ordinary gymnax environments (six-value ``step`` with same-step
auto-reset from gymnax's base class), so any algorithm that takes a gymnax
environment takes them. Observations are ``(1,)`` float32 ``Box`` vectors and
actions ``Discrete(2)``, so the smallest MLP agent runs on all three. They are
not registered with :func:`jaxrl.make`; build them directly::

    env = OneStepBandit()
    train = ppo.make_train(config, env, env.default_params)
    out = jax.jit(train)(jax.random.key(0))

A probe ends by termination, never by its step limit: ``max_steps_in_episode``
is larger than the episode, so every bootstrap target comes from the rules.
"""

import jax
import jax.numpy as jnp
from flax import struct
from gymnax.environments import environment, spaces

__all__ = [
    "PROBES",
    "DelayedReward",
    "OneStepBandit",
    "ProbeParams",
    "ProbeState",
    "RememberSign",
    "StateDependentReward",
]


@struct.dataclass
class ProbeState(environment.EnvState):
    """A probe episode: the step count and the sign shown to the agent."""

    time: jax.Array  # () int32, steps taken this episode
    sign: jax.Array  # () float32, +1 or -1 (StateDependentReward); else 1


@struct.dataclass
class ProbeParams(environment.EnvParams):
    """Probe parameters; every field may be vmapped."""

    max_steps_in_episode: int = 8  # traced: above every probe's episode length


class _Probe(environment.Environment[ProbeState, ProbeParams]):
    """What the probes share: spaces, params and the observation's form."""

    num_episode_steps = 1  # steps until termination

    @property
    def default_params(self) -> ProbeParams:
        return ProbeParams()

    @property
    def num_actions(self) -> int:
        return 2

    def action_space(self, params: ProbeParams | None = None) -> spaces.Discrete:
        return spaces.Discrete(2)

    def observation_space(self, params: ProbeParams | None = None) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (1,), jnp.float32)

    def _start(self, sign: jax.Array) -> ProbeState:
        return ProbeState(time=jnp.int32(0), sign=jnp.asarray(sign, jnp.float32))

    def _end_step(self, key, state: ProbeState, params, reward, terminated):
        """Advance time and return gymnax's ``step_env`` five-tuple."""
        state = state.replace(time=state.time + 1)
        obs = self.observe(key, state, None, params)
        reward = jnp.asarray(reward, jnp.float32)
        return obs, state, reward, jnp.asarray(terminated, jnp.bool_), {}


class OneStepBandit(_Probe):
    """A two-armed bandit with a constant observation.

    Observation: ``(1,)`` float32, always 0.
    Action: ``Discrete(2)``.
    Reward: 1 for action 1, 0 for action 0.
    Termination: after the one step.
    Truncation: ``time >= params.max_steps_in_episode`` (8; never reached).
    State: :class:`ProbeState`.
    Static args: none.
    Params: :class:`ProbeParams`.

    The optimal return is 1 (always action 1). The critic has nothing to
    learn from the observation: its value is the policy's expected reward,
    ``pi(1)``, which tends to 1. A policy that does not come to prefer
    action 1 has a broken policy loss or advantage sign.

    Example::

        env = OneStepBandit()
        obs, state = env.reset(jax.random.key(0))
        obs, state, reward, terminated, *_ = env.step(key, state, 1)  # 1.0, True
    """

    def reset_env(self, key, params: ProbeParams):
        state = self._start(1.0)
        return self.observe(key, state, None, params), state

    def step_env(self, key, state: ProbeState, action, params: ProbeParams):
        reward = (jnp.asarray(action) == 1).astype(jnp.float32)
        return self._end_step(key, state, params, reward, True)

    def observe(self, key, state: ProbeState, action, params) -> jax.Array:
        return jnp.zeros((1,), jnp.float32)


class DelayedReward(_Probe):
    """Two steps whatever the actions; the reward comes only at the second.

    Observation: ``(1,)`` float32, 0 in the first state and 1 in the second.
    Action: ``Discrete(2)``, ignored.
    Reward: 0 on the first step, 1 on the second.
    Termination: after the second step.
    Truncation: ``time >= params.max_steps_in_episode`` (8; never reached).
    State: :class:`ProbeState`.
    Static args: none.
    Params: :class:`ProbeParams`.

    The optimal (and only) return is 1, discounted to ``gamma`` from the
    start. A correct critic learns ``V(obs=0) = gamma`` and ``V(obs=1) = 1``;
    a value near 1 in the first state means the discount is not applied, a
    value near 0 means the bootstrap from the second state is lost.

    Example::

        env = DelayedReward()
        obs, state = env.reset(jax.random.key(0))  # obs [0.]
        obs, state, reward, terminated, *_ = env.step(key, state, 0)  # [1.], 0, False
    """

    num_episode_steps = 2

    def reset_env(self, key, params: ProbeParams):
        state = self._start(1.0)
        return self.observe(key, state, None, params), state

    def step_env(self, key, state: ProbeState, action, params: ProbeParams):
        last = state.time >= 1  # this step is the episode's second
        return self._end_step(key, state, params, last.astype(jnp.float32), last)

    def observe(self, key, state: ProbeState, action, params) -> jax.Array:
        return jnp.minimum(state.time, 1).astype(jnp.float32)[None]


class StateDependentReward(_Probe):
    """One step whose reward is the sign the agent observes.

    Observation: ``(1,)`` float32, a sign drawn at reset: +1 or -1 with
    probability 1/2 each.
    Action: ``Discrete(2)``, ignored.
    Reward: the observed sign.
    Termination: after the one step.
    Truncation: ``time >= params.max_steps_in_episode`` (8; never reached).
    State: :class:`ProbeState` (``sign`` holds the draw).
    Static args: none.
    Params: :class:`ProbeParams`.

    The expected return is 0 and no policy changes it. A correct critic
    learns ``V(+1) = 1`` and ``V(-1) = -1``; values near 0 for both mean the
    critic ignores its input (or sees the wrong observation).

    Example::

        env = StateDependentReward()
        obs, state = env.reset(jax.random.key(0))  # obs [1.] or [-1.]
        _, _, reward, terminated, *_ = env.step(key, state, 0)  # reward == obs[0]
    """

    def reset_env(self, key, params: ProbeParams):
        sign = jnp.where(jax.random.bernoulli(key), 1.0, -1.0)
        state = self._start(sign)
        return self.observe(key, state, None, params), state

    def step_env(self, key, state: ProbeState, action, params: ProbeParams):
        return self._end_step(key, state, params, state.sign, True)

    def observe(self, key, state: ProbeState, action, params) -> jax.Array:
        return state.sign[None]


class RememberSign(_Probe):
    """A sign shown once, then the action that matches it pays.

    Observation: ``(1,)`` float32: at the first step a sign drawn at reset,
    +1 or -1 with probability 1/2 each; 0 at the second.
    Action: ``Discrete(2)``; ignored at the first step.
    Reward: 0 at the first step; at the second, 1 for the action matching
    the sign shown (1 for +1, 0 for -1), else 0.
    Termination: after the second step.
    Truncation: ``time >= params.max_steps_in_episode`` (8; never reached).
    State: :class:`ProbeState` (``sign`` holds the draw).
    Static args: none.
    Params: :class:`ProbeParams`.

    The optimal return is 1. When the reward is due the observation is the
    same whatever the sign, so a policy without memory scores 1/2 at best;
    a recurrent policy that scores near 1 carries its state across steps.

    Example::

        env = RememberSign()
        obs, state = env.reset(jax.random.key(0))  # [1.] or [-1.]
        obs, state, *_ = env.step(key, state, 0)  # [0.], reward 0
        _, _, reward, terminated, *_ = env.step(key, state, 1)  # 1 if the sign was +1
    """

    num_episode_steps = 2

    def reset_env(self, key, params: ProbeParams):
        sign = jnp.where(jax.random.bernoulli(key), 1.0, -1.0)
        state = self._start(sign)
        return self.observe(key, state, None, params), state

    def step_env(self, key, state: ProbeState, action, params: ProbeParams):
        last = state.time >= 1
        matches = (jnp.asarray(action) == 1) == (state.sign > 0)
        reward = (last & matches).astype(jnp.float32)
        return self._end_step(key, state, params, reward, last)

    def observe(self, key, state: ProbeState, action, params) -> jax.Array:
        return jnp.where(state.time == 0, state.sign, 0.0)[None]


PROBES: tuple[type[environment.Environment], ...] = (
    OneStepBandit,
    DelayedReward,
    StateDependentReward,
    RememberSign,
)
"""Every probe class, for parametrised tests."""
