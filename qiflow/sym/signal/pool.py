"""``T.signal.pool.pool_2d``: Theano's pooling over the last two axes, built on
qiflow's pooling primitives.

``mode``: 'max', 'sum', 'average_inc_pad' (padding counted in the divisor) or
'average_exc_pad' (not counted).  ``ignore_border=False`` keeps the partial
windows at the bottom and right edges (a 5x5 image pooled by 2 gives 3x3);
as in Theano 1.0, leaving it None warns and means False.  ``pad`` needs
``ignore_border=True`` (as in Theano).

>>> import numpy as np
>>> from qiflow import sym as T
>>> x = T.dtensor4('x')
>>> f = T.function([x], T.signal.pool.pool_2d(x, ws=(2, 2), ignore_border=True))
>>> f(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0].tolist()
[[5.0, 7.0], [13.0, 15.0]]
"""
import warnings

import numpy as np

from ..._state import QiflowError
from ...ops import pool as _pool
from ...ops.dynamic import reshape as _reshape

MODES = ("max", "sum", "average_inc_pad", "average_exc_pad")


def _pair(what, v):
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"pool_2d: {what} must be a pair, got {v}")
    return v


def _pool4(x, ws, stride, pad, mode, ceil):
    if mode == "max":
        return _pool.max_pool2d(x, ws, stride, pad, 1, ceil)
    if mode == "sum":
        return _pool.avg_pool2d(x, ws, stride, pad, ceil, True, divisor_override=1)
    return _pool.avg_pool2d(x, ws, stride, pad, ceil, mode == "average_inc_pad")


def pool_2d(input, ws=None, ignore_border=None, stride=None, pad=(0, 0), mode="max",
            ds=None, st=None, padding=None):
    """Pool the last two axes of ``input`` (ndim >= 2) by windows ``ws``, moved
    by ``stride`` (default ``ws``), after padding ``pad``; see the module doc.
    ``ds``, ``st`` and ``padding`` are Theano's older names."""
    ws = ws if ws is not None else ds
    stride = stride if stride is not None else st
    pad = padding if padding is not None else pad
    if ws is None:
        raise TypeError("pool_2d: ws (the window shape) is required")
    if mode not in MODES:
        raise ValueError(f"pool_2d: mode must be one of {MODES}, got {mode!r}")
    if ignore_border is None:
        warnings.warn("pool_2d: ignore_border is None; as Theano 1.0 this means False (partial "
                      "windows kept); pass it explicitly", stacklevel=2)
        ignore_border = False
    ws = _pair("ws", ws)
    stride = ws if stride is None else _pair("stride", stride)
    pad = _pair("pad", pad)
    if pad != (0, 0) and not ignore_border:
        raise QiflowError("pool_2d: padding works only with ignore_border=True (as in Theano)")
    if input.ndim < 2:
        raise QiflowError(f"pool_2d: the input needs at least 2 dimensions, got {input.type}")
    if not ignore_border:
        for n, k in zip(input.type.shape[-2:], ws):
            if n is not None and n < k:
                raise QiflowError(f"pool_2d: an image side of {n} is smaller than the window "
                                  f"{ws}; qiflow does not support that with ignore_border=False")
    if input.ndim == 4:
        return _pool4(input, ws, stride, pad, mode, not ignore_border)
    # any other ndim: pool (prod(leading axes), 1, H, W) and put the leading axes back
    shp = input.shape
    lead = [shp[k] for k in range(input.ndim - 2)]
    flat = _reshape(input, (-1, 1, shp[input.ndim - 2], shp[input.ndim - 1]))
    out = _pool4(flat, ws, stride, pad, mode, not ignore_border)
    oshp = out.shape
    return _reshape(out, tuple(lead) + (oshp[2], oshp[3]))


def max_pool_2d_same_size(input, patch_size):
    """Theano's helper: keep each window's maximum where it is, zero elsewhere."""
    raise QiflowError("max_pool_2d_same_size is not supported by qiflow yet")
