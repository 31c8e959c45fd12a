"""Cumulative sums along one axis.  The gradient of a cumulative sum is the
cumulative sum of the gradient taken from the other end.

>>> qf.cumsum(qf.tensor([1.0, 2.0, 3.0]), 0).tolist()
[1.0, 3.0, 6.0]
"""
import numpy as np

from .base import Op, apply


class Cumsum(Op):
    """Running sum along ``axis`` (an int, already normalised)."""
    __slots__ = ("axis", "reverse")
    props = ("axis", "reverse")
    view_map = {}

    def __init__(self, axis, reverse=False):
        self.axis, self.reverse = axis, bool(reverse)

    def infer(self, t):
        return t.shape, t.dtype

    def forward(self, a):
        if not self.reverse:
            return np.cumsum(a, axis=self.axis, dtype=a.dtype)
        return np.flip(np.cumsum(np.flip(a, self.axis), axis=self.axis, dtype=a.dtype), self.axis)

    def vjp(self, ctx, inputs, output, g):
        return (apply(Cumsum(self.axis, not self.reverse), g),)


def cumsum(x, axis):
    """Running sum along ``axis``: ``out[i] = x[0] + ... + x[i]``."""
    nd = x.ndim
    if not -max(nd, 1) <= axis < max(nd, 1):
        from .._state import QiflowError
        raise QiflowError(f"cumsum: axis {axis} is out of range for {nd} dimensions")
    return apply(Cumsum(axis % nd if nd else 0), x)
