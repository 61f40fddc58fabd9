"""Saving and restoring training state with orbax.

Typed PRNG keys are stored as their raw ``key_data`` and wrapped again on
restore; everything else is saved as is. A checkpoint directory that already
exists is never replaced.
"""

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp


def _is_typed_key(x) -> bool:
    """True for typed PRNG key arrays and for their ``ShapeDtypeStruct``s."""
    dtype = getattr(x, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _key_impl(x):
    if isinstance(x, jax.Array):
        return jax.random.key_impl(x)
    # WARN: jax has no public way to read the implementation of a shape-only
    # key; its key dtype carries it.
    return x.dtype._impl


def _to_raw(tree):
    """Typed keys become their ``key_data`` (shape-only leaves stay shape-only)."""

    def raw(x):
        if not _is_typed_key(x):
            return x
        if isinstance(x, jax.ShapeDtypeStruct):
            return jax.eval_shape(jax.random.key_data, x)
        return jax.random.key_data(x)

    return jax.tree.map(raw, tree)


def _is_empty(x) -> bool:
    """Zero-size arrays (a task with no marked cells) cannot be saved by orbax;
    they are left out and rebuilt from ``like`` on restore."""
    return getattr(x, "size", None) == 0


def _without_empty(tree):
    return jax.tree.map(lambda x: None if _is_empty(x) else x, tree)


def save(path: str | Path, tree: Any) -> Path:
    """Write ``tree`` (a pytree of arrays, typed keys allowed) to ``path``.

    Raises:
        FileExistsError: ``path`` exists already.
    """
    path = Path(path).absolute()
    if path.exists():
        raise FileExistsError(f"checkpoint {path} exists; refusing to overwrite it")
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(path, _without_empty(_to_raw(tree)))
        checkpointer.wait_until_finished()
    return path


def restore(path: str | Path, like: Any) -> Any:
    """Read a checkpoint written by :func:`save`.

    Args:
        path: the checkpoint directory.
        like: a pytree with the structure, shapes and dtypes to restore into
            (for example the state of a fresh run, or ``jax.eval_shape`` of
            one); its typed keys are restored as typed keys.

    Returns:
        The restored pytree.
    """
    path = Path(path).absolute()
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _to_raw(like))
    with ocp.StandardCheckpointer() as checkpointer:
        raw = checkpointer.restore(path, _without_empty(abstract))
    raw_leaves = jax.tree.leaves(raw, is_leaf=lambda x: x is None)
    like_leaves, structure = jax.tree.flatten(abstract)
    raw = jax.tree.unflatten(structure, [
        jnp.zeros(a.shape, a.dtype) if _is_empty(a) else r
        for r, a in zip(raw_leaves, like_leaves, strict=True)
    ])  # fmt: skip
    return jax.tree.map(
        lambda r, x: (
            jax.random.wrap_key_data(r, impl=_key_impl(x)) if _is_typed_key(x) else r
        ),
        raw,
        like,
    )
