"""The affine map of a dense layer, ``y = x @ w.T + b``, as one primitive.

It could be written as ``matmul(x, transpose(w)) + b``; one primitive is used
for speed: one node instead of three, the bias added in place after the GEMM,
and the weight gradient produced directly in w's (out, in) layout, so no
transposed copy is made before it is accumulated.  The vjp is written with
qiflow's matmul, so higher-order gradients work.

>>> x = qf.ones((2, 3)); w = qf.ones((4, 3)); b = qf.zeros(4)
>>> qf.nn.functional.linear(x, w, b).shape
(2, 4)
"""
import numpy as np

from .base import Op, apply
from .linalg import matmul
from .movement import reshape, swapaxes
from .shapes import known
from .._state import QiflowError


class Linear(Op):
    """x (..., in) @ w (out, in).T [+ b (out,)] -> (..., out)."""
    __slots__ = ()
    view_map = {}

    def infer(self, x, w, b=None):
        _check(x.shape, w.shape, None if b is None else b.shape)
        return tuple(x.shape[:-1]) + (w.shape[0],), np.result_type(x.dtype, w.dtype)

    def forward(self, x, w, b=None):
        if x.ndim < 1 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
            _check(x.shape, w.shape, None if b is None else b.shape)
        if b is not None and b.shape != (w.shape[0],):
            _check(x.shape, w.shape, b.shape)
        if x.ndim == 2 and few_rows_many_outputs(x.shape[0], w.shape[0]) and x.dtype == w.dtype \
                and x.dtype.kind == "f" and (b is None or b.dtype == x.dtype):
            # the transposed product is copied into PyTorch's row-major layout in the
            # same pass that adds the bias
            t = np.matmul(w, x.T)
            y = np.empty((x.shape[0], w.shape[0]), t.dtype)
            if b is None:
                np.copyto(y, t.T)
            else:
                np.add(t.T, b, out=y)
            return y
        y = x @ w.T
        if b is not None:
            y += b
        return y

    def vjp(self, ctx, inputs, output, g):
        x, w = inputs[0], inputs[1]
        need = ctx.needs_input_grad
        gx = matmul(g, w) if need[0] else None
        gw = None
        if need[1]:
            if x.ndim == 2:
                gw = matmul(swapaxes(g, 0, 1), x)
            elif x.ndim == 1:
                gw = matmul(reshape(g, (-1, 1)), reshape(x, (1, -1)))
            else:
                gw = matmul(swapaxes(reshape(g, (-1, w.shape[0])), 0, 1), reshape(x, (-1, w.shape[1])))
        if len(inputs) == 2:
            return gx, gw
        return gx, gw, (g if need[2] else None)   # the engine sums it over the batch axes


def few_rows_many_outputs(n, o):
    """Whether x (n, in) @ w.T (in, o) runs faster as (w @ x.T).T: OpenBLAS's sgemm is
    much slower on a short left operand against a transposed right one (20 x 784 @
    784 x 500: 150 -> 117 us here, 302 -> 221 us on another machine)."""
    return 4 * n <= o and o >= 64


def _check(xshape, wshape, bshape):
    if len(wshape) != 2:
        raise QiflowError(f"linear: weight must be 2-D (out_features, in_features), got {tuple(wshape)}")
    if len(xshape) < 1 or (known(xshape[-1]) and known(wshape[1]) and xshape[-1] != wshape[1]):
        raise QiflowError(f"linear: input of shape {tuple(xshape)} does not match weight of shape "
                          f"{tuple(wshape)}: the last dimension must be {wshape[1]}")
    if bshape is not None and (len(bshape) != 1 or (known(bshape[0]) and known(wshape[0])
                                                    and bshape[0] != wshape[0])):
        raise QiflowError(f"linear: bias of shape {tuple(bshape)} does not match weight of shape "
                          f"{tuple(wshape)}: expected ({wshape[0]},)")


_linear = Linear()


def linear(x, weight, bias=None):
    """``x @ weight.T + bias`` with PyTorch's weight layout (out_features, in_features).

    >>> qf.nn.functional.linear(qf.ones((5, 3)), qf.ones((2, 3))).tolist()[0]
    [3.0, 3.0]
    """
    if bias is None:
        return apply(_linear, x, weight)
    return apply(_linear, x, weight, bias)
