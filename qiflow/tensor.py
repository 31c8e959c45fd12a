"""The eager ``Tensor``: an ndarray plus the op that made it.

A tensor made by an op while a gradient is needed remembers the op and its
inputs (``_op``, ``_inputs``); the tensor *is* the graph node, so there are no
extra node objects and no reference cycles.

>>> a = qf.tensor(2.0, requires_grad=True); b = qf.tensor(3.0, requires_grad=True)
>>> x = a * b; z = x + x; z.backward()
>>> a.grad.item(), b.grad.item()
(6.0, 4.0)
"""
import numpy as np

from . import _state
from .backend import to_array
from .methods import TensorMethods
from .ops import base as _base


class Tensor(TensorMethods):
    __slots__ = ("data", "requires_grad", "grad", "_op", "_inputs", "_vsum", "_version",
                 "_hooks", "_retain", "name", "__weakref__")

    def __init__(self, data, dtype=None, requires_grad=False):
        if isinstance(data, Tensor):
            data = data.data
        self.data = to_array(data, dtype)
        self.grad = None
        self._op = None
        self._inputs = None
        self._vsum = 0
        self._version = 0
        self._hooks = None
        self._retain = False
        self.name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------ properties
    @property
    def shape(self): return self.data.shape

    @property
    def ndim(self): return self.data.ndim

    @property
    def size(self): return self.data.size

    @property
    def dtype(self): return self.data.dtype

    @property
    def is_leaf(self): return self._op is None

    @property
    def grad_fn(self): return self._op

    def numel(self): return self.data.size

    def dim(self): return self.data.ndim

    # ----------------------------------------------------------- conversions
    def numpy(self):
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted, shape is {self.shape}")
        return self.data.item()

    def tolist(self): return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self.data.size} elements is ambiguous; "
                             "use .any() or .all()")
        return bool(self.data)

    def __float__(self): return float(self.item())
    def __int__(self): return int(self.item())
    def __index__(self): return self.data.__index__()

    def any(self): return bool(self.data.any())
    def all(self): return bool(self.data.all())

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", prefix="tensor(", threshold=200)
        extra = f", dtype={self.data.dtype}"
        if self._op is not None:
            extra += f", grad_fn=<{self._op.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---------------------------------------------------------- autograd API
    def requires_grad_(self, requires_grad=True):
        """Mark (or unmark) a leaf tensor as needing a gradient; returns self."""
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require gradients, this one is {self.data.dtype}")
        if not requires_grad and self._op is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """A new leaf sharing the same data, cut from the graph."""
        return Tensor._wrap(self.data)

    def clone(self):
        """A copy of the data that stays in the graph (gradient flows back)."""
        return self * 1

    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` is required when self is not a single element.  The graph is
        freed afterwards unless ``retain_graph``; ``create_graph`` records the
        backward pass so that gradients can be differentiated again.
        """
        (_engine or _load_engine())(self, grad, retain_graph, create_graph)

    def register_hook(self, fn):
        """Call ``fn(grad)`` when this tensor's gradient is computed; a non-None
        return value replaces the gradient.  Returns a handle with ``remove()``."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: this tensor does not require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        hooks = self._hooks

        class Handle:
            def remove(self_inner):
                if fn in hooks:
                    hooks.remove(fn)
        return Handle()

    def register_post_accumulate_grad_hook(self, fn):
        """Call ``fn(self)`` after this leaf's ``.grad`` has been accumulated by a
        backward pass (PyTorch's hook of the same name: DistributedDataParallel
        starts its all-reduce from it).  Returns a handle with ``remove()``."""
        if not self.requires_grad or self._op is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors that require "
                               "grad accumulate a .grad")
        if self._hooks is None:
            self._hooks = []
        entry = _PostAccumulateHook(fn)
        self._hooks.append(entry)
        hooks = self._hooks

        class Handle:
            def remove(self_inner):
                if entry in hooks:
                    hooks.remove(entry)
        return Handle()

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        self._retain = True

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        t = cls.__new__(cls)
        t.data = array
        t.grad = None
        t._op = None
        t._inputs = None
        t._vsum = 0
        t._version = 0
        t._hooks = None
        t._retain = False
        t.name = None
        t.requires_grad = requires_grad
        return t

    # -------------------------------------------------------------- in place
    # In-place ops are allowed only where no gradient is recorded (inside
    # no_grad, or on tensors outside any graph). Each bumps a version counter,
    # so a backward through a tensor modified after it was saved raises.
    def _check_inplace(self, what, other=None):
        if _state.grad_enabled and (self.requires_grad or getattr(other, "requires_grad", False)):
            raise RuntimeError(
                f"{what}: in-place operations are only allowed where no gradient is recorded; "
                f"wrap them in qf.no_grad() or use the out-of-place form")
        self._version += 1

    def _inplace(self, what, fn, other=None):
        self._check_inplace(what, other)
        o = other.data if isinstance(other, Tensor) else other
        fn(self.data, o)
        return self

    def add_(self, o, alpha=1):
        return self._inplace("add_", lambda d, v: np.add(d, v if alpha == 1 else v * alpha, out=d, casting="unsafe"), o)

    def sub_(self, o, alpha=1):
        return self._inplace("sub_", lambda d, v: np.subtract(d, v if alpha == 1 else v * alpha, out=d, casting="unsafe"), o)

    def mul_(self, o): return self._inplace("mul_", lambda d, v: np.multiply(d, v, out=d, casting="unsafe"), o)
    def div_(self, o): return self._inplace("div_", lambda d, v: np.divide(d, v, out=d, casting="unsafe"), o)
    def zero_(self): return self._inplace("zero_", lambda d, v: d.fill(0))
    def fill_(self, value): return self._inplace("fill_", lambda d, v: d.fill(v), value)
    def copy_(self, src): return self._inplace("copy_", lambda d, v: np.copyto(d, v, casting="unsafe"), src)

    def clamp_(self, lo=None, hi=None):
        return self._inplace("clamp_", lambda d, v: np.clip(d, lo, hi, out=d))

    def __setitem__(self, index, value):
        self._check_inplace("__setitem__", value)
        from .ops.indexing import _array_index
        self.data[_array_index(index)] = value.data if isinstance(value, Tensor) else value

    def _iop(self, other, inplace, outplace):
        if _state.grad_enabled and (self.requires_grad or getattr(other, "requires_grad", False)):
            if self.requires_grad and self._op is None:
                raise RuntimeError("a leaf tensor that requires grad cannot be modified in place; "
                                   "use qf.no_grad() (as optimizers do) or an out-of-place op")
            return outplace(self, other)
        return getattr(self, inplace)(other)

    def __iadd__(self, o): return self._iop(o, "add_", TensorMethods.__add__)
    def __isub__(self, o): return self._iop(o, "sub_", TensorMethods.__sub__)
    def __imul__(self, o): return self._iop(o, "mul_", TensorMethods.__mul__)
    def __itruediv__(self, o): return self._iop(o, "div_", TensorMethods.__truediv__)


class _PostAccumulateHook:
    """A hook that runs after a leaf's gradient is accumulated (kept in ``_hooks``)."""
    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn


def run_hooks(t, g, wrap):
    """Run t's gradient hooks on g (``wrap`` makes the value a user sees); returns g."""
    for h in list(t._hooks):
        if h.__class__ is _PostAccumulateHook:
            continue
        r = h(wrap(g))
        if r is not None:
            g = r
    return g


def run_post_hooks(t):
    for h in list(t._hooks or ()):
        if h.__class__ is _PostAccumulateHook:
            h.fn(t)


_base.Tensor = Tensor
_engine = None      # autodiff._tensor_backward, bound on first use (autodiff imports this module)


def _load_engine():
    global _engine
    from .autodiff import _tensor_backward
    _engine = _tensor_backward
    return _tensor_backward


def tensor(data, dtype=None, requires_grad=False):
    """Make a tensor from numbers, nested lists, NumPy arrays or a Tensor (copied).

    Python floats get the default float dtype (float32); NumPy arrays keep theirs.

    >>> qf.tensor([1, 2]).dtype, qf.tensor([1.0]).dtype
    (dtype('int64'), dtype('float32'))
    """
    if isinstance(data, Tensor):
        data = data.data
    arr = to_array(data, dtype)
    if isinstance(data, np.ndarray) and arr is data:
        arr = arr.copy()
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(data, dtype=None):
    """Like ``tensor`` but shares memory with an ndarray when it can."""
    if isinstance(data, Tensor) and dtype is None:
        return data
    return Tensor(data, dtype=dtype)
