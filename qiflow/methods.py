"""Operators and methods shared by eager ``Tensor`` and symbolic ``sym.Variable``.

Everything here calls qiflow functions, so ``x + 1`` builds the same op on a
Tensor (computed now) and on a symbolic variable (a graph node).
"""
from .ops import elementwise as E, reduce as R, movement as M, linalg as L, softmax as S


class TensorMethods:
    __slots__ = ()
    __array_ufunc__ = None          # make NumPy defer: ndarray + Tensor -> Tensor.__radd__
    __array_priority__ = 1000

    # arithmetic
    def __add__(self, o): return E.add(self, o)
    def __radd__(self, o): return E.add(o, self)
    def __sub__(self, o): return E.subtract(self, o)
    def __rsub__(self, o): return E.subtract(o, self)
    def __mul__(self, o): return E.multiply(self, o)
    def __rmul__(self, o): return E.multiply(o, self)
    def __truediv__(self, o): return E.divide(self, o)
    def __rtruediv__(self, o): return E.divide(o, self)
    def __floordiv__(self, o): return E.floor_divide(self, o)
    def __rfloordiv__(self, o): return E.floor_divide(o, self)
    def __mod__(self, o): return E.mod(self, o)
    def __rmod__(self, o): return E.mod(o, self)
    def __pow__(self, o): return E.power(self, o)
    def __rpow__(self, o): return E.power(o, self)
    def __matmul__(self, o): return L.matmul(self, o)
    def __rmatmul__(self, o): return L.matmul(o, self)
    def __neg__(self): return E.negative(self)
    def __pos__(self): return self
    def __abs__(self): return E.abs(self)

    # comparisons and logic (bool results, no gradient)
    def __eq__(self, o): return E.equal(self, o)
    def __ne__(self, o): return E.not_equal(self, o)
    def __lt__(self, o): return E.less(self, o)
    def __le__(self, o): return E.less_equal(self, o)
    def __gt__(self, o): return E.greater(self, o)
    def __ge__(self, o): return E.greater_equal(self, o)
    def __and__(self, o): return E.logical_and(self, o)
    def __rand__(self, o): return E.logical_and(o, self)
    def __or__(self, o): return E.logical_or(self, o)
    def __ror__(self, o): return E.logical_or(o, self)
    def __xor__(self, o): return E.logical_xor(self, o)
    def __invert__(self): return E.logical_not(self)
    __hash__ = object.__hash__

    def __getitem__(self, index):
        from .ops.indexing import getitem
        return getitem(self, index)

    # elementwise methods
    def exp(self): return E.exp(self)
    def log(self): return E.log(self)
    def log1p(self): return E.log1p(self)
    def expm1(self): return E.expm1(self)
    def sqrt(self): return E.sqrt(self)
    def square(self): return E.square(self)
    def abs(self): return E.abs(self)
    def sign(self): return E.sign(self)
    def sin(self): return E.sin(self)
    def cos(self): return E.cos(self)
    def tanh(self): return E.tanh(self)
    def sigmoid(self): return E.sigmoid(self)
    def relu(self): return E.relu(self)
    def softplus(self): return E.softplus(self)
    def floor(self): return E.floor(self)
    def ceil(self): return E.ceil(self)
    def round(self, decimals=0): return E.round(self, decimals)
    def clip(self, lo=None, hi=None): return E.clip(self, lo, hi)
    clamp = clip
    def pow(self, p): return E.power(self, p)
    def maximum(self, o): return E.maximum(self, o)
    def minimum(self, o): return E.minimum(self, o)

    def astype(self, dtype): return E.cast(self, dtype)

    def float(self):
        from .backend import get_default_dtype
        return E.cast(self, get_default_dtype())

    def double(self): return E.cast(self, "float64")
    def long(self): return E.cast(self, "int64")
    def int(self): return E.cast(self, "int32")
    def bool(self): return E.cast(self, "bool")

    # reductions
    def sum(self, axis=None, keepdims=False): return R.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return R.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return R.max(self, axis, keepdims)
    def min(self, axis=None, keepdims=False): return R.min(self, axis, keepdims)
    def prod(self, axis=None, keepdims=False): return R.prod(self, axis, keepdims)
    def var(self, axis=None, keepdims=False, ddof=0): return R.var(self, axis, keepdims, ddof)
    def std(self, axis=None, keepdims=False, ddof=0): return R.std(self, axis, keepdims, ddof)
    def argmax(self, axis=None, keepdims=False): return R.argmax(self, axis, keepdims)
    def argmin(self, axis=None, keepdims=False): return R.argmin(self, axis, keepdims)

    def logsumexp(self, axis=None, keepdims=False): return S.logsumexp(self, axis, keepdims)
    def softmax(self, axis=-1): return S.softmax(self, axis)
    def log_softmax(self, axis=-1): return S.log_softmax(self, axis)

    # shape
    def reshape(self, *shape): return M.reshape(self, *shape)
    view = reshape

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = axes[0]
        return M.transpose(self, axes or None)

    def permute(self, *axes): return M.permute(self, *axes)
    def swapaxes(self, a, b): return M.swapaxes(self, a, b)

    @property
    def T(self): return M.transpose(self)

    def expand_dims(self, axis): return M.expand_dims(self, axis)
    def unsqueeze(self, dim): return M.expand_dims(self, dim)
    def squeeze(self, axis=None): return M.squeeze(self, axis)
    def broadcast_to(self, shape): return M.broadcast_to(self, shape)
    def expand(self, *shape): return M.expand(self, *shape)
    def flatten(self, start_dim=0, end_dim=-1): return M.flatten(self, start_dim, end_dim)
    def ravel(self): return M.ravel(self)

    def flip(self, axis=None):
        from .ops.join import flip
        return flip(self, axis)

    def repeat(self, repeats, axis=None):
        from .ops.join import repeat
        return repeat(self, repeats, axis)

    def tile(self, reps):
        from .ops.join import tile
        return tile(self, reps)

    def split(self, indices_or_sections, axis=0):
        from .ops.join import split
        return split(self, indices_or_sections, axis)

    def matmul(self, o): return L.matmul(self, o)
    def dot(self, o): return L.dot(self, o)
