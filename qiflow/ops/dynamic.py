"""Primitives whose sizes or bounds are known only at run time: ``Shape`` (the
shape as a value), ``ARange`` with symbolic bounds, ``FlattenTail`` (merge the
trailing axes whatever their sizes) and slicing with symbolic bounds
(``x[i * n:(i + 1) * n]``).  They follow the op protocol like every other
primitive; the symbolic front door uses them for Theano's ``x.shape``,
``T.arange``, ``x.flatten(ndim)`` and minibatch slices.

>>> from qiflow import sym as T
>>> y = T.ivector('y'); n = y.shape[0]
>>> n.type, T.arange(n).type
(TensorType(int64, scalar), TensorType(int64, vector))
"""
import numpy as np

from .base import Op, apply, Symbolic
from . import indexing as _ix
from .shapes import known
from .._state import QiflowError


class Shape(Op):
    """The shape of its input as an int64 vector."""
    #: symbolic graphs only (no eager form): checked there, not in the op table
    tested_in = "tests/sym/test_dynamic_ops.py"
    __slots__ = ()
    differentiable = False
    view_map = {}

    def infer(self, t):
        return (len(t.shape),), np.dtype(np.int64)

    def forward(self, a):
        return np.array(np.shape(a), dtype=np.int64)


class ARange(Op):
    """np.arange(start, stop, step) with scalar inputs."""
    #: symbolic graphs only (no eager form): checked there, not in the op table
    tested_in = "tests/sym/test_dynamic_ops.py"
    __slots__ = ("dtype",)
    props = ("dtype",)
    differentiable = False
    view_map = {}

    def __init__(self, dtype): self.dtype = dtype

    def infer(self, start, stop, step):
        for name, t in (("start", start), ("stop", stop), ("step", step)):
            if len(t.shape) != 0:
                raise QiflowError(f"arange: {name} must be a scalar, got shape {tuple(t.shape)}")
        return (None,), self.dtype

    def forward(self, start, stop, step):
        return np.arange(start, stop, step, dtype=self.dtype)


def arange(start, stop=None, step=1, dtype=None):
    """Evenly spaced values in [start, stop) with symbolic bounds.

    >>> f = T.function([n := T.lscalar('n')], T.arange(n)); f(3).tolist()
    [0, 1, 2]
    """
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        vals = (start, stop, step)
        kinds = [v.dtype if isinstance(v, Symbolic) else np.asarray(v).dtype for v in vals]
        if all(k.kind in "iub" for k in kinds):
            dtype = np.int64
        else:
            from ..backend import get_default_dtype
            floats = [k for v, k in zip(vals, kinds) if isinstance(v, Symbolic) and k.kind == "f"]
            dtype = np.result_type(*floats) if floats else get_default_dtype()
    return apply(ARange(np.dtype(dtype)), start, stop, step)


class FlattenTail(Op):
    """Keep the first ``outdim - 1`` axes, merge the rest (sizes may be unknown)."""
    #: symbolic graphs only (no eager form): checked there, not in the op table
    tested_in = "tests/sym/test_dynamic_ops.py"
    __slots__ = ("outdim",)
    props = ("outdim",)
    view_map = {0: [0]}

    def __init__(self, outdim): self.outdim = outdim

    def infer(self, t):
        head, tail = t.shape[:self.outdim - 1], t.shape[self.outdim - 1:]
        n = int(np.prod(tail, dtype=np.int64)) if all(known(d) for d in tail) else None
        return tuple(head) + (n,), t.dtype

    def forward(self, a):
        return a.reshape(a.shape[:self.outdim - 1] + (-1,))

    def vjp(self, ctx, inputs, output, g):
        from ..ops.movement import reshape_like
        return (reshape_like(g, inputs[0]),)


# ------------------------------------------------------- slices with symbolic bounds
def _slice_part(p, arrays):
    out = []
    for v in (p.start, p.stop, p.step):
        if isinstance(v, Symbolic):
            out.append(("in", len(arrays)))
            arrays.append(v)
        else:
            out.append(None if v is None else int(v))
    return ("slice",) + tuple(out)


def _resolve(template, bounds):
    idx = []
    for p in template:
        if isinstance(p, tuple) and p[0] == "slice":
            vals = [int(bounds[v[1]]) if isinstance(v, tuple) else v for v in p[1:]]
            idx.append(slice(*vals))
        else:
            idx.append(p)
    return tuple(idx)


class DynamicSlice(Op):
    """x[template] where some slice bounds are scalar inputs (basic indexing only)."""
    #: symbolic graphs only (no eager form): checked there, not in the op table
    tested_in = "tests/sym/test_dynamic_ops.py"
    __slots__ = ("template",)
    props = ("template",)
    view_map = {0: [0]}

    def __init__(self, template): self.template = template

    def infer(self, x, *bounds):
        for t in bounds:
            if len(t.shape) != 0 or t.dtype.kind not in "iu":
                raise QiflowError(f"slice bounds must be integer scalars, got {t}")
        shape, dim = [], 0
        for p in self.template:
            if p is None:
                shape.append(1)
            elif isinstance(p, int):
                dim += 1
            else:
                vals = p[1:]
                d = x.shape[dim]
                if not known(d) or any(isinstance(v, tuple) for v in vals):
                    shape.append(None)
                else:
                    shape.append(len(range(*slice(*vals).indices(d))))
                dim += 1
        return tuple(shape) + tuple(x.shape[dim:]), x.dtype

    def forward(self, x, *bounds):
        return x[_resolve(self.template, bounds)]

    def vjp(self, ctx, inputs, output, g):
        return (apply(DynamicSliceGrad(self.template), g, *inputs),) + (None,) * (len(inputs) - 1)


class DynamicSliceGrad(Op):
    """zeros like x with g written at x[template]."""
    #: symbolic graphs only (no eager form): checked there, not in the op table
    tested_in = "tests/sym/test_dynamic_ops.py"
    __slots__ = ("template",)
    props = ("template",)
    view_map = {}

    def __init__(self, template): self.template = template

    def infer(self, g, x, *bounds):
        return x.shape, g.dtype

    def forward(self, g, x, *bounds):
        out = np.zeros(np.shape(x), dtype=g.dtype)
        out[_resolve(self.template, bounds)] = g
        return out

    def vjp(self, ctx, inputs, output, gg):
        return (apply(DynamicSlice(self.template), gg, *inputs[2:]),) + (None,) * (len(inputs) - 1)


def getitem(x, index):
    """``x[index]``; slices may have symbolic bounds (a minibatch chosen by an index)."""
    parts = index if isinstance(index, tuple) else (index,)
    dynamic = any(isinstance(p, slice) and any(isinstance(v, Symbolic) for v in (p.start, p.stop, p.step))
                  for p in parts)
    if not dynamic:
        return _ix.getitem(x, index)
    if any(p is Ellipsis or not (p is None or isinstance(p, (slice, int, np.integer))) for p in parts):
        raise QiflowError("getitem: a slice with symbolic bounds can be combined only with ints, "
                          "slices and None (no arrays or Ellipsis)")
    arrays = []
    template = tuple(_slice_part(p, arrays) if isinstance(p, slice) else (None if p is None else int(p))
                     for p in parts)
    return apply(DynamicSlice(template), x, *arrays)
