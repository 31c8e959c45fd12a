"""Argument rules shared by the eager dialect's functions: PyTorch's keywords
(``dim``, ``keepdim``) with NumPy's spellings accepted (``axis``, ``keepdims``),
and the named tuples PyTorch returns (``torch.return_types``)."""
from collections import namedtuple

import numpy as np

from ..ops import base as _base
from .._state import QiflowError


def dim_arg(opname, dim, axis):
    """``dim`` or its NumPy spelling ``axis`` (not both); a list becomes a tuple."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{opname}: got both dim={dim!r} and axis={axis!r}; give one")
        dim = axis
    if isinstance(dim, list):
        dim = tuple(dim)
    if dim == ():
        return None           # PyTorch reads an empty dim list as "every dim" (NumPy: none)
    return dim


def keep_arg(opname, keepdim, keepdims):
    if keepdims is not None:
        if keepdim not in (False, None) and bool(keepdim) != bool(keepdims):
            raise TypeError(f"{opname}: got both keepdim={keepdim!r} and keepdims={keepdims!r}")
        return bool(keepdims)
    return bool(keepdim)


def one_dim(opname, dim, ndim):
    """A single int dim in range (negative counts from the end), normalised."""
    if isinstance(dim, (tuple, list)) or not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{opname}: dim must be one int, got {dim!r}")
    top = ndim if ndim >= 1 else 1
    if not -top <= dim < top:
        raise IndexError(f"{opname}: dim {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected in [{-top}, {top - 1}])")
    return int(dim) % top


def is_tensor(x):
    return _base.Tensor is not None and isinstance(x, _base.Tensor)


def is_array_like(x):
    """A tensor, ndarray or symbolic value (as opposed to a Python number)."""
    return is_tensor(x) or isinstance(x, (np.ndarray, _base.Symbolic))


def floating_only(opname, x):
    kind = np.dtype(x.dtype).kind
    if kind not in "fc":
        raise QiflowError(f"{opname}: could not infer the output dtype; the input dtype must be "
                          f"floating point (as in PyTorch), got {np.dtype(x.dtype)}. Use x.float() first")


def index_array(opname, index):
    """An integer index given as a Tensor, ndarray or list, as an ndarray (no gradient)."""
    if is_tensor(index):
        index = index._read()
    a = np.asarray(index)
    if a.dtype.kind not in "iu":
        raise QiflowError(f"{opname}: index must be an integer tensor (int64), got {a.dtype}")
    return a


def _named(name, fields):
    t = namedtuple(name, fields)
    t.__module__ = "qiflow.return_types"
    return t


class return_types:
    """PyTorch's named result tuples: ``x.max(1).values``, ``x.sort().indices``."""
    max = _named("max", ["values", "indices"])
    min = _named("min", ["values", "indices"])
    sort = _named("sort", ["values", "indices"])
    topk = _named("topk", ["values", "indices"])
    median = _named("median", ["values", "indices"])
    mode = _named("mode", ["values", "indices"])
    kthvalue = _named("kthvalue", ["values", "indices"])
