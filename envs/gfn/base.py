"""The contract of a GFlowNet environment: a DAG of partial objects.

A GFlowNet builds an object step by step from an initial state ``s0``; the
exit (stop) action ends the trajectory and makes the current object the
sample. An environment here is a set of pure functions of fixed-shape state
pytrees, written for one state (``jax.vmap`` them for a batch), with no
Python control flow on traced values, so they jit, vmap and scan.

Conventions every environment follows:

- Forward actions are ``0 .. num_actions - 1``; the last one,
  ``exit_action``, is the stop action.
- Backward action ``a`` undoes forward action ``a``: the parent reached by
  ``backward_step(s, a)`` goes back to ``s`` with forward action ``a``. A
  terminal state's only backward action is ``exit_action`` (its parent is
  the same object before it stopped), so ``P_B(x | x_terminal) = 1``.
- Stepping a terminal state with any action returns it unchanged, so a
  padded trajectory can keep stepping after it ends.
- The reward is not part of the environment: a reward is a separate object
  whose ``log_reward(state)`` is a pure function of a (terminal) state, so
  the same environment can be trained towards any reward.

Enumerable environments (``is_enumerable``) also list every non-terminal
state, index them and give each a level (every parent has a smaller level
than its child); exact evaluation (``jaxrl.algos.gflownet.evaluation``)
needs these.
"""

from typing import Any

import jax


class GFNEnvironment:
    """Base class of GFlowNet environments (one state at a time; vmap it).

    Attributes:
        num_actions: forward actions, the exit action included (static).
        exit_action: index of the exit (stop) action: ``num_actions - 1``.
        max_length: the most forward steps a trajectory takes, its exit step
            included (static; trajectories are padded to this length).
        observation_size: length of ``observe(state)``.
        has_exit_everywhere: every non-terminal state may exit, so every state
            is also an object (modified DB and forward-looking DB need this).
        is_enumerable: ``all_states`` and friends are implemented and small
            enough to list.
    """

    num_actions: int
    max_length: int
    observation_size: int
    has_exit_everywhere: bool = False
    is_enumerable: bool = False

    @property
    def exit_action(self) -> int:
        return self.num_actions - 1

    def initial_state(self) -> Any:
        """The initial state ``s0`` (unbatched)."""
        raise NotImplementedError

    def step(self, state: Any, action: jax.Array) -> Any:
        """The child reached from ``state`` with forward ``action``.

        Valid only where ``forward_mask(state)[action]``; a terminal state is
        returned unchanged.
        """
        raise NotImplementedError

    def backward_step(self, state: Any, action: jax.Array) -> Any:
        """The parent reached from ``state`` with backward ``action`` (the
        forward action that led from that parent to ``state``)."""
        raise NotImplementedError

    def forward_mask(self, state: Any) -> jax.Array:
        """``(num_actions,)`` bool: valid forward actions, exit included; all
        False for a terminal state."""
        raise NotImplementedError

    def backward_mask(self, state: Any) -> jax.Array:
        """``(num_actions,)`` bool: valid backward actions; all False for
        ``s0``; only ``exit_action`` for a terminal state."""
        raise NotImplementedError

    def is_terminal(self, state: Any) -> jax.Array:
        """() bool: the trajectory has exited; ``state`` is a finished object."""
        raise NotImplementedError

    def is_initial(self, state: Any) -> jax.Array:
        """() bool: ``state`` is ``s0``."""
        raise NotImplementedError

    def observe(self, state: Any) -> jax.Array:
        """``(observation_size,)`` float32 features for the policy network."""
        raise NotImplementedError

    # Enumerable environments only.
    num_states: int  # non-terminal states
    num_levels: int  # levels 0 .. num_levels - 1; s0 is level 0

    def all_states(self) -> Any:
        """Every non-terminal state, leaves ``(num_states, ...)``, in index
        order (``state_index(all_states()[i]) == i``)."""
        raise NotImplementedError

    def state_index(self, state: Any) -> jax.Array:
        """() int32 in ``[0, num_states)``; a terminal state has the index of
        the object it holds."""
        raise NotImplementedError

    def level(self, state: Any) -> jax.Array:
        """() int32: larger than the level of each of the state's parents."""
        raise NotImplementedError
