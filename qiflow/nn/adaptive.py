"""Adaptive pooling: ``F.adaptive_avg_pool1d/2d`` and ``F.adaptive_max_pool1d/2d``.

Output cell i along an axis of size n pools input positions
[floor(i * n / out), ceil((i + 1) * n / out)), PyTorch's rule, so windows may
differ in size and overlap.  Both poolings are separable: the mean (or max)
over a rectangle is the mean (max) over its rows of the mean (max) over its
columns.  Sizes that divide evenly use the plain pooling primitives; other
sizes average with a small (out, n) weight matrix and take maxima by
gathering each window, so the gradients come from existing ops.  The max
gradient goes to the first maximum of each window in raster order, as in
PyTorch.

>>> x = qf.arange(10.0).reshape(1, 1, 2, 5)
>>> qf.nn.functional.adaptive_avg_pool2d(x, (1, 3)).tolist()
[[[[3.0, 4.5, 6.0]]]]
>>> qf.nn.functional.adaptive_max_pool2d(x, (1, 2)).tolist()
[[[[7.0, 9.0]]]]
"""
import numpy as np

from .._state import QiflowError
from ..ops import reduce as R
from ..ops.indexing import getitem, take_along_axis
from ..ops.linalg import matmul
from ..ops.movement import swapaxes, expand_dims, squeeze
from ..ops.pool import avg_pool2d, max_pool2d


def _windows(n, out):
    """(start, end) of each of the ``out`` windows over ``n`` positions."""
    i = np.arange(out)
    return (i * n) // out, -((-(i + 1) * n) // out)


def _sizes(what, output_size, spatial):
    k = len(spatial)
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * k
    if not isinstance(output_size, (tuple, list)) or len(output_size) != k or \
            not all(o is None or isinstance(o, (int, np.integer)) for o in output_size):
        raise QiflowError(f"{what}: output_size must be an int or a {k}-tuple of ints (or None), got "
                          f"{output_size!r}")
    out = tuple(n if o is None else int(o) for o, n in zip(output_size, spatial))
    if min(out) < 1 or min(spatial) < 1:
        raise QiflowError(f"{what}: output_size {out} and the input's spatial size {spatial} must be >= 1")
    return out


def _batched(what, x, k):
    shape = tuple(x.shape)
    if len(shape) not in (k + 1, k + 2):
        dims = "(N, C, L) or (C, L)" if k == 1 else "(N, C, H, W) or (C, H, W)"
        raise QiflowError(f"{what}: expected input {dims}, got shape {shape}")
    return len(shape) == k + 2


def _avg_last(x, n, out):
    """Adaptive mean over the last axis, as x @ P.T with P (out, n) of window weights."""
    start, end = _windows(n, out)
    pos = np.arange(n)
    P = ((pos >= start[:, None]) & (pos < end[:, None])) / (end - start)[:, None]
    return matmul(x, P.T.astype(x.dtype))


def adaptive_avg_pool2d(input, output_size):
    """Mean over adaptive windows of (N, C, H, W) or (C, H, W) input; None keeps a size.

    >>> qf.nn.functional.adaptive_avg_pool2d(qf.ones((2, 3, 7, 5)), 1).shape
    (2, 3, 1, 1)
    """
    batched = _batched("adaptive_avg_pool2d", input, 2)
    x = input if batched else expand_dims(input, 0)
    H, W = tuple(x.shape)[2:]
    oh, ow = _sizes("adaptive_avg_pool2d", output_size, (H, W))
    if H % oh == 0 and W % ow == 0:
        y = avg_pool2d(x, (H // oh, W // ow))
    else:
        y = swapaxes(_avg_last(swapaxes(_avg_last(x, W, ow), 2, 3), H, oh), 2, 3)
    return y if batched else squeeze(y, 0)


def adaptive_avg_pool1d(input, output_size):
    """Mean over adaptive windows of (N, C, L) or (C, L) input.

    >>> qf.nn.functional.adaptive_avg_pool1d(qf.arange(5.0).reshape(1, 5), 2).tolist()
    [[1.0, 3.0]]
    """
    _batched("adaptive_avg_pool1d", input, 1)
    (out,) = _sizes("adaptive_avg_pool1d", output_size, tuple(input.shape)[-1:])
    return squeeze(adaptive_avg_pool2d(expand_dims(input, -2), (1, out)), -2)


def _max_last(x, n, out):
    """Adaptive max over the last axis: gather each window (short ones padded with their
    own last position, which cannot change the max) and keep the first maximum.
    Returns (values, the (..., out, 1) argmax within each window, the (out, K) windows)."""
    start, end = _windows(n, out)
    K = int((end - start).max())
    idx = np.minimum(start[:, None] + np.arange(K), (end - 1)[:, None])       # (out, K)
    win = getitem(x, (Ellipsis, idx))                                         # (..., out, K)
    first = R.argmax(win, -1, keepdims=True)         # the first maximum, like PyTorch's scan
    return squeeze(take_along_axis(win, first, -1), -1), first, idx


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over adaptive windows of (N, C, H, W) or (C, H, W) input.

    With ``return_indices`` also returns each maximum's flat position h * W + w
    in its input plane (int64), as PyTorch does.

    >>> qf.nn.functional.adaptive_max_pool2d(qf.ones((1, 2, 5, 7)), (2, 3)).shape
    (1, 2, 2, 3)
    """
    batched = _batched("adaptive_max_pool2d", input, 2)
    x = input if batched else expand_dims(input, 0)
    H, W = tuple(x.shape)[2:]
    oh, ow = _sizes("adaptive_max_pool2d", output_size, (H, W))
    if H % oh == 0 and W % ow == 0 and not return_indices:
        y = max_pool2d(x, (H // oh, W // ow))
        return y if batched else squeeze(y, 0)
    cols, c_first, c_idx = _max_last(x, W, ow)                           # (N, C, H, ow)
    rows, r_first, r_idx = _max_last(swapaxes(cols, 2, 3), H, oh)        # (N, C, ow, oh)
    y = swapaxes(rows, 2, 3)
    if not batched:
        y = squeeze(y, 0)
    if not return_indices:
        return y
    # the input row of each maximum, then its column within that row
    r_first, c_first = _array(r_first)[..., 0], _array(c_first)[..., 0]   # (N, C, ow, oh), (N, C, H, ow)
    h = np.swapaxes(np.take_along_axis(np.broadcast_to(r_idx, r_first.shape + r_idx.shape[1:]),
                                       r_first[..., None], -1)[..., 0], 2, 3)                # (N, C, oh, ow)
    w_local = np.take_along_axis(c_first, h, 2)
    w = c_idx[np.arange(ow), w_local]
    flat = (h * W + w).astype(np.int64)
    from ..tensor import Tensor
    return y, Tensor(flat if batched else flat[0])


def _array(t):
    if isinstance(t, np.ndarray):
        return t
    if not hasattr(t, "numpy"):
        raise QiflowError("adaptive_max_pool: return_indices needs concrete (eager) inputs")
    return t.detach().numpy()


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over adaptive windows of (N, C, L) or (C, L) input.

    >>> qf.nn.functional.adaptive_max_pool1d(qf.tensor([[1.0, 5.0, 2.0, 0.0, 3.0]]), 2).tolist()
    [[5.0, 3.0]]
    """
    _batched("adaptive_max_pool1d", input, 1)
    (out,) = _sizes("adaptive_max_pool1d", output_size, tuple(input.shape)[-1:])
    r = adaptive_max_pool2d(expand_dims(input, -2), (1, out), return_indices)
    if return_indices:
        return squeeze(r[0], -2), r[1].reshape(tuple(r[1].shape)[:-2] + (out,))
    return squeeze(r, -2)
