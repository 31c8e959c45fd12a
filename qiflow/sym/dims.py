"""Symbolic dimensions: which unknown sizes are surely equal.

Each dimension of each variable gets a token: an int when known, otherwise a
symbolic size (``ops.shapes.Sym``) naming where it comes from (an input's
axis, a broadcast of other sizes ...).  The tokens of a node's output come
from its op's own ``infer``, run on its inputs' tokens: every ``infer`` copies
the sizes it passes through, so no second table of shape rules exists.  Two
variables with equal tokens surely have equal shapes, even when no size is
known: e.g. ``sum_to_like(g, x)`` where g was computed elementwise from x
does nothing and can go.
"""
from ..ops.base import Op
from ..ops.shapes import Sym, known, broadcast_shapes

_default_infer = Op.infer


def broadcast(*dims_list):
    """Tokens of NumPy broadcasting of several token tuples."""
    return broadcast_shapes("broadcast", *dims_list)


def fits(small, big):
    """Broadcasting ``small`` against ``big`` surely leaves big's shape unchanged."""
    if len(small) > len(big):
        return False
    return all(s == 1 or s == b for s, b in zip(small[::-1], big[::-1]))


class _TokenType:
    """A type whose shape holds tokens, for running an op's ``infer``."""
    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype

    @property
    def ndim(self):
        return len(self.shape)


class Dims:
    """Token tuples of variables, computed on demand and memoised."""

    def __init__(self, owner=lambda v: v.owner):
        self.memo = {}
        self.keep = []
        self.owner = owner

    def of(self, var):
        got = self.memo.get(id(var))
        if got is not None:
            return got
        stack = [var]
        while stack:
            v = stack[-1]
            if id(v) in self.memo:
                stack.pop()
                continue
            node = self.owner(v)
            missing = [i for i in node.inputs if id(i) not in self.memo] if node is not None else []
            if missing:
                stack.extend(missing)
                continue
            stack.pop()
            self.memo[id(v)] = self._compute(v, node)
            self.keep.append(v)
        return self.memo[id(var)]

    def _fresh(self, v, k):
        return Sym(("v", id(v), k))

    def _compute(self, v, node):
        st = v.type.shape
        if node is None:
            return tuple(d if known(d) else self._fresh(v, k) for k, d in enumerate(st))
        try:
            if type(node.op).infer is _default_infer:   # shapes only: no dtype to ask NumPy for
                res = broadcast_shapes(node.op.name, *(self.memo[id(i)] for i in node.inputs))
            else:
                types = [_TokenType(self.memo[id(i)], i.type.dtype) for i in node.inputs]
                res = tuple(node.op.infer(*types)[0])
        except Exception:          # an infer that needs known sizes: nothing is learnt
            res = None
        if res is None or len(res) != len(st):
            return tuple(d if known(d) else self._fresh(v, k) for k, d in enumerate(st))
        # a statically known size wins over a token; what infer could not tell is fresh
        return tuple(s if known(s) else (r if isinstance(r, Sym) or known(r) else self._fresh(v, k))
                     for k, (s, r) in enumerate(zip(st, res)))


def dims_of(fg, v):
    d = getattr(fg, "_dims", None)
    if d is None:
        d = fg._dims = Dims(fg.owner)
    return d.of(v)
