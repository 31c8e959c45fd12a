"""The in-place methods of tensors (``add_``, ``mul_``, ``fill_``, ``copy_``, ``t += o``,
``t[i] = v`` ...), each one primitive written into the tensor's memory with
``ops.base.apply_into`` (which bumps the version counter and follows PyTorch's
autograd rules), so tracing records them as updates like any other op.

>>> x = qf.tensor([1.0, 2.0]); _ = x.mul_(3); x.tolist()
[3.0, 6.0]
"""
import numpy as np

from . import base as _base
from .base import Op, apply_into
from .elementwise import Elementwise
from .reduce import sum as _sum
from .. import _state


# --------------------------------------------------------------- the methods
class Axpy(Elementwise):
    """x + a * y with a scalar a given as an input (a learning rate read per call)."""
    __slots__ = ()

    def forward(self, x, y, a):
        return x + y * a

    def forward_into(self, out, x, y, a):
        if out.size > CHUNK and chunkable(out, x, y, a):
            return axpy_chunks(out, x, y, a, CHUNK)
        t = y * a
        if out is x and t.dtype is out.dtype:
            out += t
        else:
            np.add(x, t, out=out, casting="same_kind")

    def vjp(self, ctx, inputs, output, g):
        from .elementwise import multiply
        x, y, a = inputs
        ga = _sum(g * y) if ctx.needs_input_grad[2] else None
        return g, multiply(g, a), ga


#: elements per chunk of a large x + a * y: the product of one chunk at a time needs a
#: 512 KB scratch (float32) instead of a temporary as big as the parameter (an SGD
#: step's peak memory no longer grows with the weight), at the speed of two whole-array
#: passes (500 x 784 float32: 81 against 85 us; chunks of 16K elements: 131 us)
CHUNK = 1 << 17


def chunkable(out, x, y, a):
    """Whether ``axpy_chunks`` applies: contiguous arrays of one shape, a scalar a."""
    return (x.shape == y.shape == out.shape and np.ndim(a) == 0 and out.flags.c_contiguous
            and x.flags.c_contiguous and y.flags.c_contiguous)


def axpy_chunks(out, x, y, a, chunk):
    """out = x + y * a chunk by chunk (contiguous arrays of one shape): the same
    operations, in the same dtypes, as the whole-array ``x + y * a``.  Each chunk of y
    is read before the same chunk of out is written, so out may be x or y."""
    o, xf, yf = out.reshape(-1), x.reshape(-1), y.reshape(-1)
    n = o.size
    scratch = None
    for i in range(0, n, chunk):
        j = min(i + chunk, n)
        if scratch is None:
            scratch = t = np.multiply(yf[i:j], a)      # (the dtype of y * a)
        else:
            t = np.multiply(yf[i:j], a, out=scratch[:j - i])
        np.add(xf[i:j], t, out=o[i:j], casting="same_kind")


class AddCMul(Elementwise):
    """x + v * a * b (PyTorch's addcmul)."""
    __slots__ = ()

    def forward(self, x, a, b, v):
        return x + v * a * b

    def vjp(self, ctx, inputs, output, g):
        x, a, b, v = inputs
        need = ctx.needs_input_grad
        return (g, g * v * b if need[1] else None, g * v * a if need[2] else None,
                _sum(g * a * b) if need[3] else None)


class AddCDiv(Elementwise):
    """x + v * a / b (PyTorch's addcdiv)."""
    __slots__ = ()

    def forward(self, x, a, b, v):
        return x + v * a / b

    def vjp(self, ctx, inputs, output, g):
        x, a, b, v = inputs
        need = ctx.needs_input_grad
        q = g * v / b
        return (g, q if need[1] else None, -q * a / b if need[2] else None,
                _sum(g * a / b) if need[3] else None)


class Lerp(Elementwise):
    """x + w * (e - x) (PyTorch's lerp)."""
    __slots__ = ()

    def forward(self, x, e, w):
        return x + w * (e - x)

    def vjp(self, ctx, inputs, output, g):
        x, e, w = inputs
        need = ctx.needs_input_grad
        return (g * (1 - w), g * w if need[1] else None, _sum(g * (e - x)) if need[2] else None)


class Fill(Elementwise):
    """An array like x filled with v (no gradient to x; v's gradient is the sum)."""
    __slots__ = ()

    def forward(self, x, v):
        out = np.empty(np.shape(x), np.result_type(x, v) if not isinstance(v, (int, float)) else x.dtype)
        out[...] = v
        return out

    def vjp(self, ctx, inputs, output, g):
        from .movement import sum_to_like
        return None, sum_to_like(g, inputs[1])


class Copy(Op):
    """src broadcast to dst's shape (``dst.copy_(src)``); dst's former value gets zero gradient."""
    __slots__ = ()
    view_map = {}

    def infer(self, dst, src):
        from .shapes import broadcast_shapes
        broadcast_shapes("copy_", dst.shape, src.shape)
        return dst.shape, dst.dtype

    def forward(self, dst, src):
        out = np.empty(np.shape(dst), dst.dtype)
        np.copyto(out, src, casting="unsafe")
        return out

    def vjp(self, ctx, inputs, output, g):
        from .movement import sum_to_like
        from .elementwise import cast, zeros_like
        src = inputs[1]
        # the overwritten value gets a zero gradient (PyTorch's), the source g summed to its shape
        return zeros_like(g), cast(sum_to_like(g, src), src.dtype)


_axpy, _fill, _copy = Axpy(), Fill(), Copy()
_addcmul, _addcdiv, _lerp = AddCMul(), AddCDiv(), Lerp()


def _elementwise(name):
    from . import elementwise as E
    return E.SINGLETONS[name]


def add_(t, o, alpha=1):
    if isinstance(alpha, (int, float)) and alpha == 1:
        return apply_into(_elementwise("add"), t, t, o)
    if isinstance(o, (int, float)) and isinstance(alpha, (int, float)):
        return apply_into(_elementwise("add"), t, t, o * alpha)     # a number: fold alpha in
    return apply_into(_axpy, t, t, o, alpha)


def binary_(t, name, o):
    return apply_into(_elementwise(name), t, t, o)


def addcmul_(t, a, b, value=1):
    return apply_into(_addcmul, t, t, a, b, value)


def addcdiv_(t, a, b, value=1):
    return apply_into(_addcdiv, t, t, a, b, value)


def lerp_(t, end, weight):
    return apply_into(_lerp, t, t, end, weight)


def unary_(t, name):
    from . import elementwise as E
    return apply_into(E.SINGLETONS[name], t, t)


def pow_(t, p):
    from .elementwise import Power, PowerScalar
    if isinstance(p, (int, float)):
        return apply_into(PowerScalar(p), t, t)
    return apply_into(Power(), t, t, p)


def fill_(t, value):
    return apply_into(_fill, t, t, value)


def copy_(t, src):
    return apply_into(_copy, t, t, src)


def clamp_(t, lo=None, hi=None):
    from .elementwise import Clip
    return apply_into(Clip(lo, hi), t, t)


def iop(t, name, o):
    """``t += o`` and friends: in place, as in PyTorch."""
    return apply_into(_elementwise(name), t, t, o)


def setitem_(t, index, value):
    """``t[index] = value`` (only where no gradient is recorded)."""
    if _state.grad_enabled and (t.requires_grad or getattr(value, "requires_grad", False)):
        raise RuntimeError("__setitem__: in-place item assignment is only allowed where no gradient "
                           "is recorded; wrap it in qf.no_grad() or build the result with qf.where")
    from .indexing import _array_index
    return _base.current().setitem(t, index, value, _array_index(index))
