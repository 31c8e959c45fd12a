"""Theano's ``dot``: NumPy's dot for any ndim (the last axis of ``a`` against the
second-to-last of ``b``), built on qiflow's matmul and einsum.

>>> import numpy as np
>>> from qiflow import sym as T
>>> x = T.dtensor3('x'); w = T.dmatrix('w')
>>> T.function([x, w], T.dot(x, w))(np.ones((2, 3, 4)), np.ones((4, 5))).shape
(2, 3, 5)
"""
from ..ops import linalg as L

_LETTERS = "abcdefghijklmnopqrstuvwxy"


def dot(a, b):
    """NumPy's (and Theano's) dot: sum over a's last axis and b's second-to-last
    (b's only axis when it is a vector); scalars multiply."""
    na, nb = getattr(a, "ndim", None), getattr(b, "ndim", None)
    if na is None or nb is None or (na <= 2 and nb <= 2):
        return L.dot(a, b)
    if nb <= 2:
        return L.matmul(a, b)            # the same contraction when b is a vector or a matrix
    ta = _LETTERS[:na - 1]
    tb = _LETTERS[na - 1:na + nb - 3]
    last = _LETTERS[na + nb - 3]
    return L.einsum(f"{ta}z,{tb}z{last}->{ta}{tb}{last}", a, b)
