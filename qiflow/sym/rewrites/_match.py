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
    d = const(v)
    if d is None or d.size != 1:
        return False
    return value is None or bool(np.all(d == value))


def neutral(c, x, out, value):
    """c is a one-element constant equal to ``value`` that cannot change x's
    shape or dtype when combined with it (so ``x op c`` is just x)."""
    return (is_scalar_const(c, value) and c.ndim <= x.ndim and out.dtype == x.dtype
            and out.ndim == x.ndim)


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
