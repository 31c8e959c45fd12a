"""Composites built from primitives: softmax, log_softmax, logsumexp and losses.

They need no gradient rule of their own.  Stability comes from shifting by a
max that is cut from the graph (``stop_gradient``): the shift does not change
the value or the gradient, only the numerics.

>>> qf.functional.softmax(qf.tensor([0.0, 0.0])).tolist()
[0.5, 0.5]
"""
import numpy as np

from .ops.base import Op, apply
from .ops import elementwise as E
from .ops import reduce as R
from .ops.elementwise import NonDiff


class StopGradient(NonDiff):
    """Identity whose output never carries a gradient."""
    __slots__ = ()

    def infer(self, t): return t.shape, t.dtype
    def forward(self, a): return a


_stop = StopGradient()


def stop_gradient(x):
    """x's value, cut from the graph (like ``detach`` but works symbolically too)."""
    return apply(_stop, x)


def _finite_max(x, axis):
    m = stop_gradient(R.max(x, axis, keepdims=True))
    return E.where(E.isfinite(m), m, 0)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))) without overflow; rows of -inf give -inf.

    >>> qf.logsumexp(qf.tensor([1000.0, 1000.0])).item()  # 1000 + log 2
    1000.6931...
    """
    m = _finite_max(x, axis)
    s = R.sum(E.exp(x - m), axis, keepdims=True)
    out = E.log(s) + m
    if not keepdims:
        from .ops.movement import squeeze
        from .ops.shapes import normalize_axis
        out = squeeze(out, normalize_axis("logsumexp", axis, x.ndim))
    return out


class LogSoftmax(Op):
    """x - logsumexp(x) along one axis as a single primitive.

    Promoted from the composite ``x - logsumexp(x)`` for speed: it sits under
    every cross-entropy, and one node replaces ten in both sweeps.  Forward is
    the same max-shifted computation; the vjp, g - softmax(x) * sum(g), reuses
    the output (softmax = exp(log_softmax)).
    """
    __slots__ = ("axis",)
    props = ("axis",)

    def __init__(self, axis):
        self.axis = axis

    def forward(self, a):
        if a.dtype.kind not in "fc":
            a = a.astype(np.float64)
        m = a.max(axis=self.axis, keepdims=True)
        if not np.isfinite(m).all():
            m = np.where(np.isfinite(m), m, 0)
        z = a - m
        s = np.exp(z).sum(axis=self.axis, keepdims=True)
        z -= np.log(s)
        return z

    def vjp(self, inputs, output, g):
        return (g - E.exp(output) * g.sum(axis=self.axis, keepdims=True),)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``, stable for large logits.

    >>> qf.log_softmax(qf.tensor([0.0, 0.0])).tolist()
    [-0.6931471824645996, -0.6931471824645996]
    """
    from .ops.shapes import normalize_axis
    return apply(LogSoftmax(normalize_axis("log_softmax", axis, x.ndim)), x)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, stable for large logits."""
    e = E.exp(x - _finite_max(x, axis))
    return e / R.sum(e, axis, keepdims=True)
