"""Specialize: faster forms once the graph is canonical and stable.

* stop_gradient(x) -> x (gradients are already built);
* a @ b + c -> Gemm(a, b, c): one call, the sum added in place into the
  product, whose buffer the linker preallocates and reuses across calls;
* elementwise fusion (``fusion.py``).
"""
import numpy as np

from ...ops import elementwise as E
from ...ops.base import Op, apply
from ...ops.linalg import MatMul
from ...ops.shapes import broadcast_shapes
from ...functional import StopGradient
from . import register
from ._match import op_is
from . import fusion  # noqa: F401  (registers the fusion pass)


@register("specialize", StopGradient)
def remove_stop_gradient(fg, node):
    """stop_gradient(x) is x once the gradient graph exists."""
    return node.inputs[0]


class Gemm(Op):
    """a @ b + c for 2-D a and b (c broadcasts into the product)."""
    __slots__ = ()
    view_map = {}

    def infer(self, a, b, c):
        shape, dtype = MatMul().infer(a, b)
        return broadcast_shapes("gemm", shape, c.shape), dtype

    def forward(self, a, b, c):
        out = np.matmul(a, b)
        try:
            np.add(out, c, out=out)
        except ValueError:          # c is larger than the product: broadcast instead
            out = out + c
        return out


@register("specialize", E.Add)
def dot_add(fg, node):
    """a @ b + c (or c + a @ b) with 2-D a, b is one Gemm call."""
    out = node.outputs[0]
    x, y = node.inputs
    for m, c in ((x, y), (y, x)):
        mm = op_is(fg, m, MatMul)
        if mm is None or fg.n_clients(m) != 1 or fg.is_output(m) or m.dtype != out.dtype:
            continue
        a, b = mm.inputs
        if a.ndim == 2 and b.ndim == 2 and c.ndim <= 2:
            return apply(Gemm(), a, b, c)
    return None
