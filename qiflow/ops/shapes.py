"""Shape and dtype inference helpers shared by the op families.

A type is anything with ``.shape`` (a tuple whose unknown entries are None)
and ``.dtype``; ``infer`` methods return a ``(shape, dtype)`` pair.
"""
import numpy as np

from .._state import QiflowError


def broadcast_shapes(opname, *shapes):
    """NumPy broadcasting over shapes that may contain None (unknown)."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(-ndim, 0):
        dim = 1
        for s in shapes:
            if len(s) < -i:
                continue
            d = s[i]
            if d == 1:
                continue
            if d is None:
                if dim == 1:
                    dim = None
            elif dim == 1 or dim is None:
                dim = d
            elif dim != d:
                raise QiflowError(
                    f"{opname}: shapes {' and '.join(str(tuple(s)) for s in shapes)} "
                    f"cannot be broadcast together")
        out.append(dim)
    return tuple(out)


def result_dtype(op, types):
    """The dtype ``op.forward`` gives on arrays of these dtypes (asks NumPy)."""
    dummies = [np.ones((1,) * len(t.shape), dtype=t.dtype) for t in types]
    with np.errstate(all="ignore"):
        return np.asarray(op.forward(*dummies)).dtype


def broadcast_types(opname_or_op, types):
    op = opname_or_op
    shape = broadcast_shapes(op.name, *(t.shape for t in types))
    return shape, result_dtype(op, types)


def normalize_axis(opname, axis, ndim):
    """Axis argument (None, int or tuple, negatives allowed) -> sorted tuple."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise QiflowError(f"{opname}: axis {a} is out of range for an array of ndim {ndim}")
        a = a % ndim if ndim else 0
        if a in out:
            raise QiflowError(f"{opname}: axis {a} repeated in {axis}")
        out.append(a)
    return tuple(sorted(out))


def static_shape(x):
    """The shape known at graph-build time: a tuple (entries may be None when symbolic)."""
    if x.__class__ is np.ndarray:
        return x.shape                 # the backward pass's common case first
    from . import base
    if isinstance(x, base.Tensor):
        return x._data.shape
    if isinstance(x, base.Symbolic):
        return tuple(x.type.shape)
    return tuple(np.shape(x))
