"""Sorting: the permutation that sorts along an axis (no gradient).  Sorted values
are ``take_along_axis(x, argsort(x))``, so their gradient comes from indexing.

>>> qf.ops.sorting.argsort(qf.tensor([3.0, 1.0, 2.0]), 0).tolist()
[1, 2, 0]
"""
import numpy as np

from .base import Op, apply


class Argsort(Op):
    """Indices sorting ``axis`` ascending (or descending); equal elements keep their
    order (stable), NaN sorts as the largest value, as in PyTorch."""
    __slots__ = ("axis", "descending")
    props = ("axis", "descending")
    differentiable = False
    view_map = {}

    def __init__(self, axis, descending=False):
        self.axis, self.descending = axis, bool(descending)

    def infer(self, t):
        return t.shape, np.dtype("int64")

    def forward(self, a):
        ax = self.axis
        if not self.descending:
            return np.argsort(a, axis=ax, kind="stable").astype(np.int64, copy=False)
        # stable descending: sort the reversed array ascending, map back, reverse
        n = a.shape[ax]
        idx = np.argsort(np.flip(a, ax), axis=ax, kind="stable")
        return np.flip(n - 1 - idx, ax).astype(np.int64)


def argsort(x, axis=-1, descending=False):
    """Indices that sort ``x`` along ``axis`` (stable)."""
    nd = x.ndim
    if not -nd <= axis < nd:
        from .._state import QiflowError
        raise QiflowError(f"argsort: axis {axis} is out of range for {nd} dimensions")
    return apply(Argsort(axis % nd, descending), x)
