"""The symbolic ``Variable``'s methods whose meaning is the dialect's (Theano's,
which follows NumPy): reductions, shape methods, casts.  (The operators and
the methods both dialects share are in ``qiflow/methods.py``.)
"""
from ..methods import TensorMethods
from ..ops import base as _base
from ..ops import elementwise as E, reduce as R, movement as M, linalg as L, softmax as S


def _eager_dialect():
    """True while ``qf.compile`` traces eager code: the variables then stand for
    tensors and their methods mean PyTorch's (the tracer disallows eager backward)."""
    return any(not i.allows_eager_backward for i in _base._stack)


def _dtype_keepdims(what, dtype, keepdims):
    # Theano's second positional argument is ``dtype``; an eager caller's is keepdim
    if isinstance(dtype, bool):
        return None, dtype
    return as_dtype_name(dtype), keepdims


def as_dtype_name(dtype):
    """Theano's ``'floatX'`` is the default float; any other dtype stays as given."""
    if isinstance(dtype, str) and dtype == "floatX":
        from ..backend import get_default_dtype
        return get_default_dtype()
    return dtype


class TheanoMethods(TensorMethods):
    __slots__ = ()

    def round(self, mode=None, decimals=None):
        """Theano's round: ``mode`` 'half_to_even' (default, as NumPy) or
        'half_away_from_zero'.  (An int is read as NumPy's ``decimals``.)"""
        from .rounding import round as _round
        return _round(self, mode, decimals)
    def clip(self, lo=None, hi=None): return E.clip(self, lo, hi)
    clamp = clip
    def pow(self, p): return E.power(self, p)
    def maximum(self, o): return E.maximum(self, o)
    def minimum(self, o): return E.minimum(self, o)

    def astype(self, dtype): return E.cast(self, as_dtype_name(dtype))

    def float(self):
        from ..backend import get_default_dtype
        return E.cast(self, get_default_dtype())

    def double(self): return E.cast(self, "float64")
    def long(self): return E.cast(self, "int64")
    def int(self): return E.cast(self, "int32")
    def bool(self): return E.cast(self, "bool")

    # reductions
    def sum(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        dtype, keepdims = _dtype_keepdims("sum", dtype, keepdims)
        x = self if dtype is None else E.cast(self, dtype)
        return R.sum(x, axis, keepdims)

    def mean(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        """Theano's mean: ``dtype`` is the dtype of the result (the sum is done in it)."""
        dtype, keepdims = _dtype_keepdims("mean", dtype, keepdims)
        x = self if dtype is None else E.cast(self, dtype)
        return R.mean(x, axis, keepdims)

    def norm(self, L, axis=None, keepdims=False):
        """Theano's ``x.norm(L)``: (sum |x|^L)^(1/L); L=inf gives max |x|."""
        from .rounding import norm
        return norm(self, L, axis, keepdims)
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
    def reshape(self, *shape, ndim=None):
        """Theano's reshape: sizes may be symbolic scalars (``x.reshape((n, -1))``)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list, _base.Symbolic)):
            shape = shape[0]
        from ..ops.dynamic import reshape
        return reshape(self, shape, ndim)

    def view(self, *shape): return M.reshape(self, *shape)

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
    def flatten(self, ndim=None, end_dim=None):
        """Theano's meaning: ``x.flatten(ndim)`` keeps the first ndim - 1 axes and
        merges the rest (``x.flatten(2)`` of (N, C, H, W) is (N, C*H*W)).  Inside
        ``qf.compile`` (eager code) it is PyTorch's ``flatten(start_dim, end_dim)``."""
        if _eager_dialect():
            return M.flatten(self, 0 if ndim is None else ndim, -1 if end_dim is None else end_dim)
        if end_dim is not None:
            raise TypeError("flatten: a symbolic variable's flatten takes Theano's one argument, "
                            "ndim (the number of dimensions of the result)")
        from . import flatten
        return flatten(self, 1 if ndim is None else ndim)
    def ravel(self): return M.ravel(self)

    def flip(self, axis=None):
        from ..ops.join import flip
        return flip(self, axis)

    def repeat(self, repeats, axis=None):
        from ..ops.join import repeat
        return repeat(self, repeats, axis)

    def tile(self, reps):
        from ..ops.join import tile
        return tile(self, reps)

    def split(self, indices_or_sections, axis=0):
        from ..ops.join import split
        return split(self, indices_or_sections, axis)

    def dot(self, o):
        from .products import dot
        return dot(self, o)
