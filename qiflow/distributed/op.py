"""``AllReduce``: the all-reduce as a qiflow op, so that it runs inside
``T.function`` (for example in ``updates``) and in eager graphs.

The op follows the protocol of ``qiflow.ops.base``.  Its vjp: if every rank r
computes y = x_1 + ... + x_p and the loss is the sum of the ranks' losses,
dL/dx_r is the sum over ranks of dL_s/dy — the same all-reduce applied to the
gradient (for the mean, the mean of the gradients).

>>> from qiflow import sym as T
>>> from qiflow import distributed as dist
>>> w = T.shared(np.zeros(3), name="w")
>>> gw = dist.all_reduce_op(w * 2.0, op="mean")
>>> gw.owner.op, gw.type.ndim
(AllReduce(op='avg'), 1)

Under ``mpiexec -n 2``, a data-parallel SGD step::

    gw = dist.all_reduce_op(T.grad(cost, w), op="mean")
    train = T.function([x, y], cost, updates=[(w, w - lr * gw)])
"""
import numpy as np

from .._state import QiflowError
from ..ops.base import Op, apply
from .collectives import ReduceOp, all_reduce, reduce_op


class AllReduce(Op):
    """y = the reduction over ranks of x (on every rank); same shape and dtype."""
    __slots__ = ("op", "group")
    props = ("op", "group")
    view_map = {}

    def __init__(self, op=ReduceOp.SUM, group=None):
        self.op = reduce_op(op, "all_reduce_op")
        self.group = group         # None: the default group, looked up when the op runs

    def infer(self, t):
        if self.op is ReduceOp.AVG and np.dtype(t.dtype).kind not in "fc":
            raise QiflowError(f"{self!r}: the mean of {t.dtype} values would be truncated; use a "
                              "floating-point input or op='sum'")
        return tuple(t.shape), t.dtype

    def forward(self, a):
        out = np.array(a, order="C")           # a new array: the input is never overwritten
        all_reduce(out, self.op, self.group)
        return out

    def vjp(self, ctx, inputs, output, grad):
        if self.op in (ReduceOp.SUM, ReduceOp.AVG):
            return (apply(AllReduce(self.op, self.group), grad),)
        raise QiflowError(f"{self!r} has no gradient in qiflow (only op='sum' and op='mean' are "
                          "differentiable)")

    def __repr__(self):
        return f"AllReduce(op={self.op.value!r})"


def all_reduce_op(x, op="sum", group=None):
    """The all-reduce of ``x`` over the ranks as a graph op (a new value; ``x`` is
    unchanged), differentiable for ``op='sum'`` and ``op='mean'``."""
    return apply(AllReduce(op, group), x)
