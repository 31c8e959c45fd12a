"""Joining, splitting and repeating: concatenate, stack, split, pad, flip, repeat, tile.

NumPy semantics throughout (the functions of ``qiflow.sym``; the eager ``qf.cat``,
``qf.split`` ... take PyTorch's arguments: ``qiflow/torchfn/shape.py``).  ``concatenate``, ``stack``, constant ``pad`` and
``flip`` are primitives; ``split`` returns slices (``getitem``), the other pad
modes gather with an index array, and ``repeat``/``tile`` broadcast and
reshape, so their gradients come from the ops they are made of.

>>> a = qf.ones((2, 3)); b = qf.zeros((1, 3))
>>> J = qf.ops.join; J.concatenate([a, b]).shape, J.stack([a, a], axis=1).shape
((3, 3), (2, 2, 3))
"""
import numpy as np

from . import base as _base
from .base import Op, apply, static_shape
from .shapes import normalize_axis, known
from .movement import reshape, expand_dims, broadcast_to
from .indexing import getitem
from .._state import QiflowError


def _shape(x):
    """Shape known now: a symbolic variable's type shape (may hold None) or the array's."""
    return tuple(static_shape(x))


def _known_shape(opname, x):
    s = _shape(x)
    if None in s:
        raise QiflowError(f"{opname}: needs the full shape of its input, got {s} with unknown sizes")
    return s


def _axis(opname, axis, ndim):
    return normalize_axis(opname, axis, ndim)[0]


def _apply_checked(op, *args):
    """apply, but a failure is explained by ``infer``'s clearer message (free on success)."""
    try:
        return apply(op, *args)
    except QiflowError:
        op.infer(*[a if hasattr(a, "dtype") else np.asarray(a) for a in args])
        raise


def _seq(opname, tensors):
    if not isinstance(tensors, (list, tuple)):
        raise QiflowError(f"{opname}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise QiflowError(f"{opname}: needs at least one tensor")
    return tuple(tensors)


# --------------------------------------------------------------- concatenate
class Concatenate(Op):
    """Join along an existing axis; the gradient is cut back into pieces."""
    __slots__ = ("axis",)
    props = ("axis",)
    view_map = {}

    def __init__(self, axis): self.axis = axis

    def infer(self, *types):
        first = tuple(types[0].shape)
        ax = self.axis
        total = 0
        for t in types:
            s = tuple(t.shape)
            if len(s) != len(first) or any(
                    i != ax and known(a) and known(b) and a != b for i, (a, b) in enumerate(zip(s, first))):
                shapes = ", ".join(str(tuple(u.shape)) for u in types)
                raise QiflowError(f"concatenate: shapes {shapes} differ outside axis {ax}")
            total = None if total is None or not known(s[ax]) else total + s[ax]
        shape = first[:ax] + (total,) + first[ax + 1:]
        return shape, np.result_type(*[t.dtype for t in types])

    def forward(self, *arrays):
        return np.concatenate(arrays, axis=self.axis)

    def vjp(self, ctx, inputs, output, g):
        if len(inputs) == 1:
            return (g,)
        return tuple(apply(ConcatPiece(self.axis, k), g, *inputs) for k in range(len(inputs)))


class ConcatPiece(Op):
    """The k-th block of g along ``axis``, blocks sized like the other inputs.

    Sizes are read from the arrays when it runs, so it works when they were
    unknown at graph-build time.
    """
    __slots__ = ("axis", "k")
    props = ("axis", "k")
    view_map = {0: [0]}

    def __init__(self, axis, k): self.axis, self.k = axis, k

    def infer(self, g, *types):
        t = types[self.k]
        shape = tuple(g.shape)
        return shape[:self.axis] + (t.shape[self.axis],) + shape[self.axis + 1:], g.dtype

    def forward(self, g, *arrays):
        ax = self.axis
        start = 0
        for a in arrays[:self.k]:
            start += np.shape(a)[ax]
        stop = start + np.shape(arrays[self.k])[ax]
        return g[(slice(None),) * ax + (slice(start, stop),)]

    def vjp(self, ctx, inputs, output, gg):
        others = inputs[1:]
        zeros = ConcatBlockShape(self.axis)
        parts = [gg if j == self.k else apply(zeros, gg, o) for j, o in enumerate(others)]
        return (concatenate(parts, self.axis),) + (None,) * len(others)


class ConcatBlockShape(Op):
    """Zeros with g's shape except ``o``'s size along ``axis`` (no gradient)."""
    __slots__ = ("axis",)
    props = ("axis",)
    differentiable = False
    view_map = {}

    def __init__(self, axis): self.axis = axis

    def infer(self, g, o):
        s = tuple(g.shape)
        return s[:self.axis] + (o.shape[self.axis],) + s[self.axis + 1:], g.dtype

    def forward(self, g, o):
        s = list(np.shape(g))
        s[self.axis] = np.shape(o)[self.axis]
        return np.zeros(s, dtype=g.dtype)


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis (``axis=None`` flattens them first).

    >>> qf.ops.join.concatenate([qf.ones(2), qf.zeros(1)]).tolist()
    [1.0, 1.0, 0.0]
    """
    tensors = _seq("concatenate", tensors)
    if axis is None:
        tensors = tuple(reshape(t, (-1,)) for t in tensors)
        axis = 0
    ndim = len(_shape(tensors[0]))
    if ndim == 0:
        raise QiflowError("concatenate: zero-dimensional tensors cannot be concatenated; use stack")
    return _apply_checked(Concatenate(_axis("concatenate", axis, ndim)), *tensors)


cat = concatenate


# --------------------------------------------------------------------- stack
class Stack(Op):
    """Join along a new axis; the gradient of input k is ``g[..., k, ...]``."""
    __slots__ = ("axis",)
    props = ("axis",)
    view_map = {}

    def __init__(self, axis): self.axis = axis

    def infer(self, *types):
        first = tuple(types[0].shape)
        for t in types:
            s = tuple(t.shape)
            if len(s) != len(first) or any(known(a) and known(b) and a != b for a, b in zip(s, first)):
                shapes = ", ".join(str(tuple(u.shape)) for u in types)
                raise QiflowError(f"stack: all tensors need the same shape, got {shapes}")
        shape = first[:self.axis] + (len(types),) + first[self.axis:]
        return shape, np.result_type(*[t.dtype for t in types])

    def forward(self, *arrays):
        return np.stack(arrays, axis=self.axis)

    def vjp(self, ctx, inputs, output, g):
        lead = (slice(None),) * self.axis
        return tuple(getitem(g, lead + (k,)) for k in range(len(inputs)))


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis.

    >>> qf.ops.join.stack([qf.ones(3), qf.zeros(3)], axis=1).shape
    (3, 2)
    """
    tensors = _seq("stack", tensors)
    ndim = len(_shape(tensors[0])) + 1
    return _apply_checked(Stack(_axis("stack", axis, ndim)), *tensors)


# --------------------------------------------------------------------- split
def split(x, indices_or_sections, axis=0):
    """Split into a list of views along ``axis`` (NumPy's rule: an int must divide
    the axis evenly; a list gives the split points).

    >>> [p.shape for p in qf.ops.join.split(qf.ones((4, 2)), [1, 3])]
    [(1, 2), (2, 2), (1, 2)]
    """
    shape = _shape(x)
    ax = _axis("split", axis, len(shape))
    n = shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if n is None:
            raise QiflowError("split: the size of the split axis is unknown; give explicit split points")
        if k <= 0 or n % k:
            raise QiflowError(f"split: an axis of size {n} (shape {shape}, axis {ax}) cannot be split "
                              f"into {k} equal sections")
        points = [i * (n // k) for i in range(1, k)]
    else:
        points = [int(p) for p in indices_or_sections]
    lead = (slice(None),) * ax
    bounds = [None] + points + [None]
    return [getitem(x, lead + (slice(a, b),)) for a, b in zip(bounds[:-1], bounds[1:])]


# ----------------------------------------------------------------------- pad
class Pad(Op):
    """Constant padding; the gradient is the centre slice of g."""
    __slots__ = ("widths", "value")
    props = ("widths", "value")
    view_map = {}

    def __init__(self, widths, value): self.widths, self.value = widths, value

    def infer(self, t):
        shape = tuple(d + b + a if known(d) else None for d, (b, a) in zip(t.shape, self.widths))
        return shape, t.dtype

    def forward(self, a):
        return np.pad(a, self.widths, mode="constant", constant_values=self.value)

    def vjp(self, ctx, inputs, output, g):
        return (getitem(g, tuple(slice(b, -a if a else None) for b, a in self.widths)),)


_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _pad_widths(pad_width, ndim):
    try:
        w = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (ndim, 2))
    except ValueError:
        raise QiflowError(f"pad: pad_width {pad_width!r} does not fit an array of ndim {ndim}; "
                          "give an int, (before, after) or one pair per axis") from None
    if (w < 0).any():
        raise QiflowError(f"pad: pad_width {pad_width!r} has negative entries")
    return tuple((int(b), int(a)) for b, a in w)


def pad(x, pad_width, mode="constant", constant_values=0):
    """Pad with NumPy's ``pad_width`` rules; modes constant, edge, reflect,
    symmetric and wrap.

    >>> qf.pad(qf.tensor([1.0, 2.0]), (1, 2)).tolist()
    [0.0, 1.0, 2.0, 0.0, 0.0]
    """
    shape = _shape(x)
    widths = _pad_widths(pad_width, len(shape))
    if mode not in _PAD_MODES:
        raise QiflowError(f"pad: mode {mode!r} is not one of {_PAD_MODES}")
    if mode == "constant":
        if hasattr(constant_values, "item"):
            constant_values = constant_values.item()
        return apply(Pad(widths, constant_values), x)
    # Other modes copy existing elements: a gather whose gradient scatter-adds.
    for ax, (b, a) in enumerate(widths):
        if not b and not a:
            continue
        n = shape[ax]
        if n is None:
            raise QiflowError(f"pad: mode {mode!r} needs the size of axis {ax}, which is unknown")
        if n == 0:
            raise QiflowError(f"pad: mode {mode!r} cannot pad the empty axis {ax} of shape {shape}")
        idx = np.pad(np.arange(n), (b, a), mode=mode)
        x = getitem(x, (slice(None),) * ax + (idx,))
    return x


# ---------------------------------------------------------------------- flip
class Flip(Op):
    """Reverse the order of elements along ``axes``; its own inverse."""
    __slots__ = ("axes",)
    props = ("axes",)
    view_map = {0: [0]}

    def __init__(self, axes): self.axes = axes

    def infer(self, t): return tuple(t.shape), t.dtype
    def forward(self, a): return np.flip(a, self.axes)
    def vjp(self, ctx, inputs, output, g): return (apply(self, g),)


def flip(x, axis=None):
    """Reverse along ``axis`` (int, tuple, or None for all axes).

    >>> qf.ops.join.flip(qf.tensor([1, 2, 3])).tolist()
    [3, 2, 1]
    """
    return apply(Flip(normalize_axis("flip", axis, len(_shape(x)))), x)


# -------------------------------------------------------------- repeat, tile
def repeat(x, repeats, axis=None):
    """Repeat each element ``repeats`` times along ``axis`` (None: flatten first).

    ``repeats`` may be an int or one count per element.

    >>> qf.repeat(qf.tensor([1, 2]), 2).tolist()
    [1, 1, 2, 2]
    """
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    shape = _known_shape("repeat", x)
    ax = _axis("repeat", axis, len(shape))
    reps = np.asarray(repeats._data if isinstance(repeats, _base.Tensor) else repeats)
    if reps.dtype.kind not in "iu" or (reps < 0).any():
        raise QiflowError(f"repeat: repeats must be non-negative integers, got {repeats!r}")
    if reps.size == 1 and reps.ndim <= 1:
        r = int(reps.reshape(()))
        # Broadcast a new axis after ``ax`` and merge: gradients sum back through broadcast_to.
        y = broadcast_to(expand_dims(x, ax + 1), shape[:ax + 1] + (r,) + shape[ax + 1:])
        return reshape(y, shape[:ax] + (shape[ax] * r,) + shape[ax + 1:])
    if reps.shape != (shape[ax],):
        raise QiflowError(f"repeat: {reps.size} repeat counts for axis {ax} of size {shape[ax]} "
                          f"(shape {shape})")
    idx = np.repeat(np.arange(shape[ax]), reps)
    return getitem(x, (slice(None),) * ax + (idx,))


def tile(x, reps):
    """Repeat the whole tensor ``reps`` times along each axis (NumPy's tile).

    >>> qf.tile(qf.tensor([1, 2]), 2).tolist()
    [1, 2, 1, 2]
    """
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    if any(r < 0 for r in reps):
        raise QiflowError(f"tile: reps must be non-negative, got {reps}")
    shape = _known_shape("tile", x)
    n = max(len(shape), len(reps))
    shape = (1,) * (n - len(shape)) + shape
    reps = (1,) * (n - len(reps)) + reps
    # (s0, s1) -> (1, s0, 1, s1) -> broadcast (r0, s0, r1, s1) -> (r0*s0, r1*s1)
    inter = tuple(v for pair in ((1, s) for s in shape) for v in pair)
    big = tuple(v for pair in zip(reps, shape) for v in pair)
    y = broadcast_to(reshape(x, inter), big)
    return reshape(y, tuple(r * s for r, s in zip(reps, shape)))
