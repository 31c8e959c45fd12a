"""Softmax cross-entropy of class targets as one fused primitive.

The composite ``-log_softmax(x)[range(N), t]`` is a dozen ops forward and as
many vjps backward; on the small logit matrices of classifiers their Python
overhead dominates.  Fused, the forward is one stable log-sum-exp and the
backward one NumPy expression, ``g * (softmax(x) - onehot(t))``.

Two primitives, closed under differentiation:

* ``SoftmaxCrossEntropy(x, t)``         per-row loss, logsumexp(x_i) - x_i[t_i]
* ``SoftmaxCrossEntropyGrad(x, t, g)``  g_i * (softmax(x_i) - onehot(t_i)); its vjp
  uses ``softmax`` and itself, so second derivatives work.

>>> x = qf.tensor([[1000.0, 0.0], [0.0, 0.0]], requires_grad=True)
>>> loss = qf.ops.xent.softmax_cross_entropy(x, [0, 1])
>>> [round(v, 4) for v in loss.tolist()]
[0.0, 0.6931]
"""
import numpy as np

from .base import Op, apply
from ._saved import needs_grad
from .elementwise import ones_like
from .movement import expand_dims
from .reduce import sum as _sum
from .._state import QiflowError


def _check(xshape, tshape, tdtype):
    if len(xshape) != 2:
        raise QiflowError(f"softmax_cross_entropy: expected logits (N, C), got shape {tuple(xshape)}")
    if len(tshape) != 1 or (xshape[0] is not None and tshape[0] is not None and tshape[0] != xshape[0]):
        raise QiflowError(f"softmax_cross_entropy: logits of shape {tuple(xshape)} need class targets of "
                          f"shape ({xshape[0]},), got {tuple(tshape)}")
    if np.dtype(tdtype).kind not in "iu":
        raise QiflowError(f"softmax_cross_entropy: class targets must be integers, got {np.dtype(tdtype)}")


def _check_range(t, n):
    if t.size and (t.min() < 0 or t.max() >= n):
        bad = t[(t < 0) | (t >= n)].flat[0]
        raise QiflowError(f"softmax_cross_entropy: target class index {bad} is out of range for {n} "
                          f"classes (valid indices are 0..{n - 1})")


def _log_softmax(x):
    m = x.max(axis=1, keepdims=True)
    m[~np.isfinite(m)] = 0                  # rows of -inf stay -inf, not nan
    z = x - m
    z -= np.log(np.exp(z).sum(axis=1, keepdims=True))
    return z


class SoftmaxCrossEntropy(Op):
    __slots__ = ()

    def infer(self, x, t):
        _check(x.shape, t.shape, t.dtype)
        return (x.shape[0],), x.dtype

    def forward(self, x, t):
        _check(x.shape, t.shape, t.dtype)
        _check_range(t, x.shape[1])
        m = x.max(axis=1)
        m[~np.isfinite(m)] = 0
        z = x - m[:, None]
        lse = np.log(np.exp(z).sum(axis=1))
        return lse - z[np.arange(x.shape[0]), t]

    def vjp(self, inputs, output, g):
        x, t = inputs
        return apply(_grad_op, x, t, g), None


class SoftmaxCrossEntropyGrad(Op):
    __slots__ = ()

    def infer(self, x, t, g):
        return tuple(x.shape), np.result_type(x.dtype, g.dtype)

    def forward(self, x, t, g):
        p = _log_softmax(x)
        np.exp(p, out=p)
        p[np.arange(x.shape[0]), t] -= 1
        p *= g[:, None]
        return p

    def vjp(self, inputs, output, c):
        from ..functional import softmax
        x, t, g = inputs
        gx = gg = None
        if needs_grad(0):
            s = softmax(x, axis=1)
            gx = expand_dims(g, 1) * s * (c - _sum(c * s, axis=1, keepdims=True))
        if needs_grad(2):
            gg = _sum(c * apply(_grad_op, x, t, ones_like(g)), axis=1)
        return gx, None, gg


_op = SoftmaxCrossEntropy()
_grad_op = SoftmaxCrossEntropyGrad()


def softmax_cross_entropy(x, target):
    """Per-row cross-entropy of logits x (N, C) and integer class targets (N,).

    The same value as ``-log_softmax(x, axis=1)[range(N), target]``, in one op.
    """
    if isinstance(target, list):
        target = np.asarray(target)
    return apply(_op, x, target)
