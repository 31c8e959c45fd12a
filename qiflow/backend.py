"""The array namespace and the dtype policy.

Every array qiflow computes with is a NumPy ``ndarray``; ``xp`` names the
namespace so that a CuPy backend can be dropped in later without touching the
operators.  The default float (like Theano's ``floatX``) is float32 and can be
changed with :func:`set_default_dtype`.

>>> import qiflow as qf
>>> qf.get_default_dtype()
dtype('float32')
"""
import numpy as np

xp = np

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")

_default_float = float32


def get_default_dtype():
    """The float dtype that Python floats and new float tensors get."""
    return _default_float


def set_default_dtype(dtype):
    """Set the default float dtype (float32 or float64).

    >>> qf.set_default_dtype("float64"); qf.tensor(1.0).dtype
    dtype('float64')
    """
    global _default_float
    d = np.dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {d}")
    _default_float = d


def as_dtype(dtype):
    """Normalise a dtype given as a string, NumPy type or dtype; None stays None."""
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"unknown dtype {dtype!r}") from exc


def is_float(dtype):
    return np.dtype(dtype).kind == "f"


def to_array(data, dtype=None):
    """Convert data to an ndarray with qiflow's rules.

    Python floats (and lists of them) become the default float, Python ints
    int64, bools bool; NumPy arrays keep their dtype unless ``dtype`` is given.
    """
    dtype = as_dtype(dtype)
    if isinstance(data, np.ndarray):
        return data.astype(dtype, copy=False) if dtype is not None else data
    arr = np.asarray(data)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind == "f" and not isinstance(data, np.generic):
        arr = arr.astype(_default_float, copy=False)
    elif arr.dtype.kind == "O":
        raise TypeError(f"cannot make an array from {type(data).__name__}: {data!r:.80}")
    return arr
