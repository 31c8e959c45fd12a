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

from .backend import to_array, as_dtype, is_floating, check_device, device as _device, CPU as _CPU
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

    @property
    def device(self):
        """Where the tensor lives: always ``device(type='cpu')`` (qiflow computes with NumPy)."""
        return _CPU

    @property
    def is_cuda(self): return False

    def is_floating_point(self):
        """True for float16/32/64 and bfloat16 tensors."""
        return is_floating(self._data.dtype)

    def to(self, *args, **kwargs):
        """PyTorch's ``to``: ``to(dtype)``, ``to(device, dtype=None)``, ``to(other)``, each with
        ``non_blocking=`` (ignored: copies are synchronous) and ``copy=``.  Returns self
        when nothing changes and ``copy`` is False; a dtype change is a differentiable cast.

        >>> x = qf.ones(2); x.to('cpu') is x, x.to(qf.float64).dtype
        (True, dtype('float64'))
        """
        dev, dtype, _non_blocking, copy = parse_to(args, kwargs, "Tensor.to")
        check_device(dev, "Tensor.to")
        if dtype is None or dtype == self._data.dtype:
            return self.clone() if copy else self
        from .ops.elementwise import cast
        return cast(self, dtype)

    def cpu(self, memory_format=None):
        """This tensor (it already lives on the CPU)."""
        _no_memory_format(memory_format, "Tensor.cpu")
        return self

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        """Always an error: qiflow has no CUDA backend."""
        check_device("cuda" if device is None else _cuda_device(device), "Tensor.cuda")

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
        if requires_grad and self._data.dtype.name == "bfloat16":
            raise TypeError("requires_grad: qiflow cannot differentiate bfloat16 tensors yet; "
                            "keep trainable tensors in float16/32/64 (bfloat16 is for storage and casts)")
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
        """A copy of the data that stays in the graph (gradient flows back), of the same dtype."""
        if self._data.dtype.kind == "b":
            return self | False          # (bool * 1 would be int64)
        return self * 1

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None, grad=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (PyTorch's signature;
        ``grad=`` is accepted as another name for ``gradient``).

        ``gradient`` is required when self is not a single element.  The graph is
        freed afterwards unless ``retain_graph`` (default: ``create_graph``);
        ``create_graph`` records the backward pass so that gradients can be
        differentiated again; ``inputs`` limits accumulation to those tensors.
        """
        if grad is not None:
            if gradient is not None:
                raise TypeError("backward: pass the gradient once (gradient= or grad=), not both")
            gradient = grad
        if retain_graph is None:
            retain_graph = create_graph
        if inputs is not None:
            from .autodiff import backward
            backward([self], None if gradient is None else [gradient], retain_graph, create_graph,
                     inputs=inputs)
            return
        _tensor_backward(self, gradient, retain_graph, create_graph)

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


def _no_memory_format(memory_format, what):
    if memory_format is not None:
        raise TypeError(f"{what}: memory_format={memory_format!r}: qiflow has no memory formats "
                        "(its arrays are NumPy's); leave it out")


def _cuda_device(d):
    return _device("cuda", d) if isinstance(d, int) and not isinstance(d, bool) else d


def _dtype_like(a):
    """The dtype ``a`` names, or None: a dtype, a NumPy/Python type, or the exact name of a dtype
    ('float32', not NumPy's 'float', which would mean float64 where PyTorch's float is float32)."""
    if isinstance(a, np.dtype):
        return a
    if isinstance(a, type) and (issubclass(a, np.generic) or a in (float, int, bool, complex)):
        return np.dtype(a)
    if isinstance(a, str):
        try:
            d = as_dtype(a)
        except TypeError:
            return None
        return d if d.name == a else None
    return None


def _device_like(a):
    if isinstance(a, _device):
        return a
    if isinstance(a, str) or (isinstance(a, int) and not isinstance(a, bool)):
        try:
            return _device(a)
        except RuntimeError:
            return None
    return None


def parse_to(args, kwargs, what):
    """PyTorch's overloads of ``to`` (Tensor's and Module's): returns
    ``(device or None, dtype or None, non_blocking, copy)``.

    ``to(dtype, non_blocking, copy)``, ``to(device, dtype, non_blocking, copy)``,
    ``to(tensor, non_blocking, copy)``; every argument may be a keyword.
    """
    kwargs = dict(kwargs)
    dev = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    non_blocking = kwargs.pop("non_blocking", False)
    copy = kwargs.pop("copy", False)
    _no_memory_format(kwargs.pop("memory_format", None), what)
    if kwargs:
        raise TypeError(f"{what}: unexpected keyword argument(s) {', '.join(sorted(kwargs))}")
    args = list(args)
    if args:
        a = args.pop(0)
        if isinstance(a, Tensor):
            if dev is not None or dtype is not None:
                raise TypeError(f"{what}: given a tensor, device= and dtype= come from it")
            dev, dtype = a.device, a.dtype
        elif _dtype_like(a) is not None and not (isinstance(a, str) and _device_like(a) is not None):
            if dtype is not None:
                raise TypeError(f"{what}: dtype given twice")
            dtype = a
        elif _device_like(a) is not None:
            if dev is not None:
                raise TypeError(f"{what}: device given twice")
            dev = a
            if args and _dtype_like(args[0]) is not None:
                if dtype is not None:
                    raise TypeError(f"{what}: dtype given twice")
                dtype = args.pop(0)
        else:
            raise TypeError(f"{what}: {a!r} is neither a device (e.g. 'cpu', qf.device('cpu')), a dtype "
                            "(e.g. qf.float64, 'float64') nor a tensor")
    if len(args) > 2:
        raise TypeError(f"{what}: too many positional arguments")
    if args:
        non_blocking = args.pop(0)
    if args:
        copy = args.pop(0)
    for name, v in (("non_blocking", non_blocking), ("copy", copy)):
        if not isinstance(v, (bool, np.bool_)):
            raise TypeError(f"{what}: {name} must be a bool, got {v!r}")
    if dev is not None and _device_like(dev) is None:
        raise TypeError(f"{what}: device={dev!r} is not a device (e.g. 'cpu', qf.device('cpu'))")
    if dtype is not None:
        d = _dtype_like(dtype)
        if d is None:
            raise TypeError(f"{what}: dtype={dtype!r} is not a dtype (e.g. qf.float64, 'float64')")
        dtype = d
    return (None if dev is None else _device_like(dev)), dtype, bool(non_blocking), bool(copy)


def tensor(data, dtype=None, requires_grad=False, *, device=None):
    """Make a tensor from numbers, nested lists, NumPy arrays or a Tensor (copied).

    Python floats get the default float dtype (float32); NumPy arrays keep theirs.

    >>> qf.tensor([1, 2]).dtype, qf.tensor([1.0]).dtype
    (dtype('int64'), dtype('float32'))
    """
    check_device(device, "qf.tensor")
    if isinstance(data, Tensor):
        data = data._read()
    arr = to_array(data, dtype)
    if isinstance(data, np.ndarray) and arr is data:
        arr = arr.copy()
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with an ndarray when it can."""
    check_device(device, "qf.as_tensor")
    if isinstance(data, Tensor) and dtype is None:
        return data
    return Tensor(data, dtype=dtype)
