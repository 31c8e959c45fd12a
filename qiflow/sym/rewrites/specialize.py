"""Specialize: faster forms once the graph is canonical and stable.

* stop_gradient(x) -> x (gradients are already built);
* a @ b + c -> Gemm(a, b, c): one call, the sum added in place into the
  product, whose buffer the linker preallocates and reuses across calls;
* the sum of the gradients of slices that tile an axis (an LSTM's four gates
  cut out of one product) -> one concatenation, not a zero-filled array per
  slice and the sums of them (``slice_grads_join``);
* elementwise fusion (``fusion.py``).
"""
import numpy as np

from ...ops import elementwise as E
from ...ops.base import Op, apply
from ...ops.linalg import MatMul
from ...ops.shapes import broadcast_shapes
from ...ops.movement import StopGradient
from ...ops.dynamic import DynamicSliceGrad, _resolve
from ...ops.join import concatenate
from ..graph import Constant
from .registry import register
from ._match import op_is


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


def _slice_piece(fg, v):
    """(axis, start, stop, g, like) when v is a DynamicSliceGrad with constant bounds
    that cuts one axis as [start:stop] (step 1) and keeps the others whole."""
    node = fg.owner(v)
    if node is None or not isinstance(node.op, DynamicSliceGrad):
        return None
    g, like, *bounds = node.inputs
    if not all(isinstance(b, Constant) for b in bounds):
        return None
    index = _resolve(node.op.template, [int(np.asarray(b.data)) for b in bounds])
    cut = [(k, p) for k, p in enumerate(index) if not (isinstance(p, slice) and p == slice(None))]
    if len(cut) != 1 or not isinstance(cut[0][1], slice):
        return None
    axis, sl = cut[0]
    if sl.step not in (None, 1) or sl.start is None or sl.stop is None or sl.start < 0 or \
            sl.stop < sl.start or g.ndim != like.ndim:
        return None
    return axis, sl.start, sl.stop, g, like


@register("specialize", E.Add)
def slice_grads_join(fg, node):
    """A sum of gradients of slices x[.., a_k:b_k, ..] of one x that tile [0, b)
    along one axis is the pieces joined along it (then written into zeros like x
    when x may be longer than b)."""
    out = node.outputs[0]
    users = fg.client_nodes(out)
    if fg.n_clients(out) == 1 and users and isinstance(users[0].op, E.Add):
        return None                           # not the root of the sum: the root joins all
    leaves, stack = [], list(node.inputs)
    while stack:
        v = stack.pop()
        sub = fg.owner(v)
        if sub is not None and isinstance(sub.op, E.Add) and fg.n_clients(v) == 1 and \
                not fg.is_output(v):
            stack.extend(sub.inputs)
        else:
            leaves.append(v)
    pieces = [_slice_piece(fg, v) for v in leaves]
    if len(pieces) < 2 or any(p is None for p in pieces):
        return None
    axis, like = pieces[0][0], pieces[0][4]
    if any(p[0] != axis or p[4] is not like or p[3].dtype != out.dtype for p in pieces):
        return None
    pieces.sort(key=lambda p: p[1])
    if pieces[0][1] != 0 or any(a[2] != b[1] for a, b in zip(pieces, pieces[1:])):
        return None
    if like.type.shape != out.type.shape or like.ndim != out.ndim:
        return None                           # the sum broadcasts: not only the pieces
    joined = concatenate([p[3] for p in pieces], axis)
    stop = pieces[-1][2]
    if like.type.shape[axis] == stop:
        return joined
    template = tuple(("slice", None, None, None) if k != axis else ("slice", 0, stop, None)
                     for k in range(axis + 1))
    return apply(DynamicSliceGrad(template), joined, like)
