"""Arithmetic with PyTorch's type promotion, comparisons, ``clamp(min=, max=)``,
``equal`` (one bool), ``mm``/``bmm``.

PyTorch and NumPy promote differently where categories (bool < integer < float)
mix: ``float32 tensor * int64 tensor`` stays float32 in PyTorch (NumPy: float64),
``int tensor * 2.5`` and ``int / int`` give the default float (NumPy: float64),
and a 0-d tensor does not widen a tensor of its own category.  ``promote`` casts
the operands so that NumPy's rule gives PyTorch's result; only tensors and
Python numbers take part (ndarrays and symbolic values keep NumPy's rule).

>>> a = qf.ones(2); i = qf.tensor([1, 2])
>>> (a * i).dtype, (i / i).dtype, qf.pow(a, i).dtype
(dtype('float32'), dtype('float32'), dtype('float32'))
"""
import numpy as np

from ..backend import get_default_dtype
from ..ops import base as _base, elementwise as E, linalg as L
from .args import is_tensor, is_array_like


def _cat(kind):
    return 2 if kind in "fc" else 1 if kind in "iu" else 0


def promote(a, b):
    """(a, b) cast so that NumPy's promotion gives PyTorch's result dtype."""
    T = _base.Tensor
    ca, cb = a.__class__, b.__class__
    if ca is T and cb is T:                      # the common cases first: they cost ~0.2 us
        da, db = a._data.dtype, b._data.dtype
        return (a, b) if da is db else _tensors(a, b, da, db)
    if ca is T and (cb is int or cb is bool):
        return a, b
    if ca is T and cb is float:
        return (a, b) if a._data.dtype.kind in "fc" else (E.cast(a, get_default_dtype()), b)
    # a NumPy scalar counts as the Python number it holds (NumPy 2 would make it widen)
    if isinstance(a, np.generic):
        a = a.item()
    if isinstance(b, np.generic):
        b = b.item()
    ta, tb = is_tensor(a), is_tensor(b)
    if ta and tb:
        return _tensors(a, b, a.dtype, b.dtype)
    if ta and isinstance(b, float) and a.dtype.kind in "biu":
        return E.cast(a, get_default_dtype()), b
    if tb and isinstance(a, float) and b.dtype.kind in "biu":
        return a, E.cast(b, get_default_dtype())
    return a, b


def _tensors(a, b, da, db):
    if da == db:
        return a, b
    ca, cb = _cat(da.kind), _cat(db.kind)
    if ca != cb:                          # the higher category wins with its own dtype
        return (a, E.cast(b, da)) if ca > cb else (E.cast(a, db), b)
    if a.ndim == 0 and b.ndim > 0:        # a 0-d tensor does not widen a dimensioned one
        return E.cast(a, db), b
    if b.ndim == 0 and a.ndim > 0:
        return a, E.cast(b, da)
    return a, b


def promote_all(tensors):
    """A list of tensors cast to PyTorch's common dtype (cat, stack): the highest category
    wins, and NumPy's rule picks among the dtypes of that category."""
    ts = list(tensors)
    dts = [t.dtype for t in ts if is_tensor(t)]
    if len(dts) != len(ts) or len(set(dts)) <= 1:
        return ts
    top = max(_cat(d.kind) for d in dts)
    target = np.result_type(*[d for d in dts if _cat(d.kind) == top])
    return [t if t.dtype == target else E.cast(t, target) for t in ts]


def _floatify(a, b):
    """Operands of a true division: integers and bools divide to the default float."""
    a, b = promote(a, b)
    ka = a.dtype.kind if hasattr(a, "dtype") else ("f" if isinstance(a, float) else "i")
    kb = b.dtype.kind if hasattr(b, "dtype") else ("f" if isinstance(b, float) else "i")
    if ka in "biu" and kb in "biu" and (is_tensor(a) or is_tensor(b)):
        f = get_default_dtype()
        a = E.cast(a, f) if is_tensor(a) else float(a)
        b = E.cast(b, f) if is_tensor(b) else float(b)
    return a, b


def add(input, other, *, alpha=1):
    """input + alpha * other."""
    a, b = promote(input, other)
    return E.add(a, b if alpha == 1 else E.multiply(b, alpha))


def sub(input, other, *, alpha=1):
    """input - alpha * other."""
    a, b = promote(input, other)
    return E.subtract(a, b if alpha == 1 else E.multiply(b, alpha))


subtract = sub


def mul(input, other):
    return E.multiply(*promote(input, other))


multiply = mul


def div(input, other, *, rounding_mode=None):
    """True division (integers divide to the default float); ``rounding_mode`` 'floor' or 'trunc'."""
    if rounding_mode is None:
        return E.divide(*_floatify(input, other))
    a, b = promote(input, other)
    if rounding_mode == "floor":
        return E.floor_divide(a, b)
    if rounding_mode == "trunc":
        q = E.divide(*_floatify(a, b))
        out = E.where(E.less(q, 0), E.ceil(q), E.floor(q))
        dt = np.result_type(a.dtype if hasattr(a, "dtype") else type(a),
                            b.dtype if hasattr(b, "dtype") else type(b))
        return E.cast(out, dt) if dt.kind in "iu" else out
    raise ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {rounding_mode!r}")


divide = true_divide = div


def pow(input, exponent):
    """input ** exponent with PyTorch's dtype (a float32 base stays float32 for an int exponent)."""
    return E.power(*promote(input, exponent))


def floor_divide(input, other):
    return E.floor_divide(*promote(input, other))


def remainder(input, other):
    """Python's modulo (the sign of the divisor), as PyTorch's remainder."""
    return E.mod(*promote(input, other))


def fmod(input, other):
    """C's modulo (the sign of the dividend)."""
    a, b = promote(input, other)
    r = E.mod(a, b)
    fix = E.logical_and(E.not_equal(r, 0), E.not_equal(E.less(r, 0), E.less(a, 0)))
    return E.where(fix, E.subtract(r, b), r)


def maximum(input, other):
    return E.maximum(*promote(input, other))


def minimum(input, other):
    return E.minimum(*promote(input, other))


def where(condition, input, other):
    """``input`` where ``condition``, else ``other`` (PyTorch's promotion of the two)."""
    return E.where(condition, *promote(input, other))


def clamp(input, min=None, max=None):
    """Limit to [min, max] (either may be None; PyTorch's keywords)."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of min and max must be given")
    if is_array_like(min) or is_array_like(max):
        out = input
        if min is not None:
            out = E.maximum(*promote(out, min))
        if max is not None:
            out = E.minimum(*promote(out, max))
        return out
    return E.clip(input, min, max)


clip = clamp


# comparisons: elementwise, bool results
def eq(input, other): return E.equal(*promote(input, other))
def ne(input, other): return E.not_equal(*promote(input, other))
def lt(input, other): return E.less(*promote(input, other))
def le(input, other): return E.less_equal(*promote(input, other))
def gt(input, other): return E.greater(*promote(input, other))
def ge(input, other): return E.greater_equal(*promote(input, other))


not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge


def _values(x):
    return x._read() if is_tensor(x) else np.asarray(x)


def equal(input, other):
    """True when both tensors have the same shape and elements (one Python bool, as in
    PyTorch; the elementwise comparison is ``eq``)."""
    a, b = _values(input), _values(other)
    return bool(a.shape == b.shape and np.array_equal(a, b))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise |a - b| <= atol + rtol * |b| (a bool tensor)."""
    from ..ops.base import Tensor
    return Tensor(np.isclose(_values(input), _values(other), rtol, atol, equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element is close (one Python bool)."""
    return bool(np.allclose(_values(input), _values(other), rtol, atol, equal_nan))


def _same_dtype(opname, a, b):
    """PyTorch's products refuse operands of different dtypes (NumPy would widen silently)."""
    T = _base.Tensor
    if a.__class__ is T and b.__class__ is T and a._data.dtype is b._data.dtype:
        return a, b                              # the common case, without the checks below
    if is_tensor(a) and is_tensor(b) and a.dtype != b.dtype:
        raise RuntimeError(f"{opname}: expected both operands to have the same dtype, but got "
                           f"{a.dtype} and {b.dtype} (shapes {tuple(a.shape)} and {tuple(b.shape)}); "
                           f"cast one, e.g. with .to(other.dtype) or .type_as(other)")
    return a, b


def mm(input, mat2):
    """Matrix product of two 2-d tensors (no broadcasting, as in PyTorch)."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: both arguments must be 2-d, got shapes {tuple(input.shape)} and "
                           f"{tuple(mat2.shape)}; use matmul to broadcast")
    return L.matmul(*_same_dtype("mm", input, mat2))


def bmm(input, mat2):
    """Batched matrix product of two 3-d tensors with the same batch size."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: expected 3-d tensors with the same batch size, got shapes "
                           f"{tuple(input.shape)} and {tuple(mat2.shape)}")
    return L.matmul(*_same_dtype("bmm", input, mat2))


def mv(input, vec):
    """Matrix-vector product."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"mv: expected a 2-d and a 1-d tensor, got shapes {tuple(input.shape)} "
                           f"and {tuple(vec.shape)}")
    return L.matmul(*_same_dtype("mv", input, vec))


def matmul(input, other):
    """Matrix product with NumPy's broadcasting; operands of different dtypes are refused."""
    return L.matmul(*_same_dtype("matmul", input, other))


def dot(input, other):
    """Dot product of two 1-d tensors."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return L.matmul(*_same_dtype("dot", input, other))
