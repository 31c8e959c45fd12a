"""Channel dropout, ``F.dropout1d`` / ``F.dropout2d``, and the scaled keep-mask they share
with attention dropout.

A whole channel (every position of one feature map) is zeroed with
probability p and the others are scaled by 1/(1-p).  Masks come from the
``generator`` given or the global one (``qf.manual_seed``).  ``inplace`` is
accepted for PyTorch's signature; the result is always a new tensor.

>>> y = qf.nn.functional.dropout2d(qf.ones((1, 100, 2, 2)), 0.5, generator=qf.Generator(0))
>>> sorted(set(y.numpy().reshape(100, 4).std(1).tolist()))   # channels are all kept or all dropped
[0.0]
"""
import numpy as np

from .._state import QiflowError
from ..random import _gen


def keep_mask(shape, p, dtype, generator=None, what="dropout"):
    """An array of ``shape``: 0 with probability p, else 1/(1-p) (dtype ``dtype``)."""
    if not 0.0 <= p <= 1.0:
        raise QiflowError(f"{what}: probability p must be in [0, 1], got {p}")
    dtype = np.dtype(dtype)
    if p == 1.0:
        return np.zeros(shape, dtype)
    u = _gen(generator).random(shape, dtype=np.float32 if dtype == np.float32 else np.float64)
    return np.multiply(u >= p, np.asarray(1.0 / (1.0 - p), dtype), dtype=dtype)


def _channel_dropout(what, x, p, training, generator, batched_ndim):
    if not 0.0 <= p <= 1.0:
        raise QiflowError(f"{what}: probability p must be in [0, 1], got {p}")
    shape = tuple(x.shape)
    if len(shape) not in (batched_ndim - 1, batched_ndim):
        raise QiflowError(f"{what}: expected a {batched_ndim - 1}-D (unbatched) or {batched_ndim}-D "
                          f"(batched) input, got shape {shape}")
    if not training or p == 0.0:
        return x
    lead = 2 if len(shape) == batched_ndim else 1     # (N, C) or just (C,)
    mask = keep_mask(shape[:lead] + (1,) * (len(shape) - lead), p, x.dtype, generator, what)
    return x * mask


def dropout1d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels of (N, C, L) or (C, L) input with probability p."""
    return _channel_dropout("dropout1d", input, p, training, generator, 3)


def dropout2d(input, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels of (N, C, H, W) or (C, H, W) input with probability p."""
    return _channel_dropout("dropout2d", input, p, training, generator, 4)
