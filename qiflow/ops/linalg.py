"""Linear algebra: matmul (1-D, 2-D and batched with NumPy broadcasting), dot, outer.

>>> a = qf.ones((2, 3)); b = qf.ones((3, 4))
>>> (a @ b).shape
(2, 4)
"""
import numpy as np

from .base import Op, apply
from .shapes import broadcast_shapes
from .movement import swapaxes, expand_dims, squeeze, reshape
from .._state import QiflowError


class MatMul(Op):
    """The primitive: both operands have ndim >= 2; batch dims broadcast."""
    __slots__ = ()

    def infer(self, a, b):
        if len(a.shape) < 2 or len(b.shape) < 2:
            raise QiflowError(f"MatMul: needs ndim >= 2, got {tuple(a.shape)} and {tuple(b.shape)}")
        k1, k2 = a.shape[-1], b.shape[-2]
        if k1 is not None and k2 is not None and k1 != k2:
            raise QiflowError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned "
                              f"({k1} != {k2})")
        batch = broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
        return batch + (a.shape[-2], b.shape[-1]), np.result_type(a.dtype, b.dtype)

    def forward(self, a, b):
        return np.matmul(a, b)

    def vjp(self, inputs, output, g):
        a, b = inputs
        return matmul(g, swapaxes(b, -1, -2)), matmul(swapaxes(a, -1, -2), g)


_matmul = MatMul()


def _ndim(x):
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


def matmul(a, b):
    """Matrix product with NumPy's rules: 1-D operands are promoted and the
    added axis removed; leading (batch) axes broadcast.

    >>> qf.matmul(qf.ones(3), qf.ones((3, 2))).shape
    (2,)
    """
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        raise QiflowError(f"matmul: operands must be at least 1-D, got ndim {na} and {nb}")
    if na >= 2 and nb >= 2:
        return apply(_matmul, a, b)
    if na == 1 and nb == 1:
        return squeeze(apply(_matmul, expand_dims(a, 0), expand_dims(b, 1)), (0, 1))
    if na == 1:
        return squeeze(apply(_matmul, expand_dims(a, 0), b), -2)
    return squeeze(apply(_matmul, a, expand_dims(b, 1)), -1)


def dot(a, b):
    """NumPy's dot for ndim <= 2 (matrix product; scalars multiply)."""
    if _ndim(a) == 0 or _ndim(b) == 0:
        return a * b
    if _ndim(a) > 2 or _ndim(b) > 2:
        raise QiflowError("dot: only ndim <= 2 is supported; use matmul for batches")
    return matmul(a, b)


def outer(a, b):
    """Outer product of two vectors (inputs are flattened)."""
    return matmul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def inner(a, b):
    """Inner product over the last axis."""
    from .reduce import sum
    return sum(a * b, axis=-1)
