"""Scatter primitives along one axis (PyTorch's ``scatter`` and ``scatter_add``).

``index`` has the rank of ``x``; element ``index[i, j, ...]`` names the position
along ``axis`` where ``src[i, j, ...]`` goes, every other coordinate kept.
(``gather`` is their adjoint and is ``take_along_axis`` of an index: no
primitive of its own.)

>>> x = qf.zeros(3); qf.scatter_add(x, 0, qf.tensor([0, 2, 0]), qf.ones(3)).tolist()
[2.0, 0.0, 1.0]
"""
import numpy as np

from .base import Op, apply
from .shapes import known
from .._state import QiflowError


def along_index(index, axis):
    """The NumPy fancy index that puts ``index`` along ``axis`` and ranges elsewhere."""
    index = np.asarray(index)
    n = index.ndim
    return tuple(index if d == axis else
                 np.arange(index.shape[d]).reshape([-1 if i == d else 1 for i in range(n)])
                 for d in range(n))


def check_index(opname, xshape, index_shape, axis, src_shape=None):
    """PyTorch's rule: index has x's rank and is no larger than x (and src) off ``axis``."""
    if len(index_shape) != len(xshape):
        raise QiflowError(f"{opname}: index of shape {tuple(index_shape)} must have as many "
                          f"dimensions as the input of shape {tuple(xshape)}")
    for d, (i, s) in enumerate(zip(index_shape, xshape)):
        if d != axis and known(i) and known(s) and i > s:
            raise QiflowError(f"{opname}: index of shape {tuple(index_shape)} is larger than the "
                              f"input of shape {tuple(xshape)} in dimension {d}")


class _ScatterBase(Op):
    __slots__ = ("axis",)
    props = ("axis",)
    view_map = {}

    def __init__(self, axis): self.axis = axis

    def infer(self, x, index, src):
        if index.dtype.kind not in "iu":
            raise QiflowError(f"{self.name}: index must be an integer tensor, got {index.dtype}")
        check_index(self.name, x.shape, index.shape, self.axis)
        return x.shape, x.dtype

    def _check_range(self, x, index):
        n = x.shape[self.axis]
        if index.size and (index.min() < -n or index.max() >= n):
            raise QiflowError(f"{self.name}: index out of range [{index.min()}, {index.max()}] for "
                              f"dimension {self.axis} of size {n}")


class Scatter(_ScatterBase):
    """x with ``src`` written at ``index`` along ``axis`` (src shaped like index, or a scalar)."""
    __slots__ = ()

    def forward(self, x, index, src):
        self._check_range(x, index)
        out = np.array(x, copy=True)
        out[along_index(index, self.axis)] = src
        return out

    def vjp(self, ctx, inputs, output, g):
        from .indexing import take_along_axis
        x, index, src = inputs
        gx = apply(Scatter(self.axis), g, index, 0.0) if ctx.needs_input_grad[0] else None
        gs = take_along_axis(g, index, self.axis) if ctx.needs_input_grad[2] else None
        return gx, None, gs


class ScatterAdd(_ScatterBase):
    """x with ``src`` added at ``index`` along ``axis`` (repeated positions accumulate)."""
    __slots__ = ()

    def forward(self, x, index, src):
        self._check_range(x, index)
        out = np.array(x, copy=True)
        np.add.at(out, along_index(index, self.axis), src)
        return out

    def vjp(self, ctx, inputs, output, g):
        from .indexing import take_along_axis
        x, index, src = inputs
        gs = take_along_axis(g, index, self.axis) if ctx.needs_input_grad[2] else None
        return g, None, gs


def scatter(x, axis, index, src):
    """``x`` with ``src`` written at ``index`` along ``axis`` (PyTorch's ``scatter``)."""
    return apply(Scatter(axis), x, index, src)


def scatter_add(x, axis, index, src):
    """``x`` with ``src`` added at ``index`` along ``axis`` (PyTorch's ``scatter_add``)."""
    return apply(ScatterAdd(axis), x, index, src)
