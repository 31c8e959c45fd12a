"""Small pattern-matching helpers shared by the rewrites."""
import numpy as np

from ..graph import Constant


def op_is(fg, v, cls):
    """v's Apply node when its op is an instance of ``cls``, else None."""
    node = fg.owner(v)
    if node is not None and isinstance(node.op, cls):
        return node
    return None


def const(v):
    """The value of a constant variable (ndarray) or None."""
    return v.data if isinstance(v, Constant) else None


def is_scalar_const(v, value=None):
    """v is a one-element constant (equal to ``value`` when given)."""
    if not isinstance(v, Constant):
        return False
    d = v.data
    if d.size != 1:
        return False
    if value is None:
        return True
    if d.dtype.kind in "biufc":        # a number compares as the array would
        return bool(d.item() == value)
    return bool(np.all(d == value))


def neutral(c, x, out, value):
    """c is a one-element constant equal to ``value`` that cannot change x's
    shape or dtype when combined with it (so ``x op c`` is just x)."""
    return (isinstance(c, Constant) and c.ndim <= x.ndim and out.ndim == x.ndim
            and out.type.dtype == x.type.dtype and is_scalar_const(c, value))


def same_static_shape(a, b):
    """a and b surely have the same shape (every dimension known and equal)."""
    sa, sb = a.type.shape, b.type.shape
    return sa == sb and None not in sa


def cannot_broadcast(small, big):
    """Combining ``small`` with ``big`` surely leaves big's shape unchanged."""
    ss, sb = small.type.shape, big.type.shape
    if len(ss) > len(sb):
        return False
    for d, e in zip(ss[::-1], sb[::-1]):
        if d == 1:
            continue
        if d is None or e is None or d != e:
            return False
    return True
