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
    shape_inputs = (0,)

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
    shape_inputs = (1,)

    def __init__(self, template): self.template = template

    def infer(self, g, x, *bounds):
        return x.shape, g.dtype

    def forward(self, g, x, *bounds):
        index = _resolve(self.template, bounds)
        shape = np.shape(x)
        if np.shape(g) == shape and all(isinstance(p, slice) and p.step in (None, 1) for p in index):
            return np.array(g)        # the slice is all of x (same size, in order): no zeros
        out = np.zeros(shape, dtype=g.dtype)
        out[index] = g
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


# ------------------------------------------------ shapes given by symbolic sizes
def _sizes(opname, shape):
    """A shape of ints and scalar variables -> (template, variable inputs)."""
    if isinstance(shape, Symbolic) and shape.ndim == 1:
        n = shape.type.shape[0]
        if n is None:
            raise QiflowError(f"{opname}: the length of the shape vector {shape!r} must be known "
                              "(give a tuple of sizes, or ndim=)")
        shape = tuple(shape[k] for k in range(n))
    if isinstance(shape, (int, np.integer, Symbolic)):
        shape = (shape,)
    template, inputs = [], []
    for d in shape:
        if isinstance(d, Symbolic):
            if d.ndim != 0 or d.dtype.kind not in "iu":
                raise QiflowError(f"{opname}: sizes must be integer scalars, got {d!r} ({d.type})")
            template.append(("in", len(inputs)))
            inputs.append(d)
        else:
            template.append(int(d))
    return tuple(template), inputs


def _shape_of(template, sizes):
    return tuple(int(sizes[p[1]]) if isinstance(p, tuple) else p for p in template)


class DynamicReshape(Op):
    """x reshaped to a shape whose sizes may be scalar inputs (one may be -1)."""
    #: symbolic graphs only (no eager form): checked there, not in the op table
    tested_in = "tests/sym/test_theano_names.py"
    __slots__ = ("template",)
    props = ("template",)
    view_map = {0: [0]}

    def __init__(self, template): self.template = template

    def infer(self, x, *sizes):
        if sum(1 for p in self.template if p == -1) > 1:
            raise QiflowError(f"reshape: only one -1 allowed in {self.template}")
        return tuple(None if isinstance(p, tuple) or p == -1 else p for p in self.template), x.dtype

    def forward(self, x, *sizes):
        shape = _shape_of(self.template, sizes)
        try:
            return x.reshape(shape)
        except ValueError:
            raise QiflowError(f"reshape: cannot reshape an array of shape {x.shape} into "
                              f"{shape}") from None

    def vjp(self, ctx, inputs, output, g):
        from .movement import reshape_like
        return (reshape_like(g, inputs[0]),) + (None,) * (len(inputs) - 1)


def reshape(x, shape, ndim=None):
    """Reshape with sizes that may be symbolic scalars (Theano's ``T.reshape``)."""
    template, inputs = _sizes("reshape", shape)
    if ndim is not None and ndim != len(template):
        raise QiflowError(f"reshape: ndim {ndim} does not match the shape's length {len(template)}")
    if not inputs:
        from .movement import reshape as static
        return static(x, template)
    return apply(DynamicReshape(template), x, *inputs)


class Alloc(Op):
    """``value`` broadcast to a shape whose sizes may be scalar inputs (a new array)."""
    #: symbolic graphs only (no eager form): checked there, not in the op table
    tested_in = "tests/sym/test_theano_names.py"
    __slots__ = ("template", "dtype")
    props = ("template", "dtype")
    view_map = {}

    def __init__(self, template, dtype): self.template, self.dtype = template, dtype

    def infer(self, value, *sizes):
        n = len(self.template)
        if len(value.shape) > n:
            raise QiflowError(f"alloc: the value has ndim {len(value.shape)}, more than the "
                              f"{n} sizes given")
        return tuple(None if isinstance(p, tuple) else p for p in self.template), \
            np.dtype(self.dtype or value.dtype)

    def forward(self, value, *sizes):
        shape = _shape_of(self.template, sizes)
        out = np.empty(shape, dtype=self.dtype or value.dtype)
        try:
            out[...] = value
        except ValueError:
            raise QiflowError(f"alloc: cannot broadcast a value of shape {np.shape(value)} to "
                              f"{shape}") from None
        return out

    def vjp(self, ctx, inputs, output, g):
        return (g,) + (None,) * (len(inputs) - 1)


def alloc(value, *shape, dtype=None):
    """An array of the given shape (sizes may be symbolic) filled with ``value``."""
    if len(shape) == 1 and (isinstance(shape[0], (tuple, list)) or (
            isinstance(shape[0], Symbolic) and shape[0].ndim == 1)):
        shape = shape[0]
    template, inputs = _sizes("alloc", shape)
    return apply(Alloc(template, None if dtype is None else np.dtype(dtype)), value, *inputs)
