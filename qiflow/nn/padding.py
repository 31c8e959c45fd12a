"""PyTorch's ``F.pad``: widths given last dimension first, four modes.

``pad`` is a flat tuple ``(left, right, top, bottom, ...)``: its first pair pads
the last dimension, the next pair the one before, and so on.  Constant
padding works on any dimension and a negative width crops; 'reflect',
'replicate' and 'circular' pad the last 1-3 dimensions of a batched or
unbatched input, as in PyTorch.  Built from slicing, gathering and
concatenation, so the gradient needs no rule of its own.

>>> x = qf.arange(3.0).reshape(1, 3)
>>> qf.nn.functional.pad(x, (2, 1), mode="reflect").tolist()
[[2.0, 1.0, 0.0, 1.0, 2.0, 1.0]]
>>> qf.nn.functional.pad(x, (1, -1), value=9.0).tolist()
[[9.0, 0.0, 1.0]]
"""
import numpy as np

from .._state import QiflowError
from ..ops.indexing import getitem
from ..ops.join import concatenate

# PyTorch's mode -> the np.pad mode that builds the same index pattern
_GATHER = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _widths(pad, shape):
    """[(axis, before, after)] from PyTorch's last-dimension-first tuple."""
    if not isinstance(pad, (tuple, list)) or not all(isinstance(p, (int, np.integer)) for p in pad):
        raise QiflowError(f"pad: pad must be a tuple of ints, got {pad!r}")
    pad = [int(p) for p in pad]
    if len(pad) % 2 or len(pad) > 2 * len(shape):
        raise QiflowError(f"pad: pad {tuple(pad)} must have an even length of at most twice the input's "
                          f"{len(shape)} dimensions (input shape {shape})")
    n = len(shape)
    return [(n - 1 - i, pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)]


def pad(input, pad, mode="constant", value=None):
    """Pad ``input`` by ``pad`` (last dimension first), PyTorch's ``F.pad``.

    ``mode`` is 'constant' (fill ``value``, default 0; negative widths crop),
    'reflect' (mirror without the edge), 'replicate' (repeat the edge) or
    'circular' (wrap around).

    >>> qf.nn.functional.pad(qf.ones((1, 1, 2, 2)), (1, 1, 0, 1)).shape
    (1, 1, 3, 4)
    """
    shape = tuple(input.shape)
    widths = _widths(pad, shape)
    if mode == "constant":
        return _constant(input, shape, widths, 0 if value is None else value)
    if mode not in _GATHER:
        raise QiflowError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if value is not None and value != 0:
        raise QiflowError(f"pad: mode {mode!r} takes no value (got value={value!r})")
    k = len(widths)
    if not 1 <= k <= 3 or len(shape) not in (k + 1, k + 2):
        raise QiflowError(f"pad: mode {mode!r} pads the last 1, 2 or 3 dimensions of a (batched) input with "
                          f"1 or 2 leading dimensions; got pad {tuple(pad)} for input of shape {shape}")
    x = input
    for ax, b, a in widths:
        n = shape[ax]
        if b < 0 or a < 0:
            raise QiflowError(f"pad: negative widths crop only in mode 'constant'; mode {mode!r} got {tuple(pad)}")
        if not (b or a):
            continue
        if mode == "reflect" and (b >= n or a >= n):
            raise QiflowError(f"pad: reflect widths ({b}, {a}) must be smaller than the size {n} of "
                              f"dimension {ax} (input shape {shape})")
        if mode == "circular" and (b > n or a > n):
            raise QiflowError(f"pad: circular widths ({b}, {a}) must be at most the size {n} of "
                              f"dimension {ax} (input shape {shape})")
        if n == 0:
            raise QiflowError(f"pad: mode {mode!r} cannot pad the empty dimension {ax} (input shape {shape})")
        idx = np.pad(np.arange(n), (b, a), mode=_GATHER[mode])
        x = getitem(x, (slice(None),) * ax + (idx,))
    return x


def _constant(x, shape, widths, value):
    crop = [slice(None)] * len(shape)
    out = list(shape)
    for ax, b, a in widths:
        out[ax] = shape[ax] + b + a
        if out[ax] < 0:
            raise QiflowError(f"pad: dimension {ax} of size {shape[ax]} padded by ({b}, {a}) would have "
                              f"negative size {out[ax]} (input shape {shape})")
        if b < 0 or a < 0:
            crop[ax] = slice(-b if b < 0 else 0, shape[ax] + a if a < 0 else shape[ax])
    if any(s != slice(None) for s in crop):
        x = getitem(x, tuple(crop))
    cur = [len(range(*s.indices(n))) for s, n in zip(crop, shape)]
    for ax, b, a in widths:
        b, a = max(b, 0), max(a, 0)
        if not (b or a):
            continue
        parts = []
        for w in (b, x, a):
            if isinstance(w, int):
                if w:
                    parts.append(np.full(cur[:ax] + [w] + cur[ax + 1:], value, dtype=x.dtype))
            else:
                parts.append(w)
        x = concatenate(parts, axis=ax)
        cur[ax] += b + a
    return x
