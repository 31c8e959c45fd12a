"""Shape ops: reshape, transpose, broadcast, expand/squeeze, and the *_like helpers.

The ``*_like`` ops take a reference array instead of a shape so that the same
vjp works when shapes are only known at run time (symbolic mode).

>>> qf.reshape(qf.arange(6), (2, -1)).shape
(2, 3)
"""
import math

import numpy as np

from .base import Op, apply, static_shape
from .shapes import normalize_axis, broadcast_shapes, known
from .._state import QiflowError


def _sum_to_shape(g, shape):
    """Sum g over the axes that broadcasting added or stretched to reach g.shape."""
    if g.shape == shape:
        return g
    if g.size == math.prod(shape):
        return g.reshape(shape)       # only size-1 axes differ: nothing to sum
    lead = g.ndim - len(shape)
    stretched = tuple(i + lead for i, d in enumerate(shape) if d == 1 and g.shape[i + lead] != 1)
    if not stretched:
        return g.sum(axis=tuple(range(lead)))
    out = g.sum(axis=tuple(range(lead)) + stretched, keepdims=True)
    return out.reshape(shape) if lead else out


class SumToLike(Op):
    """sum_to_like(g, x): g summed down to x's shape (the inverse of broadcasting)."""
    __slots__ = ()
    view_map = {0: [0]}       # g itself when the shapes already match
    shape_inputs = (1,)

    def infer(self, g, x):
        return x.shape, g.dtype

    def forward(self, g, x):
        return _sum_to_shape(g, np.shape(x))

    def vjp(self, ctx, inputs, output, gg):
        return broadcast_like(gg, inputs[0]), None


class BroadcastLike(Op):
    """broadcast_like(g, x): g broadcast to x's shape (a read-only view)."""
    __slots__ = ()
    view_map = {0: [0]}
    shape_inputs = (1,)

    def infer(self, g, x):
        broadcast_shapes(self.name, g.shape, x.shape)
        return x.shape, g.dtype

    def forward(self, g, x):
        # ndarrays first: this runs in every mean/sum backward
        shape = x.shape if x.__class__ is np.ndarray else np.shape(x)
        if g.__class__ is not np.ndarray:
            g = np.asarray(g)
        if g.shape == shape:
            return g
        if math.prod(shape) <= 4096:
            # filling a small array costs far less than np.broadcast_to's Python wrapper
            out = np.empty(shape, g.dtype)
            out[...] = g
            return out
        return np.broadcast_to(g, shape)

    def vjp(self, ctx, inputs, output, gg):
        return sum_to_like(gg, inputs[0]), None


class ReshapeLike(Op):
    """reshape_like(g, x): g with x's shape."""
    __slots__ = ()
    view_map = {0: [0]}
    shape_inputs = (1,)

    def infer(self, g, x):
        return x.shape, g.dtype

    def forward(self, g, x):
        return np.reshape(g, np.shape(x))

    def vjp(self, ctx, inputs, output, gg):
        return reshape_like(gg, inputs[0]), None


class Reshape(Op):
    __slots__ = ("shape",)
    props = ("shape",)
    view_map = {0: [0]}

    def __init__(self, shape):
        self.shape = shape

    def infer(self, t):
        shape = self.shape
        if shape.count(-1) > 1:
            raise QiflowError(f"reshape: only one -1 allowed in {shape}")
        if -1 in shape:
            if not all(known(d) for d in t.shape):
                shape = tuple(None if d == -1 else d for d in shape)
            else:
                rest = int(np.prod([d for d in shape if d != -1]))
                total = int(np.prod(t.shape))
                if rest == 0 or total % rest:
                    raise QiflowError(f"reshape: cannot reshape array of shape {tuple(t.shape)} into {shape}")
                shape = tuple(total // rest if d == -1 else d for d in shape)
        elif all(known(d) for d in t.shape) and int(np.prod(t.shape)) != int(np.prod(shape)):
            raise QiflowError(f"reshape: cannot reshape array of shape {tuple(t.shape)} into {shape}")
        return shape, t.dtype

    def forward(self, a):
        return a.reshape(self.shape)

    def vjp(self, ctx, inputs, output, g):
        return (reshape_like(g, inputs[0]),)


class FlattenHead(Op):
    """All axes but the last merged into one: (..., K) -> (prod(...), K); sizes may be unknown."""
    __slots__ = ()
    view_map = {0: [0]}

    def infer(self, t):
        head = t.shape[:-1]
        n = None if any(not isinstance(d, int) for d in head) else int(math.prod(head))
        return (n, t.shape[-1]), t.dtype

    def forward(self, a):
        return a.reshape(-1, a.shape[-1])

    def vjp(self, ctx, inputs, output, g):
        return (reshape_like(g, inputs[0]),)


class Transpose(Op):
    __slots__ = ("axes",)
    props = ("axes",)
    view_map = {0: [0]}

    def __init__(self, axes):
        self.axes = axes

    def infer(self, t):
        axes = self.axes
        if sorted(axes) != list(range(len(t.shape))):
            raise QiflowError(f"transpose: axes {axes} do not match an array of shape {tuple(t.shape)}")
        return tuple(t.shape[i] for i in axes), t.dtype

    def forward(self, a):
        return a.transpose(self.axes)

    def vjp(self, ctx, inputs, output, g):
        return (transpose(g, tuple(np.argsort(self.axes).tolist())),)


class ExpandDims(Op):
    __slots__ = ("axes",)
    props = ("axes",)
    view_map = {0: [0]}

    def __init__(self, axes):
        self.axes = axes

    def infer(self, t):
        shape = list(t.shape)
        for a in self.axes:
            shape.insert(a, 1)
        return tuple(shape), t.dtype

    def forward(self, a):
        return np.expand_dims(a, self.axes)

    def vjp(self, ctx, inputs, output, g):
        return (reshape_like(g, inputs[0]),)


class Squeeze(Op):
    __slots__ = ("axes",)
    props = ("axes",)
    view_map = {0: [0]}

    def __init__(self, axes):
        self.axes = axes

    def infer(self, t):
        for a in self.axes:
            if known(t.shape[a]) and t.shape[a] != 1:
                raise QiflowError(f"squeeze: axis {a} of shape {tuple(t.shape)} is not of size 1")
        return tuple(d for i, d in enumerate(t.shape) if i not in self.axes), t.dtype

    def forward(self, a):
        return np.squeeze(a, self.axes)

    def vjp(self, ctx, inputs, output, g):
        return (reshape_like(g, inputs[0]),)


class BroadcastTo(Op):
    __slots__ = ("shape",)
    props = ("shape",)
    view_map = {0: [0]}

    def __init__(self, shape):
        self.shape = shape

    def infer(self, t):
        out = broadcast_shapes("broadcast_to", t.shape, self.shape)
        if len(out) != len(self.shape) or any(a != b for a, b in zip(out, self.shape) if known(a)):
            raise QiflowError(f"broadcast_to: cannot broadcast shape {tuple(t.shape)} to {self.shape}")
        return self.shape, t.dtype

    def forward(self, a):
        return np.broadcast_to(a, self.shape)

    def vjp(self, ctx, inputs, output, g):
        return (sum_to_like(g, inputs[0]),)


_sum_to_like = SumToLike()
_broadcast_like = BroadcastLike()
_reshape_like = ReshapeLike()


def sum_to_like(g, x):
    """g summed over broadcast axes down to the shape of x."""
    return apply(_sum_to_like, g, x)


def broadcast_like(g, x):
    """g broadcast to the shape of x."""
    return apply(_broadcast_like, g, x)


def reshape_like(g, x):
    """g reshaped to the shape of x."""
    return apply(_reshape_like, g, x)


def _ndim(x):
    return x.ndim if hasattr(x, "ndim") else np.ndim(x)


def reshape(x, *shape):
    """x with a new shape (one entry may be -1). ``qf.reshape(x, (2, -1))``"""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    shape = tuple(int(d) for d in shape)
    return apply(Reshape(shape), x)


def transpose(x, axes=None):
    """Permute axes (NumPy semantics: reverse them when ``axes`` is None)."""
    n = _ndim(x)
    if axes is None:
        axes = tuple(range(n - 1, -1, -1))
    else:
        axes = tuple(int(a) % n if n else int(a) for a in axes)
    if axes == tuple(range(n)):
        return x if not isinstance(x, np.ndarray) else x
    return apply(Transpose(axes), x)


def permute(x, *axes):
    """PyTorch's name for transpose with explicit axes: ``x.permute(0, 2, 1)``."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    return transpose(x, axes)


def swapaxes(x, a, b):
    """Exchange two axes."""
    n = _ndim(x)
    axes = list(range(n))
    a, b = a % n, b % n
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, axes)


def expand_dims(x, axis):
    """Insert size-1 axes at ``axis`` (int or tuple), positions in the result."""
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    n = _ndim(x) + len(axes)
    axes = tuple(sorted(int(a) % n for a in axes))
    return apply(ExpandDims(axes), x)


def unsqueeze(x, dim):
    """PyTorch's name for expand_dims with one axis."""
    return expand_dims(x, dim)


def squeeze(x, axis=None):
    """Remove size-1 axes (all of them when ``axis`` is None)."""
    if axis is None:
        shape = static_shape(x)
        if None in shape:
            raise QiflowError(f"squeeze: which axes have size 1 is unknown for shape {shape}; "
                              "pass axis=")
        axes = tuple(i for i, d in enumerate(shape) if d == 1)
    else:
        axes = normalize_axis("squeeze", axis, _ndim(x))
    return apply(Squeeze(axes), x)


def broadcast_to(x, shape):
    """x broadcast to ``shape`` (NumPy rules); the gradient is summed back."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    return apply(BroadcastTo(shape), x)


def expand(x, *shape):
    """PyTorch's expand: like broadcast_to, with -1 keeping a dimension."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    lead = len(shape) - _ndim(x)
    xs = static_shape(x)
    shape = tuple(xs[i - lead] if d == -1 else d for i, d in enumerate(shape))
    if None in shape:
        raise QiflowError(f"expand: the target shape {shape} has unknown sizes (input shape {xs}); "
                          "give every size, or use broadcast_like")
    return broadcast_to(x, shape)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge axes start_dim..end_dim into one (PyTorch semantics)."""
    n = _ndim(x)
    if n == 0:
        return reshape(x, (1,))
    s, e = start_dim % n, end_dim % n
    shape = static_shape(x)
    mid = shape[s:e + 1]
    size = None if None in mid else int(np.prod(mid, dtype=np.int64))
    new = shape[:s] + (size,) + shape[e + 1:]
    if new.count(None) > 1:
        raise QiflowError(f"flatten: shape {shape} has more than one unknown dimension after flattening")
    return reshape(x, tuple(-1 if d is None else d for d in new))


def ravel(x):
    """x flattened to one dimension."""
    return reshape(x, (-1,))


class StopGradient(Op):
    """Identity whose output never carries a gradient."""
    __slots__ = ()
    differentiable = False
    view_map = {0: [0]}

    def infer(self, t): return t.shape, t.dtype
    def forward(self, a): return a


_stop = StopGradient()


def stop_gradient(x):
    """x's value, cut from the graph (like ``detach`` but works symbolically too)."""
    return apply(_stop, x)
