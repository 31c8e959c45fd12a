"""Indexing: ``x[index]`` with ints, slices (any step), None, Ellipsis, integer
arrays and boolean masks, and its gradient, which scatter-adds (so repeated
indices accumulate).

Array-valued index parts (lists, ndarrays, Tensors, symbolic variables) are op
inputs; the rest of the index is a hashable template stored on the op.

>>> x = qf.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> x[[0, 0, 2]].sum().backward(); x.grad.tolist()
[2.0, 0.0, 1.0]
"""
import numpy as np

from . import base as _base_mod
from .base import Op, apply, Symbolic
from .._state import QiflowError


class _Slot:
    """Marks where the k-th array input goes in the index template."""
    __slots__ = ("k",)

    def __init__(self, k): self.k = k
    def __eq__(self, o): return isinstance(o, _Slot) and o.k == self.k
    def __hash__(self): return hash(("slot", self.k))
    def __repr__(self): return f"#{self.k}"


def _is_arraylike(p):
    from .base import Tensor
    return isinstance(p, (list, np.ndarray, Tensor, Symbolic)) and not (
        isinstance(p, np.ndarray) and p.ndim == 0 and p.dtype.kind in "iu")


def _split_index(index):
    """index -> (template, array parts)."""
    if not isinstance(index, tuple):
        index = (index,)
    template, arrays = [], []
    for p in index:
        if isinstance(p, slice):
            template.append(("slice", _int_or_none(p.start), _int_or_none(p.stop), _int_or_none(p.step)))
        elif p is None or p is Ellipsis:
            template.append(p)
        elif isinstance(p, (bool, np.bool_)):
            raise QiflowError("getitem: a Python bool is not a valid index; use a boolean array")
        elif isinstance(p, (int, np.integer)):
            template.append(int(p))
        elif _is_arraylike(p):
            template.append(_Slot(len(arrays)))
            arrays.append(np.asarray(p) if isinstance(p, list) else p)
        elif isinstance(p, np.ndarray):  # 0-d integer array
            template.append(int(p))
        else:
            raise QiflowError(f"getitem: unsupported index part {p!r} of type {type(p).__name__}")
    return tuple(template), arrays


def _int_or_none(v):
    if v is None:
        return None
    if hasattr(v, "item") and not isinstance(v, (int, np.integer)):
        v = v.item()
    return int(v)


def _build(template, arrays):
    out = []
    for p in template:
        if isinstance(p, tuple):
            out.append(slice(p[1], p[2], p[3]))
        elif isinstance(p, _Slot):
            out.append(arrays[p.k])
        else:
            out.append(p)
    return tuple(out)


def _array_index(index):
    """A user index with Tensors replaced by their arrays (for __setitem__)."""
    template, arrays = _split_index(index)
    return _build(template, [a._data if isinstance(a, _base_mod.Tensor) else a for a in arrays])


def _check_index_arrays(opname, arrays):
    for a in arrays:
        if a.dtype.kind not in "iub":
            raise QiflowError(f"{opname}: index arrays must be integer or bool, got {a.dtype}")


class GetItem(Op):
    __slots__ = ("template",)
    props = ("template",)
    view_map = {0: [0]}       # basic indexing gives a view

    def __init__(self, template): self.template = template

    def infer(self, x, *idx):
        from .shapes import result_dtype
        known = all(d is not None for d in x.shape) and all(
            d is not None for t in idx for d in t.shape)
        if known and all(i.dtype.kind in "iu" for i in idx):
            dummy = np.zeros(x.shape, dtype=x.dtype)
            return self.forward(dummy, *[np.zeros(i.shape, i.dtype) for i in idx]).shape, x.dtype
        return _infer_index_shape(self.template, x, idx), x.dtype

    def forward(self, a, *arrays):
        try:
            return a[_build(self.template, arrays)]
        except IndexError as exc:
            raise QiflowError(f"getitem: index {_describe(self.template, arrays)} is invalid for an "
                              f"array of shape {a.shape}: {exc}") from None

    def vjp(self, ctx, inputs, output, g):
        x, idx = inputs[0], inputs[1:]
        return (apply(IndexAddLike(self.template), g, x, *idx),) + (None,) * len(idx)


class IndexAddLike(Op):
    """zeros like x, then g added at x[index] (np.add.at: repeats accumulate)."""
    __slots__ = ("template",)
    props = ("template",)
    view_map = {}

    def __init__(self, template): self.template = template

    def infer(self, g, x, *idx):
        return x.shape, g.dtype

    def forward(self, g, x, *arrays):
        out = np.zeros(np.shape(x), dtype=g.dtype)
        index = _build(self.template, arrays)
        if arrays:
            np.add.at(out, index, g)
        else:
            out[index] = g
        return out

    def vjp(self, ctx, inputs, output, gg):
        g, x, idx = inputs[0], inputs[1], inputs[2:]
        return (apply(GetItem(self.template), gg, *idx), None) + (None,) * len(idx)


def _describe(template, arrays):
    parts = []
    for p in template:
        if isinstance(p, _Slot):
            a = arrays[p.k]
            parts.append(f"array{list(np.shape(a))}")
        elif isinstance(p, tuple):
            parts.append(":".join("" if v is None else str(v) for v in p[1:]))
        else:
            parts.append("..." if p is Ellipsis else repr(p))
    return "[" + ", ".join(parts) + "]"


def _infer_index_shape(template, x, idx):
    """Output shape when some sizes are unknown (symbolic): NumPy's rules with None."""
    from .shapes import broadcast_shapes
    shape = list(x.shape)
    n_consumed = sum(1 for p in template if p is not None and p is not Ellipsis and not (
        isinstance(p, _Slot) and idx[p.k].dtype.kind == "b")) + sum(
        len(idx[p.k].shape) for p in template if isinstance(p, _Slot) and idx[p.k].dtype.kind == "b")
    expanded = []
    for p in template:
        if p is Ellipsis:
            expanded.extend([("slice", None, None, None)] * (len(shape) - n_consumed))
        else:
            expanded.append(p)
    if Ellipsis not in template:
        expanded.extend([("slice", None, None, None)] * (len(shape) - n_consumed))
    out, dim, adv_shapes, adv_pos = [], 0, [], None
    for p in expanded:
        if p is None:
            out.append(1)
        elif isinstance(p, int):
            dim += 1
        elif isinstance(p, tuple):
            d = shape[dim]
            if d is None:
                out.append(None)
            else:
                out.append(len(range(*slice(p[1], p[2], p[3]).indices(d))))
            dim += 1
        else:
            t = idx[p.k]
            if adv_pos is None:
                adv_pos = len(out)
            if t.dtype.kind == "b":
                adv_shapes.append((None,))
                dim += len(t.shape)
            else:
                adv_shapes.append(tuple(t.shape))
                dim += 1
    if adv_shapes:
        b = broadcast_shapes("getitem", *adv_shapes)
        slots = [p for p in expanded if isinstance(p, _Slot)]
        first, last = expanded.index(slots[0]), expanded.index(slots[-1])
        contiguous = all(isinstance(p, _Slot) for p in expanded[first:last + 1])
        out = (out[:adv_pos] + list(b) + out[adv_pos:]) if contiguous else list(b) + out
    return tuple(out)


def getitem(x, index):
    """``x[index]`` as an op (used by ``Tensor.__getitem__``)."""
    template, arrays = _split_index(index)
    for a in arrays:
        if isinstance(a, np.ndarray):
            _check_index_arrays("getitem", [a])
    return apply(GetItem(template), x, *arrays)


def take_along_axis(x, indices, axis):
    """NumPy's take_along_axis, differentiable in x (repeats accumulate)."""
    n = x.ndim
    axis = axis % n
    shape = indices.shape
    parts = []
    for d in range(n):
        if d == axis:
            parts.append(indices)
        else:
            r = np.arange(shape[d]).reshape([-1 if i == d else 1 for i in range(n)])
            parts.append(r)
    return getitem(x, tuple(parts))
