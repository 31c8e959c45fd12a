"""NumPy calls on symbolic variables: ``np.exp(v)`` builds ``qf.exp(v)``.

Writing a symbolic value into an array (``out=``, ``np.copyto``) is an error.
"""
import numpy as np

from ..ops import elementwise as E, reduce as R, linalg as L, movement as M
from .._state import QiflowError

_UFUNCS = {
    np.add: E.add, np.subtract: E.subtract, np.multiply: E.multiply, np.divide: E.divide,
    np.negative: E.negative, np.power: E.power, np.exp: E.exp, np.log: E.log, np.log1p: E.log1p,
    np.expm1: E.expm1, np.sqrt: E.sqrt, np.square: E.square, np.absolute: E.abs, np.sign: E.sign,
    np.sin: E.sin, np.cos: E.cos, np.tanh: E.tanh, np.maximum: E.maximum, np.minimum: E.minimum,
    np.equal: E.equal, np.not_equal: E.not_equal, np.less: E.less, np.less_equal: E.less_equal,
    np.greater: E.greater, np.greater_equal: E.greater_equal, np.logical_and: E.logical_and,
    np.logical_or: E.logical_or, np.logical_xor: E.logical_xor, np.logical_not: E.logical_not,
    np.isnan: E.isnan, np.isfinite: E.isfinite, np.isinf: E.isinf, np.floor: E.floor,
    np.ceil: E.ceil, np.floor_divide: E.floor_divide, np.remainder: E.mod, np.matmul: L.matmul,
    np.positive: lambda x: x,
}

_FUNCTIONS = {
    np.sum: R.sum, np.mean: R.mean, np.max: R.max, np.min: R.min, np.amax: R.max, np.amin: R.min,
    np.prod: R.prod, np.argmax: R.argmax, np.argmin: R.argmin, np.dot: L.dot, np.matmul: L.matmul,
    np.where: E.where, np.reshape: M.reshape, np.transpose: M.transpose, np.clip: E.clip,
    np.zeros_like: E.zeros_like, np.ones_like: E.ones_like, np.outer: L.outer,
}


def array_ufunc(ufunc, method, inputs, kwargs):
    out = kwargs.pop("out", None)
    kwargs.pop("casting", None)
    dtype = kwargs.pop("dtype", None)
    fn = _UFUNCS.get(ufunc)
    if method != "__call__" or fn is None or kwargs:
        raise TypeError(f"np.{ufunc.__name__}{'' if method == '__call__' else '.' + method} is not "
                        "supported on symbolic variables; use the qiflow function of the same name")
    res = fn(*inputs)
    if dtype is not None:
        res = E.cast(res, dtype)
    if out is not None:
        return _write(out[0] if isinstance(out, tuple) else out, res, f"np.{ufunc.__name__}(out=...)")
    return res


def array_function(func, args, kwargs):
    if func is np.copyto:
        kwargs.pop("casting", None)
        dst, src = args[0], args[1]
        return _write(dst, src, "np.copyto")
    fn = _FUNCTIONS.get(func)
    if fn is None:
        raise TypeError(f"np.{func.__name__} is not supported on symbolic variables; "
                        "use the qiflow function of the same name")
    return fn(*args, **kwargs)


def _write(dst, value, what):
    raise QiflowError(f"{what}: cannot write a symbolic value into an array; build a new "
                      "expression instead (or use T.function updates)")
