"""Reductions with PyTorch's meaning: ``dim``/``keepdim`` (``axis``/``keepdims``
accepted), ``max(x, dim)`` and ``min(x, dim)`` returning ``(values, indices)``,
``std``/``var`` unbiased by default, ``any``/``all`` giving bool tensors, ``norm``.

>>> x = qf.tensor([[1.0, 5.0], [4.0, 2.0]])
>>> v, i = qf.max(x, 1); v.tolist(), i.tolist(), qf.std(qf.tensor([1.0, 3.0])).item()
([5.0, 4.0], [1, 0], 1.4142135381698608)
"""
import math

import numpy as np

from ..ops import reduce as R, elementwise as E, softmax as S, movement as M
from .args import dim_arg, keep_arg, one_dim, is_array_like, floating_only, return_types


def _cast(x, dtype):
    return x if dtype is None else E.cast(x, dtype)


def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """Sum over ``dim`` (None: all). Bool and integer tensors sum to int64, as in PyTorch.

    >>> qf.sum(qf.ones(2, 3), dim=1).tolist()
    [3.0, 3.0]
    """
    d, k = dim_arg("sum", dim, axis), keep_arg("sum", keepdim, keepdims)
    x = _cast(input, dtype)
    if dtype is None and np.dtype(x.dtype).kind in "biu":
        x = E.cast(x, "int64")
    return R.sum(x, d, k)


def nansum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """Sum treating NaN as zero."""
    x = _cast(input, dtype)
    return sum(E.where(E.isnan(x), 0, x), dim, keepdim, axis=axis, keepdims=keepdims)


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """Mean over ``dim``; integer tensors are refused as in PyTorch (give ``dtype`` or cast)."""
    d, k = dim_arg("mean", dim, axis), keep_arg("mean", keepdim, keepdims)
    x = _cast(input, dtype)
    floating_only("mean", x)
    return R.mean(x, d, k)


def prod(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    """Product over one ``dim`` (None: all)."""
    d, k = dim_arg("prod", dim, axis), keep_arg("prod", keepdim, keepdims)
    x = _cast(input, dtype)
    if dtype is None and np.dtype(x.dtype).kind in "biu":
        x = E.cast(x, "int64")
    if d is not None:
        d = one_dim("prod", d, x.ndim)
    return R.prod(x, d, k)


def _extreme(name, reduce_, arg_, binary, input, dim, keepdim, axis, keepdims):
    if is_array_like(dim):            # max(a, b): the elementwise maximum
        if keepdim or axis is not None:
            raise TypeError(f"{name}(input, other) takes no dim or keepdim")
        return binary(input, dim)
    d, k = dim_arg(name, dim, axis), keep_arg(name, keepdim, keepdims)
    if d is None:
        if k:
            raise TypeError(f"{name}: keepdim needs a dim (PyTorch's {name}(x) reduces everything)")
        return reduce_(input)
    if isinstance(d, tuple):
        raise TypeError(f"{name}: dim must be one int, got {d}: {name}(x, dim) returns (values, "
                        f"indices) along one dim; use qf.a{name}(x, dim) for several dims")
    d = one_dim(name, d, input.ndim)
    if input.ndim == 0:
        return getattr(return_types, name)(input, E.cast(E.zeros_like(input), "int64"))
    return getattr(return_types, name)(reduce_(input, d, k), arg_(input, d, k))


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """``max(x)``: the largest element; ``max(x, dim, keepdim=False)``: the named tuple
    ``(values, indices)``; ``max(x, other)``: the elementwise maximum (PyTorch's three forms).

    >>> qf.max(qf.tensor([[1.0, 3.0]]), 1).indices.tolist()
    [1]
    """
    return _extreme("max", R.max, R.argmax, E.maximum, input, dim, keepdim, axis, keepdims)


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """``min(x)``, ``min(x, dim) -> (values, indices)``, ``min(x, other)`` (as ``max``)."""
    return _extreme("min", R.min, R.argmin, E.minimum, input, dim, keepdim, axis, keepdims)


def amax(input, dim=(), keepdim=False, *, axis=None, keepdims=None):
    """Largest values over ``dim`` (an int or a tuple; ``()``: all), values only."""
    d, k = dim_arg("amax", None if dim == () else dim, axis), keep_arg("amax", keepdim, keepdims)
    return R.max(input, d, k)


def amin(input, dim=(), keepdim=False, *, axis=None, keepdims=None):
    """Smallest values over ``dim`` (an int or a tuple; ``()``: all), values only."""
    d, k = dim_arg("amin", None if dim == () else dim, axis), keep_arg("amin", keepdim, keepdims)
    return R.min(input, d, k)


def _argext(name, fn, input, dim, keepdim, axis, keepdims):
    d, k = dim_arg(name, dim, axis), keep_arg(name, keepdim, keepdims)
    if d is None:
        out = fn(input)
        return M.reshape(out, (1,) * input.ndim) if k else out
    return fn(input, one_dim(name, d, input.ndim), k)


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the largest element along ``dim`` (None: of the flattened tensor)."""
    return _argext("argmax", R.argmax, input, dim, keepdim, axis, keepdims)


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the smallest element along ``dim`` (None: of the flattened tensor)."""
    return _argext("argmin", R.argmin, input, dim, keepdim, axis, keepdims)


def _correction(name, unbiased, correction, ddof):
    given = [v for v in (unbiased, correction, ddof) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{name}: give one of unbiased, correction (PyTorch) or ddof (NumPy)")
    if correction is not None:
        return correction
    if ddof is not None:
        return ddof
    return 0 if unbiased is False else 1


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
        keepdims=None, ddof=None):
    """Variance over ``dim`` with Bessel's correction by default (``correction=1``, as in
    PyTorch); ``unbiased=False`` or ``correction=0`` (NumPy's ``ddof=0``) for the biased one.

    >>> qf.var(qf.tensor([1.0, 2.0, 3.0])).item(), qf.var(qf.tensor([1.0, 3.0]), unbiased=False).item()
    (1.0, 1.0)
    """
    if isinstance(dim, bool):              # var(x, unbiased)
        dim, unbiased = None, dim
    d, k = dim_arg("var", dim, axis), keep_arg("var", keepdim, keepdims)
    floating_only("var", input)
    return R.var(input, d, k, _correction("var", unbiased, correction, ddof))


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
        keepdims=None, ddof=None):
    """Standard deviation, unbiased by default (see ``var``)."""
    return E.sqrt(var(input, dim, unbiased, keepdim, correction=correction, axis=axis,
                      keepdims=keepdims, ddof=ddof))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim``."""
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim``."""
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def any(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Whether any element along ``dim`` is non-zero: a bool tensor (as in PyTorch)."""
    d, k = dim_arg("any", dim, axis), keep_arg("any", keepdim, keepdims)
    return E.greater(R.sum(E.cast(E.not_equal(input, 0), "int64"), d, k), 0)


def all(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Whether every element along ``dim`` is non-zero: a bool tensor."""
    d, k = dim_arg("all", dim, axis), keep_arg("all", keepdim, keepdims)
    return E.equal(R.sum(E.cast(E.equal(input, 0), "int64"), d, k), 0)


def count_nonzero(input, dim=None):
    """How many elements are non-zero (int64)."""
    return R.sum(E.cast(E.not_equal(input, 0), "int64"), dim_arg("count_nonzero", dim, None))


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The vector p-norm over ``dim`` (all elements when None): ``p`` = 2 or ``'fro'``
    (the default), 1, ``inf``, ``-inf``, 0 or any number.

    >>> qf.norm(qf.tensor([3.0, 4.0])).item()
    5.0
    """
    x = _cast(input, dtype)
    floating_only("norm", x)
    d = dim_arg("norm", dim, None)
    if p == "nuc":
        raise NotImplementedError("norm: the nuclear norm (p='nuc') is not supported by qiflow yet")
    if p == "fro" or p == 2:
        return E.sqrt(R.sum(x * x, d, keepdim))
    a = E.abs(x)
    if p == 1:
        return R.sum(a, d, keepdim)
    if p == math.inf:
        return R.max(a, d, keepdim)
    if p == -math.inf:
        return R.min(a, d, keepdim)
    if p == 0:
        return R.sum(E.cast(E.not_equal(x, 0), x.dtype), d, keepdim)
    if isinstance(p, str):
        raise ValueError(f"norm: unknown p={p!r} (expected a number, 'fro' or 'nuc')")
    return E.power(R.sum(E.power(a, float(p)), d, keepdim), 1.0 / p)


def cumsum(input, dim, *, dtype=None, axis=None):
    """Running sum along ``dim``; integers and bools accumulate in int64 (PyTorch's rule).

    >>> qf.cumsum(qf.tensor([1, 2, 3]), 0).tolist()
    [1, 3, 6]
    """
    from ..ops.cumulative import cumsum as _cumsum
    d = dim_arg("cumsum", dim, axis)
    x = _cast(input, dtype)
    if dtype is None and np.dtype(x.dtype).kind in "biu":
        x = E.cast(x, "int64")
    if x.ndim == 0:
        return x
    return _cumsum(x, one_dim("cumsum", d, x.ndim))


def logsumexp(input, dim, keepdim=False, *, axis=None, keepdims=None):
    """log(sum(exp(x))) over ``dim``, computed stably."""
    d, k = dim_arg("logsumexp", dim, axis), keep_arg("logsumexp", keepdim, keepdims)
    return S.logsumexp(input, d, k)


def _softmax_dim(name, dim, axis):
    d = dim_arg(name, dim, axis)
    if d is None:
        raise TypeError(f"{name}: dim is required (PyTorch's {name}(input, dim)); "
                        f"qiflow does not guess it")
    return d


def softmax(input, dim=None, dtype=None, *, axis=None):
    """Softmax along ``dim`` (required, as in PyTorch)."""
    return S.softmax(_cast(input, dtype), _softmax_dim("softmax", dim, axis))


def log_softmax(input, dim=None, dtype=None, *, axis=None):
    """log(softmax(x)) along ``dim`` (required), computed stably."""
    return S.log_softmax(_cast(input, dtype), _softmax_dim("log_softmax", dim, axis))

