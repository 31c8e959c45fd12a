"""The symbolic ``Variable``'s methods whose meaning is the dialect's (Theano's,
which follows NumPy): reductions, shape methods, casts.  (The operators and
the methods both dialects share are in ``qiflow/methods.py``.)
"""
from ..methods import TensorMethods
from ..ops import elementwise as E, reduce as R, movement as M, linalg as L, softmax as S


class TheanoMethods(TensorMethods):
    __slots__ = ()

    def round(self, decimals=0): return E.round(self, decimals)
    def clip(self, lo=None, hi=None): return E.clip(self, lo, hi)
    clamp = clip
    def pow(self, p): return E.power(self, p)
    def maximum(self, o): return E.maximum(self, o)
    def minimum(self, o): return E.minimum(self, o)

    def astype(self, dtype): return E.cast(self, dtype)

    def float(self):
        from ..backend import get_default_dtype
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

    def dot(self, o): return L.dot(self, o)
