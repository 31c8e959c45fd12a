"""Softmax, log-softmax and log-sum-exp: one numeric kernel, three primitives.

The composites (``x - max(x)`` shifted exponentials and sums) need a dozen
nodes and are unstable when written naively; these primitives sit under every
classifier, so they are promoted for speed and numerics.  ``shifted_lse`` is
the only place where the max-shifted log-sum-exp is computed (the fused
cross-entropy in ``xent.py`` uses it too).  The compiler's stabilising
rewrites turn the composites (``log(sum(exp(x)))``, ``exp(x) / sum(exp(x))``,
``log(softmax(x))``) into these primitives, so eager and symbolic graphs are
made of the same nodes.

>>> S = qf.ops.softmax; S.softmax(qf.tensor([0.0, 0.0])).tolist()
[0.5, 0.5]
>>> S.logsumexp(qf.tensor([1000.0, 1000.0])).item()  # 1000 + log 2
1000.6931...
"""
import numpy as np

from .base import Op, apply
from .elementwise import exp
from .reduce import sum as _sum
from .movement import expand_dims
from .shapes import normalize_axis


def shifted_lse(x, axis):
    """(log-sum-exp of x over ``axis`` with keepdims, x - max): the stable form.

    Rows that are all -inf give -inf (not NaN); ``axis`` is a tuple of axes.
    """
    m = np.max(x, axis=axis, keepdims=True)
    if not np.isfinite(m).all():
        m = np.where(np.isfinite(m), m, 0)
    z = x - m
    s = np.exp(z).sum(axis=axis, keepdims=True)
    return np.log(s) + m, z, np.log(s)


def _float(a):
    return a if a.dtype.kind in "fc" else a.astype(np.float64)


class LogSumExp(Op):
    """log(sum(exp(x))) over ``axis``; its vjp is g * softmax(x)."""
    __slots__ = ("axis", "keepdims")
    props = ("axis", "keepdims")
    view_map = {}

    def __init__(self, axis, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def infer(self, t):
        axes = normalize_axis("logsumexp", self.axis, len(t.shape))
        if self.keepdims:
            shape = tuple(1 if i in axes else d for i, d in enumerate(t.shape))
        else:
            shape = tuple(d for i, d in enumerate(t.shape) if i not in axes)
        return shape, _float(np.ones(1, t.dtype)).dtype

    def forward(self, a):
        lse = shifted_lse(_float(a), self.axis)[0]
        return lse if self.keepdims else np.squeeze(lse, self.axis)

    def vjp(self, ctx, inputs, output, g):
        x = inputs[0]
        if not self.keepdims:
            g, output = expand_dims(g, self.axis), expand_dims(output, self.axis)
        return (g * exp(x - output),)


class LogSoftmax(Op):
    """x - logsumexp(x) along ``axis``; the vjp g - softmax(x) * sum(g) reuses
    the output (softmax = exp(log_softmax))."""
    __slots__ = ("axis",)
    props = ("axis",)
    view_map = {}

    def __init__(self, axis):
        self.axis = axis

    def infer(self, t):
        normalize_axis("log_softmax", self.axis, len(t.shape))
        return t.shape, _float(np.ones(1, t.dtype)).dtype

    def forward(self, a):
        _, z, log_s = shifted_lse(_float(a), self.axis)
        z -= log_s
        return z

    def vjp(self, ctx, inputs, output, g):
        return (g - exp(output) * _sum(g, self.axis, keepdims=True),)


class Softmax(Op):
    """exp(x) / sum(exp(x)) along ``axis``; the vjp y * (g - sum(g * y)) uses the output."""
    __slots__ = ("axis",)
    props = ("axis",)
    view_map = {}

    def __init__(self, axis):
        self.axis = axis

    def infer(self, t):
        normalize_axis("softmax", self.axis, len(t.shape))
        return t.shape, _float(np.ones(1, t.dtype)).dtype

    def forward(self, a):
        _, z, log_s = shifted_lse(_float(a), self.axis)
        z -= log_s
        np.exp(z, out=z)
        return z

    def vjp(self, ctx, inputs, output, g):
        return (output * (g - _sum(g * output, self.axis, keepdims=True)),)


def _axes(what, axis, x):
    nd = x.ndim if hasattr(x, "ndim") else np.ndim(x)
    return normalize_axis(what, axis, nd)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) over ``axis`` without overflow; rows of -inf give -inf."""
    return apply(LogSumExp(_axes("logsumexp", axis, x), bool(keepdims)), x)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``, stable for large logits.

    >>> qf.ops.softmax.log_softmax(qf.tensor([0.0, 0.0])).tolist()
    [-0.6931471824645996, -0.6931471824645996]
    """
    return apply(LogSoftmax(_axes("log_softmax", axis, x)), x)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, stable for large logits."""
    return apply(Softmax(_axes("softmax", axis, x)), x)
