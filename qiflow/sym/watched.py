"""Watched arrays: a live tensor's ``.data`` while ``qf.compile`` traces a function.

NumPy ufuncs, ``np.sum``-style functions and the common array methods on a
watched array build graph nodes on the tensor's traced value (cut from the
graph, as ``.data`` is); writes (``out=``, ``np.copyto``, ``a[...] = v``,
``fill``) become updates; reading its value (``item``, ``float``, ``bool``,
``tolist``) raises ``TraceError``.  Outside a trace it is a plain ndarray.
"""
import numpy as np

from ..ops.elementwise import zeros_like
from . import tracing as _tr


class WatchedArray(np.ndarray):
    """A live tensor's ``.data`` while a function is traced: NumPy on it builds
    graph nodes, writes become updates, and reading its value is a TraceError."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        ctx = _tr._active
        if ctx is None:
            if "out" in kwargs:
                kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
            return getattr(ufunc, method)(*map(_plain, inputs), **kwargs)
        if method != "__call__":
            raise _tr.TraceError(f"np.{ufunc.__name__}.{method} on a captured tensor's .data inside a "
                                 "traced function: use the qiflow function (qf.sum, qf.max ...)")
        from .ufuncs import array_ufunc
        return array_ufunc(ufunc, method, [ctx.as_sym(a) for a in inputs], kwargs)

    def __array_function__(self, func, types, args, kwargs):
        ctx = _tr._active
        if ctx is None or func in _SHAPE_ONLY:
            return func(*_plain_all(args), **_plain_all(kwargs))
        if func is np.copyto:
            return ctx.write(args[0], ctx.as_sym(args[1]))
        from .ufuncs import array_function
        return array_function(func, _sym_all(ctx, args), _sym_all(ctx, kwargs))

    def fill(self, value):
        if _tr._active is None:
            return np.ndarray.fill(self, value)
        _tr._active.write(self, zeros_like(_tr._active.as_sym(self)) + value)

    def __setitem__(self, index, value):
        if _tr._active is None:
            return np.ndarray.__setitem__(self, index, value)
        if index is Ellipsis or (isinstance(index, slice) and index == slice(None)):
            return _tr._active.write(self, value)
        raise _tr.TraceError("item assignment into a captured tensor's .data inside a traced "
                             "function (only a[...] = v is followed)")

    def __repr__(self):
        return repr(self.view(np.ndarray))

    def __str__(self):
        return str(self.view(np.ndarray))


_SHAPE_ONLY = {np.shape, np.ndim, np.size, np.zeros_like, np.ones_like, np.empty_like, np.full_like,
               np.result_type}


def _plain(a):
    return a.view(np.ndarray) if a.__class__ is WatchedArray else a


def _plain_all(x):
    if isinstance(x, dict):
        return {k: _plain_all(v) for k, v in x.items()}
    if type(x) in (list, tuple):
        return type(x)(_plain_all(v) for v in x)
    return _plain(x)


def _sym_all(ctx, x):
    if isinstance(x, dict):
        return {k: _sym_all(ctx, v) for k, v in x.items()}
    if type(x) in (list, tuple):
        return type(x)(_sym_all(ctx, v) for v in x)
    return ctx.as_sym(x) if x.__class__ is WatchedArray else x


def _as_graph(name):
    def method(self, *args, **kwargs):
        if _tr._active is None:
            return getattr(np.ndarray, name)(self, *args, **kwargs)
        return getattr(_tr._active.as_sym(self), name)(*args, **kwargs)
    method.__name__ = name
    return method


def _value_read(name):
    def method(self, *args, **kwargs):
        if _tr._active is None:
            return getattr(np.ndarray, name)(self, *args, **kwargs)
        raise _tr.TraceError(f"{name.strip('_')}() reads the value of a captured tensor while "
                             "tracing; the compiled function would replay that value forever (compute "
                             "with qiflow operations, or keep this code outside the compiled function)")
    method.__name__ = name
    return method


for _n in ("reshape", "transpose", "ravel", "flatten", "squeeze", "sum", "mean", "max", "min", "prod",
           "std", "var", "argmax", "argmin", "dot", "clip", "round", "astype", "__getitem__"):
    setattr(WatchedArray, _n, _as_graph(_n))
for _n in ("item", "tolist", "tobytes", "any", "all", "__bool__", "__float__", "__int__", "__index__",
           "__complex__"):
    setattr(WatchedArray, _n, _value_read(_n))
WatchedArray.T = property(lambda self: self.transpose())
WatchedArray.copy = lambda self, *a, **k: (np.ndarray.copy(self, *a, **k) if _tr._active is None
                                           else _tr._active.as_sym(self))   # values are immutable
