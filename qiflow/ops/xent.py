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
from .elementwise import ones_like
from .movement import expand_dims
from .reduce import sum as _sum
from .softmax import shifted_lse, softmax
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


class SoftmaxCrossEntropy(Op):
    __slots__ = ()
    view_map = {}

    def infer(self, x, t):
        _check(x.shape, t.shape, t.dtype)
        return (x.shape[0],), x.dtype

    def forward(self, x, t):
        _check(x.shape, t.shape, t.dtype)
        _check_range(t, x.shape[1])
        _, z, log_s = shifted_lse(x, (1,))
        return log_s[:, 0] - z[np.arange(x.shape[0]), t]

    def vjp(self, ctx, inputs, output, g):
        x, t = inputs
        return apply(_grad_op, x, t, g), None


class SoftmaxCrossEntropyGrad(Op):
    __slots__ = ()
    view_map = {}

    def infer(self, x, t, g):
        return tuple(x.shape), np.result_type(x.dtype, g.dtype)

    def forward(self, x, t, g):
        _, p, log_s = shifted_lse(x, (1,))
        p -= log_s
        np.exp(p, out=p)
        p[np.arange(x.shape[0]), t] -= 1
        p *= g[:, None]
        return p

    def vjp(self, ctx, inputs, output, c):
        x, t, g = inputs
        need = ctx.needs_input_grad
        gx = gg = None
        if need[0]:
            s = softmax(x, axis=1)
            gx = expand_dims(g, 1) * s * (c - _sum(c * s, axis=1, keepdims=True))
        if need[2]:
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
