"""A pickle reader that can only rebuild NumPy arrays.

The classic ``mnist.pkl.gz`` is a pickle of NumPy arrays.  Python's pickle can
call any importable function while loading, so this reader accepts exactly
the few globals that NumPy's own array pickles name (array and dtype
reconstruction) and refuses everything else before it is called; object
arrays, which would smuggle arbitrary objects back in, are refused too.

>>> import pickle
>>> safe_loads(pickle.dumps(np.arange(3))).tolist()
[0, 1, 2]
"""
import io
import pickle

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for something other than plain NumPy arrays."""


def _dtype(*args, **kwargs):
    d = np.dtype(*args, **kwargs)
    if d.hasobject:
        raise UnsafePickleError("refusing a pickled object array (dtype 'O'): it could hold arbitrary objects")
    return d


def _reconstruct(subtype, shape, dtype_code):
    if subtype is not np.ndarray:
        raise UnsafePickleError(f"refusing to rebuild an array of type {subtype!r}")
    from numpy._core.multiarray import _reconstruct as rebuild
    return rebuild(np.ndarray, shape, dtype_code)


def _frombuffer(buf, dtype, shape, order):
    dtype = _dtype(dtype)
    from numpy._core.numeric import _frombuffer as rebuild
    return rebuild(buf, dtype, shape, order)


def _latin1_bytes(text, encoding="latin1"):
    # Protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(str, "latin1").
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("refusing _codecs.encode with unexpected arguments")
    return text.encode("latin1")


_ALLOWED = {
    ("_codecs", "encode"): _latin1_bytes,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
}
# dtype pickles name the scalar classes they belong to (e.g. numpy.dtypes.Float32DType) in newer NumPy.
for _n in ("float16", "float32", "float64", "uint8", "int8", "int16", "int32", "int64", "bool_"):
    _ALLOWED[("numpy", _n)] = getattr(np, _n)


class ArrayUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` restricted to NumPy array reconstruction."""

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load {module}.{name}: this file is not a plain pickle of NumPy arrays "
                "(only array reconstruction is allowed; anything else could run code)") from None

    def persistent_load(self, pid):
        raise UnsafePickleError("refusing a pickle with persistent ids")


def _check_arrays(obj):
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise UnsafePickleError("refusing a pickled object array")
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _check_arrays(o)
    elif not isinstance(obj, (int, float, str, bytes, type(None))):
        raise UnsafePickleError(f"unexpected {type(obj).__name__} in an array pickle")


def safe_load(f):
    """Read a pickle of (tuples/lists of) NumPy arrays from a binary file; nothing else loads."""
    obj = ArrayUnpickler(f, encoding="latin1").load()
    _check_arrays(obj)
    return obj


def safe_loads(data):
    return safe_load(io.BytesIO(data))
