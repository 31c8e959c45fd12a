"""softmax where a row of only -inf gives zeros: PyTorch's rule for attention.

``scaled_dot_product_attention`` lets a query that may attend to nothing (its
whole row masked) produce zeros with a zero gradient, where the plain
softmax gives NaN.  The kernel is ``softmax.py``'s max-shifted one; the
rows whose log-sum-exp is -inf are then set to zero, in place.  The vjp,
y * (g - sum(g * y)), is written with qiflow ops (differentiable again) and
is zero on those rows because y is.

>>> x = qf.tensor([[0.0, 0.0], [-float("inf"), -float("inf")]])
>>> qf.ops.safe_softmax.safe_softmax(x).tolist()
[[0.5, 0.5], [0.0, 0.0]]
"""
import numpy as np

from .base import Op, apply
from .reduce import sum as _sum
from .shapes import normalize_axis
from .softmax import shifted_lse


class SafeSoftmax(Op):
    __slots__ = ("axis",)
    props = ("axis",)
    view_map = {}

    def __init__(self, axis):
        self.axis = axis

    def infer(self, t):
        normalize_axis("safe_softmax", self.axis, len(t.shape))
        return t.shape, (t.dtype if np.dtype(t.dtype).kind in "fc" else np.dtype(np.float64))

    def forward(self, a):
        if a.dtype.kind not in "fc":
            a = a.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):     # the -inf rows, zeroed below
            lse, z, log_s = shifted_lse(a, self.axis)
            z -= log_s
            np.exp(z, out=z)
        dead = np.isneginf(lse)
        if dead.any():
            np.copyto(z, 0, where=np.broadcast_to(dead, z.shape))
        return z

    def vjp(self, ctx, inputs, output, g):
        return (output * (g - _sum(g * output, self.axis, keepdims=True)),)


def safe_softmax(x, axis=-1):
    """softmax along ``axis`` (one axis), zeros for rows of only -inf."""
    nd = x.ndim if hasattr(x, "ndim") else np.ndim(x)
    return apply(SafeSoftmax(normalize_axis("safe_softmax", axis, nd)), x)
