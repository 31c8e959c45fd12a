"""``Variable.dtype``: Theano's dtype, a string (``'float32'``) that also
compares and behaves like the NumPy dtype it names.

Theano programs test dtypes as strings (``y.dtype.startswith('int')``,
``x.dtype in T.discrete_dtypes``); qiflow's own code and NumPy users compare
them with NumPy dtypes (``x.dtype == np.float32``, ``x.dtype.kind``).  A
``DType`` is a ``str`` for the first and delegates to ``numpy.dtype`` for the
second, so both keep working.

>>> from qiflow import sym as T
>>> import numpy as np
>>> d = T.fmatrix('x').dtype
>>> d, d.startswith('float'), d == np.float32, d.kind, d.itemsize
('float32', True, True, 'f', 4)
"""
import numpy as np

#: Theano's dtype groups (strings, as in ``theano.tensor``)
int_dtypes = ("int8", "int16", "int32", "int64")
uint_dtypes = ("uint8", "uint16", "uint32", "uint64")
float_dtypes = ("float16", "float32", "float64")
complex_dtypes = ("complex64", "complex128")
discrete_dtypes = ("bool",) + int_dtypes + uint_dtypes
continuous_dtypes = float_dtypes + complex_dtypes
all_dtypes = discrete_dtypes + continuous_dtypes


class DType(str):
    """A dtype name that is also usable as the NumPy dtype it names."""

    def __new__(cls, dtype):
        d = np.dtype(dtype)
        self = str.__new__(cls, d.name)
        self.np = d
        # the attributes qiflow reads in hot paths, without __getattr__
        self.kind, self.itemsize, self.char, self.type = d.kind, d.itemsize, d.char, d.type
        return self

    def __getattr__(self, attr):
        # everything else a NumPy dtype has (``.str``, ``.byteorder``, ``.num`` ...)
        if attr == "np":
            raise AttributeError(attr)
        return getattr(self.np, attr)

    def __eq__(self, other):
        if isinstance(other, str):
            if str.__eq__(self, other):
                return True
            try:
                return self.np == np.dtype(other)
            except TypeError:
                return False
        if other is None:
            return False
        try:
            return self.np == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    __hash__ = str.__hash__

    def __reduce__(self):
        return (DType, (self.np.name,))


_CACHE = {}


def as_dtype(d):
    """The ``DType`` of a NumPy dtype (cached: one object per dtype)."""
    r = _CACHE.get(d)
    if r is None:
        r = _CACHE[d] = DType(d)
    return r


def upcast(dtype, *dtypes):
    """Theano's ``scalar.upcast``: the name of the dtype that holds every
    given dtype (NumPy's promotion), as a ``DType``.

    >>> from qiflow.sym.dtypes import upcast
    >>> upcast('int8', 'float32'), upcast('int32', 'float32'), upcast('bool', 'float32')
    ('float32', 'float64', 'float32')
    """
    given = [np.dtype(d) for d in (dtype,) + dtypes]
    bad = [str(d) for d in given if d.kind not in "biufc"]
    if bad:
        raise TypeError(f"upcast: {', '.join(bad)} is not a Theano dtype (one of {all_dtypes})")
    return as_dtype(np.result_type(*given))
