"""Theano's ``tensor.basic`` names whose meaning is Theano's: allocation with
symbolic sizes (``alloc``, ``zeros``, ``ones``, ``eye``, ``fill``), functional
writes (``set_subtensor``, ``inc_subtensor``), ``round(mode=)``, ``norm``,
``mean(dtype=)``, ``reshape`` and ``flatten(ndim)``.  All are built from
qiflow's primitives.

>>> from qiflow import sym as T
>>> n = T.lscalar('n')
>>> T.function([n], T.zeros((n, 2)))(3).shape
(3, 2)
"""
import numpy as np

from .._state import QiflowError
from ..backend import get_default_dtype
from ..ops import elementwise as E
from ..ops import reduce as R
from ..ops.base import apply, Symbolic
from ..ops.dynamic import alloc as _alloc, reshape as _reshape, arange, FlattenTail
from ..ops.subtensor import set_subtensor, inc_subtensor
from .rounding import round, norm
from .graph import shape_of


def _float(dtype):
    return np.dtype(dtype) if dtype is not None else get_default_dtype()


def _shape_arg(shape):
    if isinstance(shape, (int, np.integer, Symbolic)) and not (
            isinstance(shape, Symbolic) and shape.ndim == 1):
        return (shape,)
    return shape


def alloc(value, *shape):
    """``value`` broadcast to ``shape`` (sizes may be symbolic scalars).

    >>> n = T.lscalar('n'); T.function([n], T.alloc(1.5, n))(2).tolist()
    [1.5, 1.5]
    """
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return _alloc(value, *shape)


def zeros(shape, dtype=None):
    """Zeros of ``shape`` (sizes may be symbolic); dtype defaults to floatX."""
    return _alloc(np.zeros((), _float(dtype)), _shape_arg(shape))


def ones(shape, dtype=None):
    """Ones of ``shape`` (sizes may be symbolic); dtype defaults to floatX."""
    return _alloc(np.ones((), _float(dtype)), _shape_arg(shape))


def zeros_like(model, dtype=None):
    """Zeros shaped like ``model`` (its dtype unless ``dtype``)."""
    return E.zeros_like(model, dtype)


def ones_like(model, dtype=None):
    """Ones shaped like ``model`` (its dtype unless ``dtype``)."""
    return E.ones_like(model, dtype)


def fill(model, value):
    """An array shaped like ``model`` filled with ``value`` (Theano's fill)."""
    return E.ones_like(model) * value


def second(model, value):
    """Theano's ``second``: ``fill`` with the arguments as Theano names them."""
    return fill(model, value)


def eye(n, m=None, k=0, dtype=None):
    """The ``n`` x ``m`` identity (ones on diagonal ``k``); sizes may be symbolic."""
    dtype = _float(dtype)
    m = n if m is None else m
    if not any(isinstance(v, Symbolic) for v in (n, m, k)):
        from .graph import constant
        return constant(np.eye(int(n), int(m), int(k), dtype=dtype))
    rows = arange(n).dimshuffle(0, "x")
    cols = arange(m).dimshuffle("x", 0)
    return E.cast(E.equal(cols - rows, k), dtype)


def identity_like(x, dtype=None):
    """The identity shaped like the matrix ``x``."""
    return eye(x.shape[0], x.shape[1], 0, dtype or x.dtype)


def sum(x, axis=None, dtype=None, keepdims=False, acc_dtype=None):
    """Sum over ``axis``; ``dtype`` is the result's dtype (the sum is done in it)."""
    if isinstance(dtype, bool):           # qiflow's older sum(x, axis, keepdims)
        dtype, keepdims = None, dtype
    return R.sum(x if dtype is None else cast(x, dtype), axis, keepdims)


def mean(x, axis=None, dtype=None, op=False, keepdims=False, acc_dtype=None):
    """Mean over ``axis``; ``dtype`` is the result's dtype (Theano's ``mean(dtype=)``)."""
    if isinstance(dtype, bool):           # qiflow's older mean(x, axis, keepdims)
        dtype, keepdims = None, dtype
    if op:
        raise QiflowError("mean: op=True (a separate Mean op) is not supported; qiflow has one mean")
    return R.mean(x if dtype is None else cast(x, dtype), axis, keepdims)


def cast(x, dtype):
    """x converted to ``dtype``; Theano's ``'floatX'`` names ``config.floatX``."""
    from .methods import as_dtype_name
    return E.cast(x, as_dtype_name(dtype))


def shape_padleft(x, n_ones=1):
    """x with ``n_ones`` broadcastable axes added in front."""
    return x.dimshuffle(*(["x"] * n_ones + list(range(x.ndim))))


def shape_padright(x, n_ones=1):
    """x with ``n_ones`` broadcastable axes added at the end."""
    return x.dimshuffle(*(list(range(x.ndim)) + ["x"] * n_ones))


def shape_padaxis(x, axis):
    """x with a broadcastable axis inserted at ``axis``."""
    axis = axis if axis >= 0 else axis + x.ndim + 1
    if not 0 <= axis <= x.ndim:
        raise ValueError(f"shape_padaxis: axis {axis} out of range for ndim {x.ndim}")
    order = list(range(x.ndim))
    return x.dimshuffle(*(order[:axis] + ["x"] + order[axis:]))


def _rebroadcast(what, x, flags):
    """x with a type whose axes are 1 exactly where ``flags`` say so (an axis
    marked 1 is checked at run time; one unmarked is of unknown size)."""
    want = tuple(1 if f else (None if d == 1 else d) for f, d in zip(flags, x.type.shape))
    if want == x.type.shape:
        return x
    from ..ops.base import apply as _apply
    from ..ops.dynamic import DynamicReshape
    from .graph import Variable
    template, inputs = [], []
    for k, d in enumerate(want):
        if d is None:
            template.append(("in", len(inputs)))
            inputs.append(Variable.__getitem__(shape_of(x), k))     # always a symbolic size
        else:
            template.append(d)
    return _apply(DynamicReshape(tuple(template)), x, *inputs)


def addbroadcast(x, *axes):
    """x with ``axes`` marked broadcastable (each must have size 1 at run time)."""
    axes = {a % x.ndim for a in axes}
    return _rebroadcast("addbroadcast", x, [k in axes or x.type.shape[k] == 1 for k in range(x.ndim)])


def unbroadcast(x, *axes):
    """x with ``axes`` no longer known to have size 1."""
    axes = {a % x.ndim for a in axes}
    return _rebroadcast("unbroadcast", x,
                        [x.type.shape[k] == 1 and k not in axes for k in range(x.ndim)])


def patternbroadcast(x, broadcastable):
    """x with the broadcastable pattern ``broadcastable`` (one flag per axis)."""
    if len(broadcastable) != x.ndim:
        raise ValueError(f"patternbroadcast: {len(broadcastable)} flags for ndim {x.ndim}")
    return _rebroadcast("patternbroadcast", x, [bool(b) for b in broadcastable])


def reshape(x, newshape, ndim=None):
    """x with ``newshape``; sizes may be symbolic scalars (one may be -1).

    >>> import numpy as np
    >>> x = T.dvector('x'); n = T.lscalar('n'); f = T.function([x, n], T.reshape(x, (n, -1)))
    >>> f(np.arange(6.0), 2).shape
    (2, 3)
    """
    return _reshape(x, newshape, ndim)


def flatten(x, ndim=None, outdim=None):
    """Theano's flatten: keep the first ``ndim - 1`` axes, merge the rest
    (``x.flatten(2)`` of a (N, C, H, W) batch is (N, C*H*W)).  ``outdim`` is
    Theano's older name for ``ndim``."""
    ndim = outdim if ndim is None else ndim
    ndim = 1 if ndim is None else int(ndim)
    top = x.ndim if x.ndim else 1
    if ndim < 1 or ndim > top:
        raise ValueError(f"flatten: ndim must be in [1, {top}], got {ndim}")
    if not x.ndim:
        from ..ops.movement import reshape as static
        return static(x, (1,))
    return apply(FlattenTail(ndim), x)


__all__ = ["alloc", "zeros", "ones", "zeros_like", "ones_like", "fill", "second", "eye",
           "identity_like", "round", "norm", "sum", "mean", "reshape", "flatten",
           "set_subtensor", "inc_subtensor", "cast", "shape_padleft", "shape_padright",
           "shape_padaxis", "addbroadcast", "unbroadcast", "patternbroadcast"]
