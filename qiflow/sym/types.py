"""Tensor types and the typed constructors (``dscalar``, ``fmatrix``, ``ivector`` ...).

A type is a dtype plus a static shape whose unknown dimensions are None: a
``T.matrix`` is ``(None, None)``, a traced stand-in knows every dimension.
Calling a type makes a fresh variable of that type, as in Theano:

>>> from qiflow import sym as T
>>> x = T.dscalar('x'); x.type is T.dscalar
True
>>> T.fmatrix('m').type
TensorType(float32, matrix)
"""
import numpy as np

from ..backend import get_default_dtype
from .graph import TensorType

_NDIM_NAMES = {0: "scalar", 1: "vector", 2: "matrix", 3: "tensor3", 4: "tensor4"}


def _float(dtype):
    return np.dtype(dtype) if dtype is not None else get_default_dtype()


def tensor(name=None, dtype=None, ndim=None, shape=None):
    """A symbolic tensor variable of ``dtype`` (default float) with ``ndim`` unknown
    dimensions, or a ``shape`` whose entries may be None.

    >>> T.tensor('t', 'float64', shape=(None, 3)).type
    TensorType(float64, (?, 3))
    """
    if shape is None:
        if ndim is None:
            raise TypeError("tensor: give ndim or shape")
        shape = (None,) * int(ndim)
    elif ndim is not None and ndim != len(shape):
        raise TypeError(f"tensor: ndim {ndim} does not match shape {tuple(shape)}")
    return TensorType(_float(dtype), shape)(name)


def _maker(ndim, kind):
    def make(name=None, dtype=None):
        return TensorType(_float(dtype), (None,) * ndim)(name)
    make.__name__ = kind
    make.__doc__ = (f"A symbolic {kind} (ndim {ndim}); dtype defaults to the default float.\n\n"
                    f"    >>> T.{kind}('v').ndim\n    {ndim}\n")
    return make


scalar = _maker(0, "scalar")
vector = _maker(1, "vector")
matrix = _maker(2, "matrix")
tensor3 = _maker(3, "tensor3")
tensor4 = _maker(4, "tensor4")

#: Theano's prefixes: b/w/i/l signed ints of 8/16/32/64 bits, f/d floats of 32/64, c/z complex.
PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32", "d": "float64",
            "c": "complex64", "z": "complex128"}

#: Prefixed types (``dscalar``, ``fmatrix`` ...), filled in below; each is a TensorType.
TYPES = {}
for _p, _dt in PREFIXES.items():
    for _nd, _kind in _NDIM_NAMES.items():
        TYPES[_p + _kind] = TensorType(_dt, (None,) * _nd)
    TYPES[_p + "row"] = TensorType(_dt, (1, None))
    TYPES[_p + "col"] = TensorType(_dt, (None, 1))
globals().update(TYPES)

_PLURALS = {"scalar": "scalars", "vector": "vectors", "matrix": "matrices", "row": "rows",
            "col": "cols", "tensor3": "tensor3s", "tensor4": "tensor4s"}


def _plural(typ, plural):
    def make(*names):
        if len(names) == 1 and isinstance(names[0], int):
            names = (None,) * names[0]
        return [typ(n) for n in names]
    make.__name__ = plural
    make.__doc__ = f"Several {plural} at once (Theano's): ``x, y = T.{plural}('x', 'y')``."
    return make


for _p in PREFIXES:
    for _kind, _pl in _PLURALS.items():
        TYPES[_p + _pl] = _plural(TYPES[_p + _kind], _p + _pl)
for _kind, _pl in _PLURALS.items():
    if _kind in ("scalar", "vector", "matrix", "tensor3", "tensor4"):
        TYPES[_pl] = _plural(globals()[_kind], _pl)
globals().update(TYPES)
