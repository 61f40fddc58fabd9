"""Missions as integers: one table for every gridworld task.

Farama MiniGrid states each episode's goal as a string ("pick up the red
ball"). Here the observation carries its index in :data:`MISSIONS`, so a
policy can condition on it with an embedding; :func:`mission_text` gives the
string back. The table is built from a fixed list of templates, in order,
each expanded over its slots (colors in Farama's order, then object kinds),
so an index never changes between versions unless a template is appended at
the end.

``python -m jaxrl.envs.gridworld.missions`` prints the table.
"""

import itertools

import jax.numpy as jnp
import numpy as np

from jaxrl.envs.gridworld import constants as C

# Object kinds that missions name, in Farama's order.
KINDS = {"key": C.KEY, "ball": C.BALL, "box": C.BOX}
_COLORS = C.COLOR_NAMES
_FETCH_PHRASES = ("get a", "go get a", "fetch a", "go fetch a", "you must fetch a")

# (template, slots): each slot is a tuple of the words it takes.
_TEMPLATES = (
    ("get to the green goal square", ()),
    ("reach the goal", ()),
    ("use the key to open the door and then get to the goal", ()),
    ("traverse the rooms to get to the goal", ()),
    ("avoid the lava and get to the green goal square", ()),
    ("find the opening and get to the green goal square", ()),
    ("open the door", ()),
    ("open the red door then the blue door", ()),
    ("go to the matching object at the end of the hallway", ()),
    ("", ()),
    ("pick up the {} {}", (_COLORS, tuple(KINDS))),
    ("go to the {} door", (_COLORS,)),
    ("go to the {} {}", (_COLORS, tuple(KINDS))),
    ("{} {} {}", (_FETCH_PHRASES, _COLORS, ("key", "ball"))),
    ("put the {} {} near the {} {}", (_COLORS, tuple(KINDS)) * 2),
    (
        "get the {} key from the {} room, unlock the {} door and go to the goal",
        (_COLORS,) * 3,
    ),
)


def _expand():
    missions, bases = [], {}
    for template, slots in _TEMPLATES:
        bases[template] = len(missions)
        for words in itertools.product(*slots):
            missions.append(template.format(*words))
    return tuple(missions), bases


MISSIONS, _BASES = _expand()
NUM_MISSIONS = len(MISSIONS)
_INDEX = {text: i for i, text in enumerate(MISSIONS)}
# The vocabulary as text: the longest mission and every character used, what
# a gymnasium Text space of Farama's mission strings needs.
MAX_MISSION_LENGTH = max(len(text) for text in MISSIONS)
MISSION_CHARSET = frozenset("".join(MISSIONS))


def mission_text(mission) -> str:
    """Farama's mission string of an index, inverse of :func:`mission_id`.

    Args:
        mission: a Python or NumPy integer, or a () integer array (an
            observation's ``mission``, a state's ``mission``).

    Raises:
        ValueError: not an integer in ``[0, NUM_MISSIONS)``.
    """
    value = np.asarray(mission)
    if value.shape != () or not np.issubdtype(value.dtype, np.integer):
        raise ValueError(f"mission must be a () integer, got {mission!r}")
    if not 0 <= int(value) < NUM_MISSIONS:
        raise ValueError(f"mission must be in [0, {NUM_MISSIONS}), got {int(value)}")
    return MISSIONS[int(value)]


def mission_id(text: str) -> int:
    """The index of a Farama mission string.

    Raises:
        ValueError: the string is not in the table.
    """
    try:
        return _INDEX[text]
    except KeyError:
        raise ValueError(
            f"unknown mission {text!r}; `python -m jaxrl.envs.gridworld.missions` "
            "lists the known ones"
        ) from None


def fixed(text: str) -> int:
    """The index of a mission with no slots, as a Python int."""
    return mission_id(text)


def slotted(template: str, *indices) -> jnp.ndarray:
    """() int32 index of ``template`` with its slots filled by word indices.

    Each index (traced or not) picks a word of its slot: a color index
    (``C.RED``...), a kind index into ``("key", "ball", "box")``, a phrase
    index. The result is ``base + ravel(indices)`` over the slot sizes.
    """
    slots = dict(_TEMPLATES)[template]
    if len(indices) != len(slots):
        raise ValueError(f"{template!r} takes {len(slots)} slot indices")
    flat = jnp.int32(0)
    for index, words in zip(indices, slots, strict=True):
        flat = flat * len(words) + jnp.asarray(index, jnp.int32)
    return jnp.int32(_BASES[template]) + flat


def kind_index(object_code) -> jnp.ndarray:
    """Index into ``("key", "ball", "box")`` of an object code (key, ball or box)."""
    return jnp.asarray(object_code, jnp.int32) - C.KEY


def slots_of(template: str, mission: jnp.ndarray) -> tuple[jnp.ndarray, ...]:
    """The word indices of a ``template`` mission, inverse of :func:`slotted`."""
    slots = dict(_TEMPLATES)[template]
    flat = jnp.asarray(mission, jnp.int32) - _BASES[template]
    indices = []
    for words in reversed(slots):
        flat, index = jnp.divmod(flat, len(words))
        indices.append(index)
    return tuple(reversed(indices))


PICK_UP = "pick up the {} {}"


def pick_up(color, object_code) -> jnp.ndarray:
    """() int32 index of "pick up the {color} {kind}"."""
    return slotted(PICK_UP, color, kind_index(object_code))


def pick_up_target(mission) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(object code, color)`` named by a "pick up the ..." mission."""
    color, kind = slots_of(PICK_UP, mission)
    return kind + C.KEY, color


def table() -> str:
    """The mission table as text, one ``index: mission`` per line."""
    return "\n".join(f"{i:4d}: {text!r}" for i, text in enumerate(MISSIONS))


if __name__ == "__main__":
    print(table())
