"""Symbolic dimensions: which unknown sizes are surely equal.

Each dimension of each variable gets a token: an int when known, otherwise a
hashable description of where the size comes from (an input's axis, a
broadcast of other tokens ...).  Two variables with equal tokens surely have
equal shapes, even when no size is known: e.g. ``sum_to_like(g, x)`` where g
was computed elementwise from x does nothing and can go.
"""
from ..ops import elementwise as E
from ..ops import movement as M
from ..ops import reduce as R
from ..ops.linalg import MatMul
from ..functional import StopGradient
from .kernels import is_elementwise


def broadcast(*dims_list):
    """Tokens of NumPy broadcasting of several token tuples."""
    n = max((len(d) for d in dims_list), default=0)
    out = []
    for k in range(-n, 0):
        toks = []
        for d in dims_list:
            if len(d) >= -k:
                t = d[k]
                if t != 1 and t not in toks:
                    toks.append(t)
        if not toks:
            out.append(1)
        elif len(toks) == 1:
            out.append(toks[0])
        else:
            ints = [t for t in toks if isinstance(t, int)]
            if ints:
                out.append(ints[0])       # the unknown ones must be 1 or equal to it
            else:
                flat = set()
                for t in toks:
                    flat |= t[1] if isinstance(t, tuple) and t[0] == "bc" else {t}
                out.append(("bc", frozenset(flat)))
    return tuple(out)


def fits(small, big):
    """Broadcasting ``small`` against ``big`` surely leaves big's shape unchanged."""
    if len(small) > len(big):
        return False
    return all(s == 1 or s == b for s, b in zip(small[::-1], big[::-1]))


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

    def _fresh(self, v):
        return tuple(d if d is not None else ("v", id(v), k) for k, d in enumerate(v.type.shape))

    def _compute(self, v, node):
        st = v.type.shape
        if node is None:
            return self._fresh(v)
        op = node.op
        ins = [self.memo[id(i)] for i in node.inputs]
        res = self._rule(op, node, ins)
        if res is None or len(res) != len(st):
            return self._fresh(v)
        # a statically known size wins over a token
        return tuple(s if s is not None else r for s, r in zip(st, res))

    def _rule(self, op, node, ins):
        if isinstance(op, (M.SumToLike, M.BroadcastLike, M.ReshapeLike)):
            return ins[1]
        if isinstance(op, (E.Cast, StopGradient)):
            return ins[0]
        if is_elementwise(op) or isinstance(op, (E.OnesLike, E.ZerosLike)):
            return broadcast(*ins) if not isinstance(op, (E.OnesLike, E.ZerosLike)) else ins[0]
        if isinstance(op, MatMul) or type(op).__name__ == "Gemm":
            a, b = ins[0], ins[1]
            out = broadcast(a[:-2], b[:-2]) + (a[-2], b[-1])
            return broadcast(out, ins[2]) if len(ins) == 3 else out
        if isinstance(op, R._Reduce) and not isinstance(op, R.Count):
            axes = range(len(ins[0])) if op.axis is None else op.axis
            if op.keepdims:
                return tuple(1 if k in axes else d for k, d in enumerate(ins[0]))
            return tuple(d for k, d in enumerate(ins[0]) if k not in axes)
        if isinstance(op, M.Transpose):
            return tuple(ins[0][a] for a in op.axes)
        if isinstance(op, M.ExpandDims):
            d = list(ins[0])
            for a in op.axes:
                d.insert(a, 1)
            return tuple(d)
        if isinstance(op, M.Squeeze):
            return tuple(d for k, d in enumerate(ins[0]) if k not in op.axes)
        return None


def dims_of(fg, v):
    d = getattr(fg, "_dims", None)
    if d is None:
        d = fg._dims = Dims(fg.owner)
    return d.of(v)
