"""``F.conv1d``, ``F.conv_transpose1d`` and ``F.conv_transpose2d`` on the 2-D conv primitives.

A 1-D convolution is a 2-D one over a height-1 image.  A transposed
convolution *is* the input gradient of a convolution, so ``conv_transpose2d``
runs ``Conv2dInputGrad`` (weight (C_in, C_out/groups, kh, kw) read as a conv
weight from C_out to C_in channels) and inherits its closed family of vjps:
gradients of every order.  ``output_padding`` rows are the bottom/right
padding the forward conv would have cropped, so they move into that
primitive's asymmetric padding; rows beyond the full result are zeros.

>>> x = qf.ones((1, 2, 3, 3)); w = qf.ones((2, 4, 3, 3))
>>> qf.nn.functional.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1).shape
(1, 4, 6, 6)
"""
import numpy as np

from .._state import QiflowError
from ..ops.base import apply
from ..ops.conv import Conv2dInputGrad, conv2d
from ..ops.movement import reshape, squeeze, expand_dims
from .padding import pad as _pad


def _ints(what, name, v, n):
    """An int or an n-tuple of ints -> n-tuple, or a clear error naming the op."""
    vals = (v,) * n if isinstance(v, (int, np.integer)) else v
    if not isinstance(vals, (tuple, list)) or len(vals) != n or \
            not all(isinstance(a, (int, np.integer)) for a in vals):
        raise QiflowError(f"{what}: {name} must be an int or a {n}-tuple of ints, got {v!r}")
    return tuple(int(a) for a in vals)


def _single(name, v, what="conv1d"):
    if isinstance(v, str):
        return v
    return _ints(what, name, v, 1)[0]


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation over (N, C, L) or unbatched (C, L) input, PyTorch's ``F.conv1d``.

    ``weight`` is (out_channels, in_channels/groups, k); ``padding`` an int,
    'valid' or 'same'.

    >>> qf.nn.functional.conv1d(qf.ones((2, 3, 10)), qf.ones((4, 3, 3)), padding=1).shape
    (2, 4, 10)
    """
    xs, ws = tuple(input.shape), tuple(weight.shape)
    if len(xs) not in (2, 3) or len(ws) != 3:
        raise QiflowError(f"conv1d: expected input (N, C, L) or (C, L) and weight (O, C/groups, k), "
                          f"got input {xs} and weight {ws}")
    batched = len(xs) == 3
    x = input if batched else expand_dims(input, 0)
    if isinstance(padding, str) and padding not in ("same", "valid"):
        raise QiflowError(f"conv1d: padding must be an int, 'valid' or 'same', got {padding!r}")
    p = padding if isinstance(padding, str) else (0, _single("padding", padding))
    y = conv2d(expand_dims(x, 2), expand_dims(weight, 2), bias, (1, _single("stride", stride)), p,
               (1, _single("dilation", dilation)), groups)
    y = squeeze(y, 2)
    return y if batched else squeeze(y, 0)


def _transposed_geometry(what, xs, ws, stride, padding, output_padding, groups, dilation):
    if len(xs) != 4 or len(ws) != 4:
        raise QiflowError(f"{what}: expected input (N, C_in, H, W) and weight (C_in, C_out/groups, kh, kw), "
                          f"got input {xs} and weight {ws}")
    s, p, op, d = (_ints(what, n, v, 2) for n, v in (("stride", stride), ("padding", padding),
                                                      ("output_padding", output_padding), ("dilation", dilation)))
    groups = int(groups)
    if min(s) < 1 or min(d) < 1 or min(p) < 0 or min(op) < 0 or groups < 1:
        raise QiflowError(f"{what}: stride {s}, dilation {d} and groups {groups} must be >= 1, padding {p} "
                          f"and output_padding {op} >= 0")
    for i in range(2):
        if op[i] >= s[i] and op[i] >= d[i]:
            raise QiflowError(f"{what}: output_padding {op} must be smaller than either stride {s} or "
                              f"dilation {d}")
    if xs[1] != ws[0]:
        raise QiflowError(f"{what}: input {xs} has {xs[1]} channels but weight {ws} expects {ws[0]}")
    if ws[0] % groups:
        raise QiflowError(f"{what}: weight {ws} has {ws[0]} input channels, not divisible by groups={groups}")
    full = [(xs[2 + i] - 1) * s[i] + d[i] * (ws[2 + i] - 1) + 1 for i in range(2)]
    out = [full[i] - 2 * p[i] + op[i] for i in range(2)]
    if min(out) < 1:
        raise QiflowError(f"{what}: input {xs} with weight {ws}, stride {s}, padding {p}, dilation {d} "
                          f"gives an empty output of size {tuple(out)}")
    return s, p, op, d, groups, out


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution ("deconvolution"), PyTorch's ``F.conv_transpose2d``.

    Output size per axis: (in - 1) * stride - 2 * padding + dilation * (k - 1)
    + output_padding + 1.  Input (N, C_in, H, W) or unbatched (C_in, H, W).

    >>> qf.nn.functional.conv_transpose2d(qf.ones((1, 1, 2, 2)), qf.ones((1, 1, 2, 2)), stride=2)[0, 0].tolist()
    [[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]]
    """
    xs, ws = tuple(input.shape), tuple(weight.shape)
    batched = len(xs) != 3
    x = input if batched else expand_dims(input, 0)
    xs = tuple(x.shape)
    s, p, op, d, groups, out = _transposed_geometry("conv_transpose2d", xs, ws, stride, padding,
                                                    output_padding, groups, dilation)
    # output_padding up to the padding: the crop of the full result ends later (asymmetric
    # padding of the primitive); beyond it the result has no taps, so zeros are appended
    bottom = [p[i] - min(op[i], p[i]) for i in range(2)]
    extra = [max(op[i] - p[i], 0) for i in range(2)]
    shape = (xs[0], ws[1] * groups, out[0] - extra[0], out[1] - extra[1])
    dtype = np.result_type(input.dtype, weight.dtype)
    like = np.broadcast_to(np.zeros((), dtype), shape)     # gives the primitive its output shape; no memory
    y = apply(Conv2dInputGrad(s, (p[0], bottom[0], p[1], bottom[1]), d, groups), x, weight, like)
    if extra[0] or extra[1]:
        y = _pad(y, (0, extra[1], 0, extra[0]))
    if bias is not None:
        if tuple(bias.shape) != (shape[1],):
            raise QiflowError(f"conv_transpose2d: bias must have shape ({shape[1]},), got {tuple(bias.shape)}")
        y = y + reshape(bias, (1, -1, 1, 1))
    return y if batched else squeeze(y, 0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-D transposed convolution over (N, C_in, L) or (C_in, L), PyTorch's ``F.conv_transpose1d``.

    >>> qf.nn.functional.conv_transpose1d(qf.ones((1, 2, 4)), qf.ones((2, 3, 3)), stride=2).shape
    (1, 3, 9)
    """
    xs, ws = tuple(input.shape), tuple(weight.shape)
    if len(xs) not in (2, 3) or len(ws) != 3:
        raise QiflowError(f"conv_transpose1d: expected input (N, C_in, L) or (C_in, L) and weight "
                          f"(C_in, C_out/groups, k), got input {xs} and weight {ws}")
    batched = len(xs) == 3
    x = input if batched else expand_dims(input, 0)
    one = [_ints("conv_transpose1d", n, v, 1)[0] for n, v in (("stride", stride), ("padding", padding),
                                                               ("output_padding", output_padding),
                                                               ("dilation", dilation))]
    y = conv_transpose2d(expand_dims(x, 2), expand_dims(weight, 2), bias, (1, one[0]), (0, one[1]), (0, one[2]),
                         groups, (1, one[3]))
    y = squeeze(y, 2)
    return y if batched else squeeze(y, 0)
