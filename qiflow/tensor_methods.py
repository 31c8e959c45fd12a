"""The eager ``Tensor``'s methods whose meaning is the dialect's (PyTorch's):
arithmetic with PyTorch's type promotion, reductions (``dim``/``keepdim``,
``max(dim) -> (values, indices)``, unbiased ``std``), shape methods
(``transpose(0, 1)``, ``size(0)``, ``repeat``, ``split`` by sizes), indexing
(``gather``, ``scatter``, ``masked_fill`` ...), casts, the ``new_*``/``*_as``
helpers and the in-place methods beyond ``tensor.py``'s.  Each method calls
the function of ``qiflow/torchfn`` with the same name. (The operators both
dialects share are in ``methods.py``.)

>>> x = qf.tensor([[1.0, 5.0], [4.0, 2.0]])
>>> x.max(1)[1].tolist(), x.transpose(0, 1).tolist(), x.size(0)
([1, 0], [[1.0, 4.0], [5.0, 2.0]], 2)
"""
import numpy as np

from .methods import TensorMethods
from .ops import elementwise as E, movement as M, linalg as L
from .ops import inplace as _inplace
from .ops.base import apply, apply_into
from .ops import reduce as R
from .ops.scatter import Scatter, ScatterAdd
from . import torchfn as F
from .torchfn.args import one_dim


class Size(tuple):
    """A tensor's shape (PyTorch's ``torch.Size``): a tuple with ``numel()``."""
    __slots__ = ()

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self):
        return f"qiflow.Size({list(self)})"


_ADD, _SUB, _MUL = E.SINGLETONS["add"], E.SINGLETONS["subtract"], E.SINGLETONS["multiply"]
_MATMUL = L._matmul
_MEAN_ALL = R.Mean(None, False)


def _unpromoted(t, o):
    """Whether PyTorch's promotion leaves tensor ``t`` and operand ``o`` as they are
    (``F.promote`` returns them unchanged): the common cases, tested first."""
    c = o.__class__
    if c is int:
        return True
    if c is float:
        return t._data.dtype.kind in "fc"
    return isinstance(o, TorchMethods) and o._data.dtype is t._data.dtype


def _arithmetic(op, fn):
    """The operator and its reflected form for primitive ``op`` (function ``fn``)."""
    def forward(self, o):
        if _unpromoted(self, o):
            return apply(op, self, o)
        return fn(*F.promote(self, o))

    def reflected(self, o):
        if _unpromoted(self, o):
            return apply(op, o, self)
        return fn(*F.promote(o, self))
    return forward, reflected


class TorchMethods(TensorMethods):
    __slots__ = ()

    # arithmetic with PyTorch's type promotion (torchfn/arith.py). The first line of each
    # operator is the case where promotion changes nothing (a tensor of the same dtype, an
    # int, a float with a floating tensor): the primitive is applied at once, a step's
    # worth of small-network overhead saved (promote gives the same operands back there).
    __add__, __radd__ = _arithmetic(_ADD, E.add)
    __sub__, __rsub__ = _arithmetic(_SUB, E.subtract)
    __mul__, __rmul__ = _arithmetic(_MUL, E.multiply)

    def __truediv__(self, o): return F.div(self, o)
    def __rtruediv__(self, o): return F.div(o, self)
    def __floordiv__(self, o): return E.floor_divide(*F.promote(self, o))
    def __rfloordiv__(self, o): return E.floor_divide(*F.promote(o, self))
    def __mod__(self, o): return E.mod(*F.promote(self, o))
    def __rmod__(self, o): return E.mod(*F.promote(o, self))
    def __pow__(self, o):
        if _unpromoted(self, o):
            return E.power(self, o)
        return E.power(*F.promote(self, o))

    def __rpow__(self, o): return E.power(*F.promote(o, self))
    def __matmul__(self, o):
        if isinstance(o, TorchMethods):
            a, b = self._data, o._data
            if a.dtype is b.dtype and a.ndim >= 2 and b.ndim >= 2:   # two matrices (or stacks)
                return apply(_MATMUL, self, o)
        return F.matmul(self, o)

    def __rmatmul__(self, o): return F.matmul(o, self)
    __hash__ = TensorMethods.__hash__

    # & | ^ ~ are logical on bool tensors; on integers PyTorch's are bitwise (not yet here)
    def __and__(self, o): return E.logical_and(*_bools("&", self, o))
    def __rand__(self, o): return E.logical_and(*_bools("&", o, self))
    def __or__(self, o): return E.logical_or(*_bools("|", self, o))
    def __ror__(self, o): return E.logical_or(*_bools("|", o, self))
    def __xor__(self, o): return E.logical_xor(*_bools("^", self, o))
    def __rxor__(self, o): return E.logical_xor(*_bools("^", o, self))
    def __invert__(self): return E.logical_not(*_bools("~", self))

    def add(self, o, *, alpha=1): return F.add(self, o, alpha=alpha)
    def sub(self, o, *, alpha=1): return F.sub(self, o, alpha=alpha)
    def mul(self, o): return F.mul(self, o)
    def div(self, o, *, rounding_mode=None): return F.div(self, o, rounding_mode=rounding_mode)
    multiply, divide, subtract, true_divide = mul, div, sub, div
    def pow(self, p): return F.pow(self, p)
    def remainder(self, o): return F.remainder(self, o)
    def fmod(self, o): return F.fmod(self, o)
    def neg(self): return E.negative(self)
    negative = neg
    def reciprocal(self): return F.div(1.0, self)
    def rsqrt(self): return F.div(1.0, E.sqrt(self))
    def round(self, decimals=0): return E.round(self, decimals)
    def clamp(self, min=None, max=None): return F.clamp(self, min, max)
    clip = clamp
    def maximum(self, o): return E.maximum(*F.promote(self, o))
    def minimum(self, o): return E.minimum(*F.promote(self, o))
    def where(self, condition, other): return F.where(condition, self, other)
    def lerp(self, end, weight): return self + weight * (end - self)

    # comparisons (methods; the operators are in methods.py)
    def eq(self, o): return F.eq(self, o)
    def ne(self, o): return F.ne(self, o)
    def lt(self, o): return F.lt(self, o)
    def le(self, o): return F.le(self, o)
    def gt(self, o): return F.gt(self, o)
    def ge(self, o): return F.ge(self, o)
    def equal(self, o): return F.equal(self, o)
    def allclose(self, o, rtol=1e-05, atol=1e-08, equal_nan=False):
        return F.allclose(self, o, rtol, atol, equal_nan)
    def isclose(self, o, rtol=1e-05, atol=1e-08, equal_nan=False):
        return F.isclose(self, o, rtol, atol, equal_nan)
    def isnan(self): return E.isnan(self)
    def isinf(self): return E.isinf(self)
    def isfinite(self): return E.isfinite(self)
    def logical_not(self): return E.logical_not(self)
    def logical_and(self, o): return E.logical_and(self, o)
    def logical_or(self, o): return E.logical_or(self, o)

    # casts
    def astype(self, dtype): return E.cast(self, dtype)

    def type(self, dtype=None):
        """The dtype's name without an argument, else a cast (``x.type(qf.float64)``)."""
        if dtype is None:
            return f"qiflow.{self.dtype}"
        return E.cast(self, dtype)

    def type_as(self, other): return E.cast(self, other.dtype)

    # as in PyTorch: a fixed width whatever the default dtype, and self when it already has it
    def float(self, memory_format=None): return self.to(np.float32, memory_format=memory_format)
    def double(self, memory_format=None): return self.to(np.float64, memory_format=memory_format)
    def half(self, memory_format=None): return self.to(np.float16, memory_format=memory_format)
    def long(self): return E.cast(self, "int64")
    def int(self): return E.cast(self, "int32")
    def short(self): return E.cast(self, "int16")
    def byte(self): return E.cast(self, "uint8")
    def bool(self): return E.cast(self, "bool")
    def is_floating_point(self): return self.dtype.kind == "f"
    def element_size(self): return self.dtype.itemsize
    def contiguous(self): return self
    def nelement(self): return self.numel()
    def ndimension(self): return self.ndim
    def is_contiguous(self): return True

    # shape queries
    def size(self, dim=None):
        """The shape (a ``qiflow.Size``), or the size of ``dim`` (``x.size(0)``)."""
        if dim is None:
            return Size(self.shape)
        return self.shape[one_dim("size", dim, self.ndim)]

    # reductions (torchfn/reduce.py)
    def sum(self, *a, **k): return F.sum(self, *a, **k)
    def nansum(self, *a, **k): return F.nansum(self, *a, **k)
    def mean(self, *a, **k):
        if not a and not k and self._data.dtype.kind in "fc":     # x.mean(): all of it
            return apply(_MEAN_ALL, self)
        return F.mean(self, *a, **k)

    def prod(self, *a, **k): return F.prod(self, *a, **k)
    def max(self, *a, **k): return F.max(self, *a, **k)
    def min(self, *a, **k): return F.min(self, *a, **k)
    def amax(self, *a, **k): return F.amax(self, *a, **k)
    def amin(self, *a, **k): return F.amin(self, *a, **k)
    def argmax(self, *a, **k): return F.argmax(self, *a, **k)
    def argmin(self, *a, **k): return F.argmin(self, *a, **k)
    def var(self, *a, **k): return F.var(self, *a, **k)
    def std(self, *a, **k): return F.std(self, *a, **k)
    def any(self, *a, **k): return F.any(self, *a, **k)
    def all(self, *a, **k): return F.all(self, *a, **k)
    def count_nonzero(self, dim=None): return F.count_nonzero(self, dim)
    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return F.norm(self, p, dim, keepdim, dtype)
    def cumsum(self, *a, **k): return F.cumsum(self, *a, **k)
    def logsumexp(self, *a, **k): return F.logsumexp(self, *a, **k)
    def softmax(self, *a, **k): return F.softmax(self, *a, **k)
    def log_softmax(self, *a, **k): return F.log_softmax(self, *a, **k)

    # shape (torchfn/shape.py)
    def reshape(self, *shape): return M.reshape(self, *shape)
    view = reshape
    def reshape_as(self, other): return M.reshape(self, other.shape)
    view_as = reshape_as
    def expand_as(self, other): return M.expand(self, other.shape)
    def transpose(self, dim0, dim1): return F.transpose(self, dim0, dim1)
    swapaxes = swapdims = transpose
    def t(self): return F.t(self)
    def permute(self, *dims): return F.permute(self, *dims)
    def movedim(self, source, destination): return F.movedim(self, source, destination)

    @property
    def T(self): return M.transpose(self)

    @property
    def mT(self): return M.swapaxes(self, -2, -1)

    def unsqueeze(self, dim): return F.unsqueeze(self, dim)
    def squeeze(self, dim=None): return F.squeeze(self, dim)
    def expand(self, *shape): return M.expand(self, *shape)
    def flatten(self, start_dim=0, end_dim=-1): return M.flatten(self, start_dim, end_dim)
    def ravel(self): return M.ravel(self)
    def flip(self, *dims): return F.flip(self, dims[0] if len(dims) == 1 else dims)
    def repeat(self, *sizes): return F.repeat(self, *sizes)
    def repeat_interleave(self, repeats, dim=None): return F.repeat_interleave(self, repeats, dim)
    def split(self, split_size, dim=0): return F.split(self, split_size, dim)
    def tensor_split(self, indices_or_sections, dim=0): return F.tensor_split(self, indices_or_sections, dim)
    def chunk(self, chunks, dim=0): return F.chunk(self, chunks, dim)
    def unbind(self, dim=0): return F.unbind(self, dim)
    def narrow(self, dim, start, length): return F.narrow(self, dim, start, length)
    def tril(self, diagonal=0): return F.tril(self, diagonal)
    def roll(self, shifts, dims=None): return F.roll(self, shifts, dims)
    def diag(self, diagonal=0): return F.diag(self, diagonal)
    def diagonal(self, offset=0, dim1=0, dim2=1): return F.diagonal(self, offset, dim1, dim2)
    def trace(self): return F.trace(self)
    def triu(self, diagonal=0): return F.triu(self, diagonal)

    # indexing (torchfn/index.py)
    def gather(self, dim, index): return F.gather(self, dim, index)
    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return F.scatter(self, dim, index, src, value=value, reduce=reduce)
    def scatter_add(self, dim, index, src): return F.scatter_add(self, dim, index, src)
    def index_select(self, dim, index): return F.index_select(self, dim, index)
    def index_add(self, dim, index, source, *, alpha=1): return F.index_add(self, dim, index, source, alpha=alpha)
    def masked_fill(self, mask, value): return F.masked_fill(self, mask, value)
    def masked_select(self, mask): return F.masked_select(self, mask)
    def nonzero(self, *, as_tuple=False): return F.nonzero(self, as_tuple=as_tuple)
    def argwhere(self): return F.argwhere(self)
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return F.unique(self, sorted, return_inverse, return_counts, dim)
    def sort(self, dim=-1, descending=False, *, stable=False): return F.sort(self, dim, descending)
    def argsort(self, dim=-1, descending=False, *, stable=False): return F.argsort(self, dim, descending)
    def topk(self, k, dim=-1, largest=True, sorted=True): return F.topk(self, k, dim, largest, sorted)
    def kthvalue(self, k, dim=-1, keepdim=False): return F.kthvalue(self, k, dim, keepdim)
    def median(self, dim=None, keepdim=False): return F.median(self, dim, keepdim)

    # products
    def dot(self, o): return F.dot(self, o)
    def mm(self, o): return F.mm(self, o)
    def bmm(self, o): return F.bmm(self, o)
    def mv(self, o): return F.mv(self, o)
    def matmul(self, o): return F.matmul(self, o)

    # sampling
    def multinomial(self, num_samples, replacement=False, *, generator=None):
        return F.multinomial(self, num_samples, replacement, generator=generator)
    def bernoulli(self, *, generator=None): return F.bernoulli(self, generator=generator)

    # new tensors like this one (dtype kept unless given)
    def _new(self, array, dtype, requires_grad):
        t = type(self)(np.asarray(array, dtype=self.dtype if dtype is None else np.dtype(dtype)))
        return t.requires_grad_(True) if requires_grad else t

    def new_zeros(self, *size, dtype=None, requires_grad=False):
        return self._new(np.zeros(_size(size)), dtype, requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False):
        return self._new(np.ones(_size(size)), dtype, requires_grad)

    def new_empty(self, *size, dtype=None, requires_grad=False):
        return self._new(np.empty(_size(size)), dtype, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, requires_grad=False):
        return self._new(np.full(_size((size,)), fill_value), dtype, requires_grad)

    def new_tensor(self, data, *, dtype=None, requires_grad=False):
        if hasattr(data, "_read"):
            data = data._read()
        return self._new(np.array(data), dtype, requires_grad)

    # in place, beyond tensor.py's: PyTorch's autograd rules through ops.base.apply_into
    def relu_(self): return _inplace.unary_(self, "relu")
    def sigmoid_(self): return _inplace.unary_(self, "sigmoid")
    def tanh_(self): return _inplace.unary_(self, "tanh")
    def abs_(self): return _inplace.unary_(self, "abs")
    def log_(self): return _inplace.unary_(self, "log")
    def floor_(self): return _inplace.unary_(self, "floor")
    def pow_(self, p): return _inplace.pow_(self, p)
    def clamp_(self, min=None, max=None):
        if min is None and max is None:
            raise RuntimeError("clamp_: at least one of min and max must be given")
        return _inplace.clamp_(self, min, max)
    clip_ = clamp_

    def masked_fill_(self, mask, value):
        value = F.index.masked_fill_value(self, mask, value)    # the out-of-place checks
        return apply_into(E.Where(), self, mask, value, self)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        d, index, src = F.index.scatter_args("scatter_", self, dim, index, src if src is not None else value)
        if reduce is None:
            return apply_into(Scatter(d), self, self, index, src)
        if reduce == "add":
            return apply_into(ScatterAdd(d), self, self, index, src)
        raise NotImplementedError(f"scatter_: reduce={reduce!r} is not supported by qiflow yet (only 'add')")

    def scatter_add_(self, dim, index, src):
        d, index, src = F.index.scatter_args("scatter_add_", self, dim, index, src)
        return apply_into(ScatterAdd(d), self, self, index, src)

    def index_add_(self, dim, index, source, *, alpha=1):
        d, index, src = F.index.index_add_args(self, dim, index, source, alpha)
        return apply_into(ScatterAdd(d), self, self, index, src)

    def index_fill_(self, dim, index, value):
        d = one_dim("index_fill_", dim, self.ndim)
        mask = np.zeros(self.shape[d], bool)
        mask[F.index.index_array("index_fill_", index)] = True
        shape = [1] * self.ndim
        shape[d] = -1
        return self.masked_fill_(mask.reshape(shape), value)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        return F.normal_(self, mean, std, generator=generator)
    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        return F.uniform_(self, a, b, generator=generator)
    def bernoulli_(self, p=0.5, *, generator=None):
        return F.bernoulli_(self, p, generator=generator)
    def exponential_(self, lambd=1.0, *, generator=None):
        return F.exponential_(self, lambd, generator=generator)
    def random_(self, low=0, high=None, *, generator=None):
        return F.random_(self, low, high, generator=generator)

    def __format__(self, spec):
        """``'{:+.2f}'.format(t)`` formats a one-element tensor's value, as in PyTorch."""
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)


def _bools(symbol, *xs):
    for x in xs:
        kind = x.dtype.kind if hasattr(x, "dtype") else ("b" if isinstance(x, bool) else "?")
        if kind != "b":
            raise NotImplementedError(
                f"'{symbol}' on a {getattr(x, 'dtype', type(x).__name__)} operand: PyTorch's meaning "
                f"there is bitwise, which qiflow does not support yet; qiflow's '{symbol}' works on "
                f"bool tensors (compare first, e.g. (x > 0) {symbol} (y > 0))")
    return xs


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)
