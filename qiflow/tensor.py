"""The eager ``Tensor``: an ndarray plus the op that made it.

A tensor made by an op while a gradient is needed remembers the op and its
inputs (``_op``, ``_inputs``); the tensor *is* the graph node, so there are no
extra node objects and no reference cycles.  Tensors that share memory as
views (``detach()``, basic slices, reshapes) share one version counter, so an
in-place change through any of them is seen by every backward pass that saved
one of them.

>>> a = qf.tensor(2.0, requires_grad=True); b = qf.tensor(3.0, requires_grad=True)
>>> x = a * b; z = x + x; z.backward()
>>> a.grad.item(), b.grad.item()
(6.0, 4.0)
"""
import numpy as np

from .backend import to_array
from .tensor_methods import TorchMethods
from .ops import base as _base
from .ops import inplace as _inplace
from .autodiff import _tensor_backward


class Tensor(TorchMethods):
    __slots__ = ("_data", "requires_grad", "_grad", "_op", "_inputs", "_vsum", "_vc",
                 "_hooks", "_retain", "name", "_saved", "__weakref__")

    def __init__(self, data, dtype=None, requires_grad=False):
        if isinstance(data, Tensor):
            data = data._read()
        self._data = to_array(data, dtype)
        self._grad = None
        self._op = None
        self._inputs = None
        self._vc = [0]
        self._hooks = None
        self._retain = False
        self.name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)
        if _base._top is not None:
            _base._top.new_tensor(self)

    # ------------------------------------------------------------ properties
    @property
    def shape(self): return self._data.shape

    @property
    def ndim(self): return self._data.ndim

    @property
    def dtype(self): return self._data.dtype

    @property
    def is_leaf(self): return self._op is None

    @property
    def grad_fn(self): return self._op

    @property
    def _version(self):
        """How many times this tensor's memory was changed in place (shared by views)."""
        return self._vc[0]

    @_version.setter
    def _version(self, v):
        _base.own_counter(self)[0] = v

    def _bump(self):
        _base.own_counter(self)[0] += 1

    @property
    def data(self):
        """A tensor sharing this one's memory, cut from the graph and not version
        tracked (PyTorch's ``.data``); assigning replaces the values' array."""
        return self._alias(share_version=False)

    @data.setter
    def data(self, value):
        if _base._top is not None and not isinstance(value, np.ndarray):
            _base._top.assign_data(self, value)
            return
        arr = value._data if isinstance(value, Tensor) else to_array(value)
        if _base._top is not None:
            _base._top.assign_data(self, arr)
        else:
            self._data = arr

    def _alias(self, share_version):
        t = Tensor.__new__(Tensor)
        t._data = self._data
        t._grad = None
        t._op = None
        t._inputs = None
        t._vc = _base.own_counter(self) if share_version else _base.FRESH
        t._hooks = None
        t._retain = False
        t.name = None
        t.requires_grad = False
        if _base._top is not None:
            _base._top.new_tensor(t, self)
        return t

    def _read(self):
        """The array, for Python code that reads the values."""
        if _base._top is not None:
            _base._top.read_value(self)
        return self._data

    @property
    def grad(self):
        """The accumulated gradient (a Tensor) or None."""
        if _base._top is not None:
            return _base._top.read_grad(self, self._grad)
        return self._grad

    @grad.setter
    def grad(self, g):
        if g is not None and isinstance(g, Tensor) and g._data.shape != self._data.shape:
            raise RuntimeError(f"assigned grad has shape {g._data.shape}, the tensor {self._data.shape}")
        if _base._top is not None:
            g = _base._top.write_grad(self, g)
        self._grad = g

    def numel(self): return self._data.size

    def dim(self): return self._data.ndim

    # ----------------------------------------------------------- conversions
    def numpy(self, *, force=False):
        """The underlying ndarray (shared, not copied).  As in PyTorch, a tensor that
        requires grad refuses (use ``t.detach().numpy()``); ``force=True`` copies."""
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on a tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._read().copy() if force else self._read()

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted, shape is {self.shape}")
        return self._read().item()

    def tolist(self): return self._read().tolist()

    def __array__(self, dtype=None, copy=None):
        d = self._read()
        return d if dtype is None else d.astype(dtype)

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self):
        if self._data.size != 1:
            raise ValueError(f"the truth value of a tensor with {self._data.size} elements is ambiguous; "
                             "use .any() or .all()")
        return bool(self._read())

    def __float__(self): return float(self.item())
    def __int__(self): return int(self.item())
    def __index__(self): return self._read().__index__()

    def __repr__(self):
        body = np.array2string(self._data, separator=", ", prefix="tensor(", threshold=200)
        extra = f", dtype={self._data.dtype}"
        if self._op is not None:
            extra += f", grad_fn=<{self._op.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ---------------------------------------------------------- autograd API
    def requires_grad_(self, requires_grad=True):
        """Mark (or unmark) a leaf tensor as needing a gradient; returns self."""
        if requires_grad and self._data.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require gradients, this one is {self._data.dtype}")
        if not requires_grad and self._op is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """A new leaf sharing the same data and version counter, cut from the graph."""
        return self._alias(share_version=True)

    def clone(self):
        """A copy of the data that stays in the graph (gradient flows back)."""
        return self * 1

    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``grad`` is required when self is not a single element.  The graph is
        freed afterwards unless ``retain_graph``; ``create_graph`` records the
        backward pass so that gradients can be differentiated again.
        """
        _tensor_backward(self, grad, retain_graph, create_graph)

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
        t._data = array
        t._grad = None
        t._op = None
        t._inputs = None
        t._vc = _base.FRESH
        t._hooks = None
        t._retain = False
        t.name = None
        t.requires_grad = requires_grad
        if _base._top is not None:
            _base._top.new_tensor(t)
        return t

    # -------------------------------------------------------------- in place
    # Each in-place method runs one primitive into this tensor's memory
    # (``ops/inplace.py``): it bumps the version counter shared with views, and
    # where a gradient is recorded it follows PyTorch's rules.
    def add_(self, o, alpha=1):
        return _inplace.add_(self, o, alpha)

    def sub_(self, o, alpha=1):
        return _inplace.add_(self, o, -alpha)

    def mul_(self, o): return _inplace.binary_(self, "multiply", o)
    def div_(self, o): return _inplace.binary_(self, "divide", o)
    def addcmul_(self, t1, t2, value=1): return _inplace.addcmul_(self, t1, t2, value)
    def addcdiv_(self, t1, t2, value=1): return _inplace.addcdiv_(self, t1, t2, value)
    def lerp_(self, end, weight): return _inplace.lerp_(self, end, weight)
    def sqrt_(self): return _inplace.unary_(self, "sqrt")
    def exp_(self): return _inplace.unary_(self, "exp")
    def neg_(self): return _inplace.unary_(self, "negative")
    def zero_(self): return _inplace.fill_(self, 0)
    def fill_(self, value): return _inplace.fill_(self, value)
    def copy_(self, src): return _inplace.copy_(self, src)

    def __setitem__(self, index, value):
        _inplace.setitem_(self, index, value)

    def __iadd__(self, o): return _inplace.iop(self, "add", o)
    def __isub__(self, o): return _inplace.iop(self, "subtract", o)
    def __imul__(self, o): return _inplace.iop(self, "multiply", o)
    def __itruediv__(self, o): return _inplace.iop(self, "divide", o)


class _PostAccumulateHook:
    """A hook that runs after a leaf's gradient is accumulated (kept in ``_hooks``)."""
    __slots__ = ("fn",)
    post_accumulate = True

    def __init__(self, fn):
        self.fn = fn


_base.Tensor = Tensor


def tensor(data, dtype=None, requires_grad=False):
    """Make a tensor from numbers, nested lists, NumPy arrays or a Tensor (copied).

    Python floats get the default float dtype (float32); NumPy arrays keep theirs.

    >>> qf.tensor([1, 2]).dtype, qf.tensor([1.0]).dtype
    (dtype('int64'), dtype('float32'))
    """
    if isinstance(data, Tensor):
        data = data._read()
    arr = to_array(data, dtype)
    if isinstance(data, np.ndarray) and arr is data:
        arr = arr.copy()
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(data, dtype=None):
    """Like ``tensor`` but shares memory with an ndarray when it can."""
    if isinstance(data, Tensor) and dtype is None:
        return data
    return Tensor(data, dtype=dtype)
