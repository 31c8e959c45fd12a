"""``F.interpolate``: resize (N, C, L) / (N, C, H, W) / (N, C, D, H, W) input, PyTorch's rules.

Modes 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear' (4-D),
'trilinear' (5-D) and 'area' (adaptive average pooling).  Source positions
are computed exactly as PyTorch does, in the input's float precision:

* nearest:        src = min(floor(dst * scale), in - 1)
* nearest-exact:  src = min(floor((dst + 0.5) * scale), in - 1)
* linear, align_corners=False: src = max((dst + 0.5) * scale - 0.5, 0)
* linear, align_corners=True:  src = dst * (in - 1) / (out - 1)

with scale = 1 / scale_factor when a scale factor is given (and not
recomputed), else in / out.  Each axis is resampled in turn (the modes are
separable): nearest gathers, linear interpolation multiplies by a small
(out, in) matrix of the two weights per row (gathers and a blend for long
axes), so gradients come from existing ops.

>>> x = qf.tensor([[[1.0, 2.0, 4.0]]])
>>> qf.nn.functional.interpolate(x, scale_factor=2).tolist()
[[[1.0, 1.0, 2.0, 2.0, 4.0, 4.0]]]
>>> qf.nn.functional.interpolate(x, size=5, mode="linear", align_corners=True).tolist()
[[[1.0, 1.5, 2.0, 3.0, 4.0]]]
"""
import math

import numpy as np

from .._state import QiflowError
from ..ops.indexing import getitem
from ..ops.linalg import matmul
from ..ops.movement import swapaxes, reshape, expand_dims, broadcast_to
from .adaptive import adaptive_avg_pool1d, adaptive_avg_pool2d

_LINEAR = {3: "linear", 4: "bilinear", 5: "trilinear"}
_MATMUL_MAX = 128   # longer axes blend two gathers instead of a dense (out, in) matrix


def _output_sizes(what, shape, size, scale_factor, recompute):
    k = len(shape) - 2
    spatial = shape[2:]
    if (size is None) == (scale_factor is None):
        raise QiflowError(f"{what}: give exactly one of size and scale_factor")
    if size is not None:
        sizes = (size,) * k if isinstance(size, (int, np.integer)) else tuple(size)
        if not all(isinstance(s, (int, np.integer)) for s in sizes):
            raise QiflowError(f"{what}: size must be an int or a tuple of ints, got {size!r}")
        if len(sizes) != k:
            raise QiflowError(f"{what}: size {tuple(sizes)} must give {k} sizes for input of shape {shape}")
        sizes = tuple(int(s) for s in sizes)
        if min(sizes) < 1:
            raise QiflowError(f"{what}: size {sizes} must be >= 1")
        return sizes, (None,) * k
    scales = (scale_factor,) * k if isinstance(scale_factor, (int, float, np.number)) else tuple(scale_factor)
    if len(scales) != k:
        raise QiflowError(f"{what}: scale_factor {tuple(scales)} must give {k} factors for input of shape {shape}")
    scales = tuple(float(s) for s in scales)
    if min(scales) <= 0:
        raise QiflowError(f"{what}: scale_factor {scales} must be > 0")
    sizes = tuple(int(math.floor(n * s)) for n, s in zip(spatial, scales))
    if min(sizes) < 1:
        raise QiflowError(f"{what}: input {shape} scaled by {scales} gives an empty output {sizes}")
    return sizes, ((None,) * k if recompute else scales)


def _scale(n, out, scale, dtype):
    """in/out, or 1/scale_factor when one is used, in the compute precision."""
    return dtype.type(1.0 / scale) if scale is not None and scale > 0 else dtype.type(n) / dtype.type(out)


def _nearest_index(n, out, scale, exact, dtype):
    if out == n and not exact:
        return None
    s = _scale(n, out, scale, dtype)
    dst = np.arange(out, dtype=dtype)
    src = np.floor((dst + dtype.type(0.5)) * s if exact else dst * s).astype(np.int64)
    return np.minimum(src, n - 1)


def _linear_weights(n, out, scale, align_corners, dtype):
    """(i0, i1, w0, w1): each output blends input positions i0 and i1."""
    dst = np.arange(out, dtype=dtype)
    if align_corners:
        s = dtype.type((n - 1) / (out - 1)) if out > 1 else dtype.type(0)
        src = dst * s
    else:
        src = np.maximum((dst + dtype.type(0.5)) * _scale(n, out, scale, dtype) - dtype.type(0.5), 0)
    i0 = src.astype(np.int64)
    i1 = np.where(i0 < n - 1, i0 + 1, i0)
    w1 = (src - i0).astype(dtype)
    return i0, i1, (1 - w1).astype(dtype), w1


def _along(x, axis, fn):
    """Apply fn to the last axis of x viewed with ``axis`` moved there."""
    if axis == -1:
        return fn(x)
    return swapaxes(fn(swapaxes(x, axis, -1)), axis, -1)


def _gather_last(x, idx):
    n = x.shape[-1]
    k = len(idx) // n
    if k * n == len(idx) and np.array_equal(idx, np.repeat(np.arange(n), k)):
        # an integer upscale: broadcast and merge, whose gradient is a plain sum
        shape = tuple(x.shape)
        y = broadcast_to(expand_dims(x, -1), shape + (k,))
        return reshape(y, shape[:-1] + (n * k,))
    return getitem(x, (Ellipsis, idx))


def _lerp_last(x, n, weights):
    i0, i1, w0, w1 = weights
    if n <= _MATMUL_MAX:
        A = np.zeros((len(i0), n), w0.dtype)
        np.add.at(A, (np.arange(len(i0)), i0), w0)
        np.add.at(A, (np.arange(len(i0)), i1), w1)
        return matmul(x, A.T)
    return getitem(x, (Ellipsis, i0)) * w0 + getitem(x, (Ellipsis, i1)) * w1


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions of ``input`` to ``size`` or by ``scale_factor``.

    >>> qf.nn.functional.interpolate(qf.ones((1, 3, 4, 5)), scale_factor=(2, 1.5), mode="bilinear").shape
    (1, 3, 8, 7)
    """
    shape = tuple(input.shape)
    what = f"interpolate(mode={mode!r})"
    if len(shape) not in (3, 4, 5):
        raise QiflowError(f"{what}: expected a 3-D, 4-D or 5-D input (N, C, spatial...), got shape {shape}")
    linear = mode in ("linear", "bilinear", "trilinear")
    if mode not in ("nearest", "nearest-exact", "area") and not linear:
        raise QiflowError(f"{what}: supported modes are 'nearest', 'nearest-exact', 'linear', 'bilinear', "
                          f"'trilinear' and 'area' (qiflow has no bicubic yet)")
    if linear and _LINEAR[len(shape)] != mode:
        raise QiflowError(f"{what}: mode {mode!r} needs a {[k for k, v in _LINEAR.items() if v == mode][0]}-D "
                          f"input, got shape {shape}")
    if align_corners is not None and not linear:
        raise QiflowError(f"{what}: align_corners can only be set with the interpolating modes "
                          "linear, bilinear and trilinear")
    if antialias:
        raise QiflowError(f"{what}: antialias=True is not supported by qiflow")
    if mode == "area" and len(shape) == 5:
        raise QiflowError(f"{what}: area mode supports 3-D and 4-D input, got shape {shape}")
    sizes, scales = _output_sizes(what, shape, size, scale_factor, bool(recompute_scale_factor))
    if mode == "area":
        pool = adaptive_avg_pool1d if len(shape) == 3 else adaptive_avg_pool2d
        return pool(input, sizes)
    dtype = np.dtype(input.dtype) if np.dtype(input.dtype).kind == "f" else np.dtype(np.float32)
    x = input
    k = len(sizes)
    for i, (n, out, sc) in enumerate(zip(shape[2:], sizes, scales)):
        axis = i - k
        if linear:
            w = _linear_weights(n, out, sc, bool(align_corners), dtype)
            x = _along(x, axis, lambda t, n=n, w=w: _lerp_last(t, n, w))
        else:
            idx = _nearest_index(n, out, sc, mode == "nearest-exact", dtype)
            if idx is not None:
                x = _along(x, axis, lambda t, idx=idx: _gather_last(t, idx))
    return x
