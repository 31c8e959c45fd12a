"""Theano's ``round(mode=)`` and ``norm(L)``, built from primitives (kept apart
from ``basic.py`` so that the variables' methods can use them).

>>> from qiflow import sym as T
>>> x = T.dvector('x'); float(T.function([x], x.norm(2))([3.0, 4.0]))
5.0
"""
import numpy as np

from ..ops import elementwise as E
from ..ops import reduce as R


def round(a, mode=None, decimals=None):
    """Round: ``mode`` 'half_to_even' (the default, as NumPy and Theano 1.0) or
    'half_away_from_zero'.  An int ``mode`` (or ``decimals``) rounds to that many
    decimals, as NumPy.  The gradient is zero.

    >>> x = T.dvector('x'); f = T.function([x], T.round(x, 'half_away_from_zero'))
    >>> f([0.5, 1.5, -2.5]).tolist()
    [1.0, 2.0, -3.0]
    """
    if isinstance(mode, (int, np.integer)) and not isinstance(mode, bool):
        mode, decimals = None, int(mode)
    if mode in (None, "half_to_even"):
        return E.round(a, decimals or 0)
    if mode == "half_away_from_zero":
        if decimals:
            s = 10.0 ** decimals
            return round(a * s, mode) / s
        return E.sign(a) * E.floor(E.abs(a) + 0.5)
    raise ValueError(f"round: mode must be 'half_to_even' or 'half_away_from_zero', got {mode!r}")


def norm(x, L, axis=None, keepdims=False):
    """Theano's ``x.norm(L)``: (sum |x|^L)^(1/L) over ``axis``; L=inf is max |x|."""
    if L == 0:
        raise NotImplementedError("norm: L=0 is not supported (as in Theano)")
    if L == np.inf:
        return R.max(E.abs(x), axis, keepdims)
    if L == 1:
        return R.sum(E.abs(x), axis, keepdims)
    if L == 2:
        return E.sqrt(R.sum(E.square(x), axis, keepdims))
    return R.sum(E.abs(x) ** L, axis, keepdims) ** (1.0 / L)
