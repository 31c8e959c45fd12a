"""Shape and dtype inference helpers shared by the op families.

A type is anything with ``.shape`` (a tuple whose unknown entries are None)
and ``.dtype``; ``infer`` methods return a ``(shape, dtype)`` pair.
"""
import numpy as np

from .._state import QiflowError


def known(d):
    """d is a size known now (an int), not None or a symbolic size."""
    return isinstance(d, (int, np.integer)) and not isinstance(d, bool)


class Sym:
    """A symbolic size (the compiler's shape analysis): sizes known only at run
    time, two equal ``Sym`` are surely the same size.  Every ``infer`` treats
    anything that is not an int as unknown and copies sizes it passes through."""
    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __eq__(self, other):
        return isinstance(other, Sym) and other.key == self.key

    def __hash__(self):
        return hash(self.key)

    def __repr__(self):
        return f"Sym{self.key!r}"

    @staticmethod
    def merge(syms):
        """The size of broadcasting unknown sizes together (equal to each one that is not 1)."""
        flat = set()
        for s in syms:
            flat |= s.key[1] if s.key[0] == "bc" else {s}
        return Sym(("bc", frozenset(flat)))


_PLAIN = (int, type(None), Sym)


def broadcast_shapes(opname, *shapes):
    """NumPy broadcasting over shapes that may hold unknown sizes (None, or ``Sym``)."""
    first = None                  # fast path: the non-scalar shapes are one and the same
    for s in shapes:
        if s:
            if first is None:
                first = s
            elif s != first:
                break
    else:
        if first is None:
            return ()
        if all(d.__class__ in _PLAIN for d in first):
            return tuple(first)
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(-ndim, 0):
        vals = [s[i] for s in shapes if len(s) >= -i]
        ints = {int(d) for d in vals if known(d) and d != 1}
        if len(ints) > 1:
            raise QiflowError(
                f"{opname}: shapes {' and '.join(str(tuple(s)) for s in shapes)} "
                f"cannot be broadcast together")
        if ints:
            out.append(ints.pop())       # an unknown size must then be 1 or equal to it
            continue
        unknown = [d for d in vals if not known(d)]
        if not unknown:
            out.append(1)
        elif any(d is None for d in unknown):
            out.append(None)
        else:
            syms = set(unknown)
            out.append(syms.pop() if len(syms) == 1 else Sym.merge(syms))
    return tuple(out)


_DTYPES = {}      # (op, dtypes and ndims) -> dtype, for qiflow's own ops


def result_dtype(op, types):
    """The dtype ``op.forward`` gives on arrays of these dtypes (asks NumPy; remembered
    for qiflow's own ops, whose forward depends on nothing but their props)."""
    own = type(op).__module__.startswith("qiflow.")
    if own:
        key = (op,) + tuple((t.dtype, len(t.shape)) for t in types)
        try:
            got = _DTYPES.get(key)
        except TypeError:         # a prop that does not hash
            own, got = False, None
        if got is not None:
            return got
    dummies = [np.ones((1,) * len(t.shape), dtype=t.dtype) for t in types]
    with np.errstate(all="ignore"):
        dt = np.asarray(op.forward(*dummies)).dtype
    if own and len(_DTYPES) < 100_000:
        _DTYPES[key] = dt
    return dt


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
