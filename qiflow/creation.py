"""Tensor creation: zeros, ones, full, arange, linspace, eye, the *_like
functions and random tensors (seeded by ``qf.manual_seed`` or an explicit
``generator``).

>>> qf.zeros((2, 3)).shape, qf.arange(3).tolist()
((2, 3), [0, 1, 2])
"""
import numpy as np

from .backend import get_default_dtype, as_dtype, check_device
from .random import _gen
from .tensor import Tensor


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(d) for d in shape)


def _float(dtype):
    return as_dtype(dtype) or get_default_dtype()


def _make(array, requires_grad, device=None, what="creation"):
    check_device(device, what)
    return Tensor(array, requires_grad=requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros. ``qf.zeros(2, 3)`` or ``qf.zeros((2, 3))``."""
    return _make(np.zeros(_shape(shape), _float(dtype)), requires_grad, device, "qf.zeros")


def ones(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of ones."""
    return _make(np.ones(_shape(shape), _float(dtype)), requires_grad, device, "qf.ones")


def empty(*shape, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor."""
    return _make(np.empty(_shape(shape), _float(dtype)), requires_grad, device, "qf.empty")


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor filled with ``fill_value`` (dtype from the value when not given)."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if dtype is None:
        dtype = get_default_dtype() if isinstance(fill_value, float) else np.asarray(fill_value).dtype
    return _make(np.full(shape, fill_value, dtype), requires_grad, device, "qf.full")


def arange(start, stop=None, step=1, dtype=None, device=None, requires_grad=False):
    """Evenly spaced values in [start, stop). Integers give int64, floats the default float.

    A symbolic argument gives a symbolic result (``T.arange(y.shape[0])``).
    """
    from .ops.base import Symbolic
    if any(isinstance(v, Symbolic) for v in (start, stop, step)):
        from .ops.dynamic import arange as sym_arange
        return sym_arange(start, stop, step, dtype)
    args = (start,) if stop is None else (start, stop, step)
    args = tuple(v.item() if isinstance(v, Tensor) else v for v in args)
    out = np.arange(*args)
    if dtype is not None:
        out = out.astype(dtype)
    elif out.dtype.kind == "f":
        out = out.astype(get_default_dtype())
    return _make(out, requires_grad, device, "qf.arange")


def linspace(start, stop, num=50, dtype=None, device=None, requires_grad=False, *, steps=None):
    """``num`` (PyTorch: ``steps``) evenly spaced values from start to stop inclusive."""
    if steps is not None:
        num = steps
    return _make(np.linspace(start, stop, num, dtype=_float(dtype)), requires_grad, device, "qf.linspace")


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """Identity matrix."""
    return _make(np.eye(n, m, dtype=_float(dtype)), requires_grad, device, "qf.eye")


def _like(x, fill, dtype):
    data = x._data if isinstance(x, Tensor) else np.asarray(x)
    return np.full_like(data, fill, dtype=as_dtype(dtype) or data.dtype)


def zeros_like(x, dtype=None, device=None, requires_grad=False):
    """Zeros with x's shape and dtype (works on symbolic variables too)."""
    if not isinstance(x, (Tensor, np.ndarray)):
        from .ops.elementwise import zeros_like as op
        return op(x, dtype)
    return _make(_like(x, 0, dtype), requires_grad, device, "qf.zeros_like")


def ones_like(x, dtype=None, device=None, requires_grad=False):
    """Ones with x's shape and dtype (works on symbolic variables too)."""
    if not isinstance(x, (Tensor, np.ndarray)):
        from .ops.elementwise import ones_like as op
        return op(x, dtype)
    return _make(_like(x, 1, dtype), requires_grad, device, "qf.ones_like")


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False):
    """x's shape filled with ``fill_value``."""
    return _make(_like(x, fill_value, dtype), requires_grad, device, "qf.full_like")


def from_numpy(array):
    """A tensor sharing ``array``'s memory (writes through either are seen by both).

    >>> a = np.zeros(2); t = qf.from_numpy(a); a[0] = 5; t.tolist()
    [5.0, 0.0]
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def numel(x):
    """The number of elements."""
    return int(np.prod(np.shape(x), dtype=np.int64))


def is_tensor(x):
    """Whether x is a qiflow Tensor."""
    return isinstance(x, Tensor)


# ------------------------------------------------------------------- random
def rand(*shape, dtype=None, generator=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1)."""
    d = _float(dtype)
    return _make(_gen(generator).random(_shape(shape), dtype=np.float64).astype(d), requires_grad, device, "qf.rand")


def randn(*shape, dtype=None, generator=None, device=None, requires_grad=False):
    """Standard normal samples."""
    d = _float(dtype)
    return _make(_gen(generator).standard_normal(_shape(shape)).astype(d), requires_grad, device, "qf.randn")


def randint(low, high=None, size=(), dtype="int64", generator=None, device=None, requires_grad=False):
    """Integers in [low, high): ``randint(low, high, size)``, or PyTorch's
    ``randint(high, size)`` (and NumPy's ``randint(high)``) for [0, high)."""
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, int) else tuple(size)
    return _make(_gen(generator).integers(low, high, size=size, dtype=np.dtype(dtype)), requires_grad, device, "qf.randint")


def normal(mean=0.0, std=1.0, size=(), dtype=None, generator=None, device=None, requires_grad=False):
    """Normal samples with the given mean and standard deviation."""
    size = (size,) if isinstance(size, int) else tuple(size)
    return _make(_gen(generator).normal(mean, std, size).astype(_float(dtype)), requires_grad, device, "qf.normal")


def uniform(low=0.0, high=1.0, size=(), dtype=None, generator=None, device=None, requires_grad=False):
    """Uniform samples in [low, high)."""
    size = (size,) if isinstance(size, int) else tuple(size)
    return _make(_gen(generator).uniform(low, high, size).astype(_float(dtype)), requires_grad, device, "qf.uniform")


def randperm(n, generator=None, dtype="int64", device=None, requires_grad=False):
    """A random permutation of 0..n-1 (int64)."""
    return _make(_gen(generator).permutation(n).astype(as_dtype(dtype)), requires_grad, device, "qf.randperm")


# ------------------------------------------------------ more *_like (PyTorch)
def _like_shape_dtype(x, dtype):
    data = x._data if isinstance(x, Tensor) else np.asarray(x)
    return data.shape, as_dtype(dtype) or data.dtype


def empty_like(x, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor with x's shape and dtype."""
    shape, d = _like_shape_dtype(x, dtype)
    return _make(np.empty(shape, d), requires_grad, device, "qf.empty_like")


def _float_like(x, dtype, what):
    shape, d = _like_shape_dtype(x, dtype)
    if d.kind != "f":
        raise TypeError(f"{what}: needs a floating dtype, x is {d} (pass dtype=)")
    return shape, d


def rand_like(x, dtype=None, generator=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) with x's shape and (floating) dtype."""
    shape, d = _float_like(x, dtype, "qf.rand_like")
    return _make(_gen(generator).random(shape, dtype=np.float64).astype(d), requires_grad, device,
                 "qf.rand_like")


def randn_like(x, dtype=None, generator=None, device=None, requires_grad=False):
    """Standard normal samples with x's shape and (floating) dtype."""
    shape, d = _float_like(x, dtype, "qf.randn_like")
    return _make(_gen(generator).standard_normal(shape).astype(d), requires_grad, device, "qf.randn_like")


def randint_like(x, low=0, high=None, dtype=None, generator=None, device=None, requires_grad=False):
    """Integers in [low, high) with x's shape (one bound means [0, low)), in x's dtype."""
    if high is None:
        low, high = 0, low
    shape, d = _like_shape_dtype(x, dtype)
    vals = _gen(generator).integers(low, high, size=shape)
    return _make(vals.astype(d), requires_grad, device, "qf.randint_like")
