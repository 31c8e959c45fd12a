"""softmax along one axis as one primitive, for attention.

The composite ``exp(x - max) / sum`` is ten graph nodes, each a full pass
over the (N, H, L, S) scores with its own temporary; as one primitive the
forward works in place (max, subtract, exp, sum, divide) and the vjp is
y * (g - sum(g * y)), written with qiflow ops so it is differentiable again.

``safe=True`` is PyTorch's attention rule: a row of only -inf (a query that
may attend to nothing) gives zeros and a zero gradient instead of NaN.

>>> x = qf.tensor([[0.0, 0.0], [-float("inf"), -float("inf")]])
>>> qf.ops.softmax.softmax(x, -1, safe=True).tolist()
[[0.5, 0.5], [0.0, 0.0]]
"""
import numpy as np

from .base import Op, apply
from .reduce import sum as _sum
from .._state import QiflowError


class Softmax(Op):
    __slots__ = ("axis", "safe")
    props = ("axis", "safe")

    def __init__(self, axis, safe):
        self.axis, self.safe = axis, safe

    def infer(self, x):
        if not -len(x.shape) <= self.axis < len(x.shape):
            raise QiflowError(f"Softmax: axis {self.axis} is out of range for input of shape {tuple(x.shape)}")
        return tuple(x.shape), x.dtype

    def forward(self, x):
        if x.dtype.kind != "f":
            raise QiflowError(f"Softmax: expected a floating-point input, got {x.dtype}")
        m = x.max(axis=self.axis, keepdims=True)
        dead = ~np.isfinite(m)              # rows of -inf (or with +inf/nan)
        if dead.any():
            m = np.where(dead, 0, m)
        y = np.subtract(x, m)
        np.exp(y, out=y)
        s = y.sum(axis=self.axis, keepdims=True)
        if self.safe:
            s[s == 0] = 1                   # an all -inf row: exp gave zeros, keep them
        y /= s
        return y

    def vjp(self, inputs, output, g):
        y = output
        return (y * (g - _sum(g * y, self.axis, keepdims=True)),)


def softmax(x, axis=-1, safe=False):
    """exp(x) / sum(exp(x)) along ``axis``; ``safe`` turns rows of only -inf into zeros."""
    return apply(Softmax(int(axis), bool(safe)), x)
