"""Reductions: sum, mean, max, min, prod, argmax, argmin, and the count helper.

``axis`` may be None, an int or a tuple (negatives allowed); ``keepdims`` keeps
reduced axes as size 1.  Tie rule of max/min: the gradient of one reduced slot
is shared *evenly* among the elements equal to the extreme, so it sums to 1.

>>> x = qf.tensor([[1.0, 3.0], [3.0, 2.0]], requires_grad=True)
>>> x.max().backward(); x.grad.tolist()
[[0.0, 0.5], [0.5, 0.0]]
"""
import numpy as np

from .base import Op, apply
from .shapes import normalize_axis, static_shape
from .elementwise import where, equal
from .movement import expand_dims, broadcast_like


class _Reduce(Op):
    __slots__ = ("axis", "keepdims")
    props = ("axis", "keepdims")
    view_map = {}

    def __init__(self, axis=None, keepdims=False):
        self.axis = axis          # a normalised tuple, or None before it is known
        self.keepdims = keepdims

    def infer(self, t):
        axes = normalize_axis(self.name, self.axis, len(t.shape))
        if self.keepdims:
            shape = tuple(1 if i in axes else d for i, d in enumerate(t.shape))
        else:
            shape = tuple(d for i, d in enumerate(t.shape) if i not in axes)
        return shape, self._dtype(t.dtype)

    def _dtype(self, dtype):
        return dtype

    def _grad_shape(self, g, x):
        """g with the reduced axes restored as size 1 (ready to broadcast)."""
        if self.keepdims or self.axis is None:
            return g          # a full reduction's 0-d g broadcasts as it is
        return expand_dims(g, self.axis) if self.axis else g


class Sum(_Reduce):
    __slots__ = ()

    def _dtype(self, dtype):
        return np.sum(np.ones(1, dtype)).dtype

    def forward(self, a):
        return np.sum(a, axis=self.axis, keepdims=self.keepdims)

    def vjp(self, ctx, inputs, output, g):
        x = inputs[0]
        return (broadcast_like(self._grad_shape(g, x), x),)


class Mean(_Reduce):
    __slots__ = ()

    def _dtype(self, dtype):
        return np.mean(np.ones(1, dtype)).dtype

    def forward(self, a):
        if a.dtype.kind == "f" and a.dtype.itemsize >= 4:
            # what np.mean computes for float32/64 (same pairwise sum, same
            # divide) without its ~3 us of Python wrapper
            n = a.size if self.axis is None else _count(a.shape, self.axis)
            return np.add.reduce(a, axis=self.axis, keepdims=self.keepdims) / n
        return np.mean(a, axis=self.axis, keepdims=self.keepdims)

    def vjp(self, ctx, inputs, output, g):
        x = inputs[0]
        if self.axis is None and x.__class__ is np.ndarray:     # an array value: its size
            return (broadcast_like(g / x.size, x),)
        shape = static_shape(x)
        if None in shape:
            n = count(x, self.axis, dtype=g.dtype)
        else:
            n = _count(shape, self.axis)      # a Python int: mixes weakly, keeps g's dtype
        return (broadcast_like(self._grad_shape(g, x) / n, x),)


def _count(shape, axis):
    n = 1
    for i in (range(len(shape)) if axis is None else axis):
        n *= shape[i]
    return n


class Count(_Reduce):
    """The number of elements reduced over ``axis`` (a 0-d array of ``dtype``)."""
    __slots__ = ("dtype",)
    props = ("axis", "dtype")
    differentiable = False

    def __init__(self, axis, dtype):
        _Reduce.__init__(self, axis, False)
        self.dtype = np.dtype(dtype)

    def infer(self, t):
        return (), self.dtype

    def forward(self, a):
        axes = range(a.ndim) if self.axis is None else self.axis
        n = 1
        for i in axes:
            n *= a.shape[i]
        return np.asarray(n, dtype=self.dtype)


class _Extreme(_Reduce):
    __slots__ = ()

    def vjp(self, ctx, inputs, output, g):
        x = inputs[0]
        y = broadcast_like(self._grad_shape(output, x), x)
        mask = equal(x, y)
        share = sum(mask, self.axis, keepdims=True)
        g = broadcast_like(self._grad_shape(g, x), x)
        return (where(mask, g / share, 0),)


class Max(_Extreme):
    __slots__ = ()

    def forward(self, a):
        return np.max(a, axis=self.axis, keepdims=self.keepdims)


class Min(_Extreme):
    __slots__ = ()

    def forward(self, a):
        return np.min(a, axis=self.axis, keepdims=self.keepdims)


class Prod(_Reduce):
    """Product; the gradient at a zero is the product of the other elements."""
    __slots__ = ()

    def _dtype(self, dtype):
        return np.prod(np.ones(1, dtype)).dtype

    def forward(self, a):
        return np.prod(a, axis=self.axis, keepdims=self.keepdims)

    def vjp(self, ctx, inputs, output, g):
        x = inputs[0]
        g = broadcast_like(self._grad_shape(g, x), x)
        y = broadcast_like(self._grad_shape(output, x), x)
        nz = x != 0
        safe = where(nz, x, 1)
        others = apply(ProdOthers(self.axis), x)
        return (g * where(nz, y / safe, others),)


class ProdOthers(Op):
    """For each element, the product of the other elements along ``axis``."""
    __slots__ = ("axis",)
    props = ("axis",)
    differentiable = False
    view_map = {}

    def __init__(self, axis): self.axis = axis

    def infer(self, t): return t.shape, t.dtype

    def forward(self, a):
        axes = tuple(range(a.ndim)) if self.axis is None else self.axis
        keep = [i for i in range(a.ndim) if i not in axes]
        moved = np.transpose(a, keep + list(axes))
        flat = moved.reshape(moved.shape[:len(keep)] + (-1,))
        ones = np.ones(flat.shape[:-1] + (1,), dtype=a.dtype)
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)
        right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]
        out = (left * right).reshape(moved.shape)
        return np.transpose(out, np.argsort(keep + list(axes)))


class ArgMax(_Reduce):
    __slots__ = ()
    differentiable = False

    def _dtype(self, dtype):
        return np.dtype("int64")

    def infer(self, t):
        if self.axis is not None and len(self.axis) != 1:
            raise ValueError("argmax: axis must be one axis or None")
        return _Reduce.infer(self, t)

    def forward(self, a):
        ax = None if self.axis is None else self.axis[0]
        return np.argmax(a, axis=ax, keepdims=self.keepdims)


class ArgMin(ArgMax):
    __slots__ = ()

    def forward(self, a):
        ax = None if self.axis is None else self.axis[0]
        return np.argmin(a, axis=ax, keepdims=self.keepdims)


def _reduce(cls, x, axis, keepdims, **kw):
    if axis is not None:
        axis = normalize_axis(cls.__name__.lower(), axis, np.ndim(x) if not hasattr(x, "ndim") else x.ndim)
    if kw:
        return apply(cls(axis, keepdims, **kw), x)
    key = (cls, axis, keepdims)
    op = _ops.get(key)
    if op is None:
        op = cls(axis, keepdims)
        if len(_ops) < 256:
            _ops[key] = op
    return apply(op, x)


_ops = {}   # (class, axis, keepdims) -> op: ops are immutable, a loss's mean() needs only one


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (None: all). ``qf.sum(qf.ones((2, 3)), axis=1)`` -> [3., 3.]"""
    return _reduce(Sum, x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Arithmetic mean over ``axis``."""
    return _reduce(Mean, x, axis, keepdims)


def max(x, axis=None, keepdims=False):
    """Largest element over ``axis``; ties share the gradient evenly."""
    return _reduce(Max, x, axis, keepdims)


def min(x, axis=None, keepdims=False):
    """Smallest element over ``axis``; ties share the gradient evenly."""
    return _reduce(Min, x, axis, keepdims)


amax, amin = max, min


def prod(x, axis=None, keepdims=False):
    """Product over ``axis``."""
    return _reduce(Prod, x, axis, keepdims)


def argmax(x, axis=None, keepdims=False):
    """Index of the largest element (first on ties); no gradient."""
    return _reduce(ArgMax, x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    """Index of the smallest element (first on ties); no gradient."""
    return _reduce(ArgMin, x, axis, keepdims)


def count(x, axis=None, dtype=None):
    """How many elements a reduction over ``axis`` combines, as a 0-d array."""
    if axis is not None:
        axis = normalize_axis("count", axis, x.ndim)
    return apply(Count(axis, dtype if dtype is not None else x.dtype), x)


def var(x, axis=None, keepdims=False, ddof=0):
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (NumPy's rule)."""
    d = x - mean(x, axis, keepdims=True)
    return sum(d * d, axis, keepdims) / (count(x, axis) - ddof)


def std(x, axis=None, keepdims=False, ddof=0):
    """Standard deviation: sqrt(var(x, axis, keepdims, ddof))."""
    from .elementwise import sqrt
    return sqrt(var(x, axis, keepdims, ddof))
