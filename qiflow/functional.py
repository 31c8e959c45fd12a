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


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along ``axis``, stable for large logits."""
    return x - logsumexp(x, axis, keepdims=True)


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, stable for large logits."""
    e = E.exp(x - _finite_max(x, axis))
    return e / R.sum(e, axis, keepdims=True)
