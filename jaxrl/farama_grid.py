"""Farama MiniGrid objects (``Grid``, ``WorldObj``) built from jaxrl's cells.

Imports ``minigrid``: :mod:`jaxrl.farama_surface` loads this module only when
a Farama attribute that needs it is read, and turns a missing ``minigrid``
into an ``ImportError`` naming ``pip install 'jaxrl[farama]'``.

The objects are real ``minigrid.core`` objects (``isinstance(cell, Goal)``
holds, Farama's rendering and visibility code runs on them), sealed after
construction: setting an attribute, ``grid.set`` or assigning into
``grid.grid`` raises :class:`~jaxrl.farama_surface.ReadOnlyViewError`,
because the JAX state they were read from is the truth. ``grid.copy()``
returns an ordinary, mutable Farama ``Grid``.
"""

import functools

import numpy as np
from minigrid.core import world_object as farama_objects
from minigrid.core.actions import Actions
from minigrid.core.grid import Grid
from minigrid.minigrid_env import MiniGridEnv as FaramaEnv

from jaxrl.envs.gridworld import constants as C
from jaxrl.farama_surface import ReadOnlyViewError, read_only_message

__all__ = ["Actions", "FaramaEnv", "ViewGrid", "make_object"]


class _Sealed:
    """Refuses attribute changes once :meth:`_seal` has run."""

    _sealed = False

    def _seal(self) -> None:
        object.__setattr__(self, "_sealed", True)

    def __setattr__(self, name, value):
        if self._sealed:
            raise ReadOnlyViewError(read_only_message(f"{self.type_name}.{name}"))
        super().__setattr__(name, value)

    def __delattr__(self, name):
        if self._sealed:
            raise ReadOnlyViewError(read_only_message(f"{self.type_name}.{name}"))
        super().__delattr__(name)

    @property
    def type_name(self) -> str:
        return getattr(self, "type", "grid")


# One sealed class a Farama object class, so isinstance checks and Farama's
# methods (can_overlap, see_behind, render, encode) work unchanged.
class _Wall(_Sealed, farama_objects.Wall): ...


class _Floor(_Sealed, farama_objects.Floor): ...


class _Door(_Sealed, farama_objects.Door): ...


class _Key(_Sealed, farama_objects.Key): ...


class _Ball(_Sealed, farama_objects.Ball): ...


class _Box(_Sealed, farama_objects.Box): ...


class _Goal(_Sealed, farama_objects.Goal): ...


class _Lava(_Sealed, farama_objects.Lava): ...


_SEALED = {
    C.WALL: _Wall, C.FLOOR: _Floor, C.DOOR: _Door, C.KEY: _Key, C.BALL: _Ball,
    C.BOX: _Box, C.GOAL: _Goal, C.LAVA: _Lava,
}  # fmt: skip
_PLAIN = {
    C.WALL: farama_objects.Wall, C.FLOOR: farama_objects.Floor,
    C.DOOR: farama_objects.Door, C.KEY: farama_objects.Key,
    C.BALL: farama_objects.Ball, C.BOX: farama_objects.Box,
    C.GOAL: farama_objects.Goal, C.LAVA: farama_objects.Lava,
}  # fmt: skip


def make_object(cell, cur_pos=None, *, sealed: bool = True):
    """The Farama object of one of our encoded cells, or None when empty.

    Args:
        cell: ``(object, color, state)`` in jaxrl's encoding (a box's state
            byte holds what it contains, ``object * 16 + color``).
        cur_pos: the object's ``cur_pos`` (its cell, or ``(-1, -1)`` when
            carried, as Farama sets them); ``init_pos`` is not tracked (None).
        sealed: read-only objects (True) or ordinary Farama ones.

    Raises:
        ValueError: an object code with no Farama object.
    """
    kind, color_index, state = (int(v) for v in cell)
    if kind in (C.UNSEEN, C.EMPTY, C.AGENT):
        return None
    classes = _SEALED if sealed else _PLAIN
    if kind not in classes:
        raise ValueError(
            f"cell object code must be in [0, {C.NUM_OBJECTS}), got {kind}"
        )
    color = C.COLOR_NAMES[color_index]
    if kind == C.DOOR:
        obj = classes[kind](color, is_open=state == C.OPEN, is_locked=state == C.LOCKED)
    elif kind == C.BOX:
        inside = None if state == 0 else (state >> 4, state & 15, 0)
        contents = None if inside is None else make_object(inside, sealed=sealed)
        obj = classes[kind](color, contents)
    elif kind == C.LAVA:
        obj = classes[kind]()
    else:
        obj = classes[kind](color)
    obj.cur_pos = cur_pos
    if sealed:
        obj._seal()
    return obj


class _Cells(tuple):
    """``grid.grid``: Farama's row-major cells (a list there), read-only."""

    def _refuse(self, *args, **kwargs):
        raise ReadOnlyViewError(read_only_message("grid.grid"))

    __setitem__ = __delitem__ = append = extend = insert = pop = remove = _refuse


class ViewGrid(_Sealed, Grid):
    """A read-only Farama ``Grid`` of one state's ``(W, H, 3)`` cells.

    Farama's reading methods (``get``, ``slice``, ``rotate_left``,
    ``render``, ``__contains__``, ``Grid.decode``) work as on any ``Grid``;
    ``encode`` reads the cells directly (Farama's encoding: a box's contents
    hidden); ``set`` and the wall builders raise; ``copy`` gives a mutable
    ``Grid``.
    """

    def __init__(self, cells: np.ndarray):
        # Grid.__init__ would store a list of None in self.grid; the objects
        # are built on first use instead (encode needs none of them).
        self.width, self.height = cells.shape[0], cells.shape[1]
        self._cells = np.array(cells, np.uint8)
        self._seal()

    @functools.cached_property
    def grid(self) -> tuple:
        """Farama's row-major cells, built once; read-only."""
        cells, width = self._cells, self.width
        return _Cells(
            make_object(cells[i, j], (i, j))
            for j in range(self.height)
            for i in range(width)
        )

    def set(self, i, j, v):
        raise ReadOnlyViewError(read_only_message("grid.set"))

    def encode(self, vis_mask: np.ndarray | None = None) -> np.ndarray:
        array = self._cells.copy()
        array[array[..., 0] == C.BOX, 2] = 0  # Farama encodes a box's state as 0
        if vis_mask is not None:
            array[~np.asarray(vis_mask, bool)] = 0
        return array

    def copy(self) -> Grid:
        """An ordinary (mutable) Farama ``Grid`` equal to this one."""
        grid = Grid(self.width, self.height)
        for j in range(self.height):
            for i in range(self.width):
                grid.set(i, j, make_object(self._cells[i, j], (i, j), sealed=False))
        return grid
