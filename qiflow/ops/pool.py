"""2-D max and average pooling through strided views, and their gradients.

A pooling window is never materialised: the kh*kw window taps are strided
slices of the (padded) input, combined with one ufunc call each, so the loops
run over kernel taps, never over pixels.  Max pooling routes the gradient to
the first maximum of each window (PyTorch's choice); the routing is
recomputed in the backward from the input and the pooled output.

Primitives (each pair is closed under vjp, so higher orders work):

* ``MaxPool2d(x)``, ``MaxPool2dGrad(x, y, g)`` (scatter g to the argmax) and
  ``MaxPool2dSelect(x, y, c)`` (gather c at the argmax), its adjoint;
* ``AvgPool2d(x)`` and ``AvgPool2dGrad(g, x)``, its adjoint.

>>> x = qf.arange(16.0).reshape(1, 1, 4, 4)
>>> qf.nn.functional.max_pool2d(x, 2)[0, 0].tolist()
[[5.0, 7.0], [13.0, 15.0]]
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from .base import Op, apply
from .conv import _pair, held
from .._state import QiflowError


class _Pool(Op):
    __slots__ = ("kernel", "stride", "padding", "dilation", "ceil_mode")
    props = ("kernel", "stride", "padding", "dilation", "ceil_mode")
    view_map = {}

    def __init__(self, kernel, stride, padding, dilation=(1, 1), ceil_mode=False):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.dilation, self.ceil_mode = dilation, ceil_mode

    def _out(self, H, W, what):
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel, self.stride, self.padding, self.dilation
        oh, ow = self._size(H, kh, sh, ph, dh), self._size(W, kw, sw, pw, dw)
        if (oh is not None and oh < 1) or (ow is not None and ow < 1):
            raise QiflowError(f"{what}: input of spatial size {(H, W)} is too small for kernel "
                              f"{self.kernel} with padding {self.padding} and dilation {self.dilation}")
        return oh, ow

    def _size(self, n, k, s, p, d):
        if n is None:
            return None
        span = n + 2 * p - d * (k - 1) - 1
        if not self.ceil_mode:
            return span // s + 1
        o = -(-span // s) + 1
        if (o - 1) * s >= n + p:   # the last window must start inside the input or left padding
            o -= 1
        return o

    def infer(self, x, *rest):
        if len(x.shape) != 4:
            raise QiflowError(f"{self.name}: expected input (N, C, H, W), got {tuple(x.shape)}")
        oh, ow = self._out(x.shape[2], x.shape[3], self.name)
        return (x.shape[0], x.shape[1], oh, ow), x.dtype

    def _geometry(self, shape):
        if len(shape) != 4:
            raise QiflowError(f"{self.name}: expected input (N, C, H, W), got {tuple(shape)}")
        N, C, H, W = shape
        oh, ow = self._out(H, W, self.name)
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel, self.stride, self.padding, self.dilation
        # rows/cols past the input: padding plus whatever ceil_mode's last window needs
        extra_h = max(0, (oh - 1) * sh + dh * (kh - 1) + 1 - H - ph)
        extra_w = max(0, (ow - 1) * sw + dw * (kw - 1) + 1 - W - pw)
        return oh, ow, extra_h, extra_w

    def _taps(self, xp, oh, ow):
        """(t, strided slice index) for each kernel tap of a padded array."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        hs, ws = sh * (oh - 1) + 1, sw * (ow - 1) + 1
        for p in range(kh):
            for q in range(kw):
                yield (slice(None), slice(None), slice(p * dh, p * dh + hs, sh),
                       slice(q * dw, q * dw + ws, sw))

    def _pad(self, x, fill, extra_h, extra_w):
        ph, pw = self.padding
        if not (ph or pw or extra_h or extra_w):
            return x
        N, C, H, W = x.shape
        xp = _empty_like_layout(x, (N, C, H + ph + extra_h, W + pw + extra_w))
        xp.fill(fill)
        xp[:, :, ph:ph + H, pw:pw + W] = x
        return xp

    def _tiles(self, shape):
        """Whether the windows tile the input exactly (stride = kernel, no padding or
        dilation, sizes multiples of the kernel): then each pixel is in one window."""
        (kh, kw), (sh, sw) = self.kernel, self.stride
        return ((sh, sw) == (kh, kw) and self.dilation == (1, 1) and self.padding == (0, 0)
                and shape[2] % kh == 0 and shape[3] % kw == 0)

    def _crop(self, dxp, shape):
        ph, pw = self.padding
        return dxp[:, :, ph:ph + shape[2], pw:pw + shape[3]]


def _empty_like_layout(x, shape, zero=False, dtype=None):
    """A new array of ``shape`` whose axes are stored in the same order as x's
    (conv2d returns batch-innermost views; keeping that order keeps the next
    ops copy-free)."""
    make = np.zeros if zero else np.empty
    dtype = x.dtype if dtype is None else dtype
    if x.flags.c_contiguous:
        return make(shape, dtype)
    order = sorted(range(x.ndim), key=lambda i: -abs(x.strides[i]))
    buf = make([shape[i] for i in order], dtype)
    return buf.transpose(np.argsort(order))


def _windows(a, kh, kw):
    """An exactly tiled (N, C, H, W) array as (N, C, OH, kh, OW, kw): a view in any layout."""
    N, C, H, W = a.shape
    sN, sC, sH, sW = a.strides
    return as_strided(a, (N, C, H // kh, kh, W // kw, kw), (sN, sC, sH * kh, sH, sW * kw, sW),
                      writeable=a.flags.writeable)


def _first_max_masks(op, x, y):
    """Yield (tap slice, bool mask of the windows whose first maximum is at this tap).

    The mask array is reused from one tap to the next: use it before asking
    for the next one.  All buffers share y's memory order, so every ufunc
    below streams through memory.
    """
    oh, ow, eh, ew = op._geometry(x.shape)
    xp = op._pad(x, -np.inf, eh, ew)
    left = _empty_like_layout(y, y.shape, dtype=bool)    # windows whose maximum is not found yet
    left.fill(True)
    hit = _empty_like_layout(y, y.shape, dtype=bool)
    for idx in op._taps(xp, oh, ow):
        np.equal(xp[idx], y, out=hit)
        np.logical_and(hit, left, out=hit)
        np.logical_xor(left, hit, out=left)
        yield idx, hit


class MaxPool2d(_Pool):
    __slots__ = ()

    def forward(self, x):
        oh, ow, eh, ew = self._geometry(x.shape)
        if self._tiles(x.shape) and x.size:
            # one reduction over the window axes of a view: 7.0 -> 3.1 ms for LeNet's first
            # pooling (20x24x24 at batch 500), in the input's memory order
            out = _empty_like_layout(x, (x.shape[0], x.shape[1], oh, ow))
            return np.maximum.reduce(_windows(x, *self.kernel), axis=(3, 5), out=out)
        xp = self._pad(x, -np.inf, eh, ew)
        out = None
        for idx in self._taps(xp, oh, ow):
            out = xp[idx].copy(order="K") if out is None else np.maximum(out, xp[idx], out=out)
        return out

    def vjp(self, ctx, inputs, output, g):
        x = inputs[0]
        return (apply(MaxPool2dGrad(*self._args()), x, output, g),)

    def _args(self):
        return self.kernel, self.stride, self.padding, self.dilation, self.ceil_mode


class MaxPool2dGrad(_Pool):
    """g (pooled shape) routed to the first maximum of each window of x."""
    __slots__ = ()

    def infer(self, x, y, g):
        return x.shape, g.dtype

    def forward(self, x, y, g, scratch=None, out=None):
        """``scratch`` and ``out``: memory kept across calls (see ``conv.held``) for the
        masks and for the result of the tiled path."""
        oh, ow, eh, ew = self._geometry(x.shape)
        if self._tiles(x.shape) and x.size:
            return self._tiled(x, y, g, scratch, out)
        ph, pw = self.padding
        shape = (x.shape[0], x.shape[1], x.shape[2] + ph + eh, x.shape[3] + pw + ew)
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        tiled = (sh, sw) == (kh * dh, kw * dw) == (kh, kw) and shape[2] == oh * kh and shape[3] == ow * kw
        dxp = _empty_like_layout(x, shape, zero=not tiled)
        dxp = dxp.astype(g.dtype, copy=False)
        for idx, hit in _first_max_masks(self, x, y):
            if tiled:   # windows tile the input exactly: every pixel is written once
                np.multiply(g, hit, out=dxp[idx])
            else:
                dxp[idx] += g * hit
        return self._crop(dxp, x.shape)

    def _tiled(self, x, y, g, scratch=None, out=None):
        """Windows that tile x: one comparison and one product over the whole input (as
        window views), the first maximum picked on the boolean masks in between."""
        kh, kw = self.kernel
        hit = held(scratch, x.shape, bool, like=x)
        h6 = _windows(hit, kh, kw)
        np.equal(_windows(x, kh, kw), y[:, :, :, None, :, None], out=h6)
        if kh * kw > 1:
            left = _empty_like_layout(y, y.shape, dtype=bool)   # windows without their maximum yet
            np.logical_not(h6[:, :, :, 0, :, 0], out=left)
            for t in range(1, kh * kw):
                h = h6[:, :, :, t // kw, :, t % kw]
                np.logical_and(h, left, out=h)
                if t < kh * kw - 1:
                    np.logical_xor(left, h, out=left)
        dx = held(out, x.shape, g.dtype, like=x)
        np.multiply(g[:, :, :, None, :, None], h6, out=_windows(dx, kh, kw))
        return dx

    def vjp(self, ctx, inputs, output, c):
        x, y, g = inputs
        return None, None, apply(MaxPool2dSelect(*_args(self)), x, y, c)


class MaxPool2dSelect(_Pool):
    """c (input shape) gathered at the first maximum of each window of x."""
    __slots__ = ()

    def infer(self, x, y, c):
        return y.shape, c.dtype

    def forward(self, x, y, c):
        oh, ow, eh, ew = self._geometry(x.shape)
        cp = self._pad(c, 0, eh, ew)
        out = np.zeros(y.shape, np.result_type(c.dtype, y.dtype))
        for idx, hit in _first_max_masks(self, x, y):
            out += np.where(hit, cp[idx], 0)
        return out

    def vjp(self, ctx, inputs, output, gg):
        x, y, c = inputs
        return None, None, apply(MaxPool2dGrad(*_args(self)), x, y, gg)


def _args(op):
    return op.kernel, op.stride, op.padding, op.dilation, op.ceil_mode


class _AvgBase(_Pool):
    __slots__ = ("count_include_pad", "divisor_override")
    props = _Pool.props + ("count_include_pad", "divisor_override")

    def __init__(self, kernel, stride, padding, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel, stride, padding, (1, 1), ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def _divisor(self, shape, oh, ow, eh, ew, dtype):
        if self.divisor_override:
            return self.divisor_override
        ph, pw = self.padding
        if not (eh or ew) and (self.count_include_pad or not (ph or pw)):
            return self.kernel[0] * self.kernel[1]
        H, W = shape[2], shape[3]
        # count, per window, the cells that PyTorch counts: input (+ padding) cells
        m = np.zeros((1, 1, H + ph + eh, W + pw + ew), dtype)
        if self.count_include_pad:
            m[:, :, :H + 2 * ph, :W + 2 * pw] = 1
        else:
            m[:, :, ph:ph + H, pw:pw + W] = 1
        return sum(m[idx] for idx in self._taps(m, oh, ow))

    def _avg_args(self):
        return (self.kernel, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                self.divisor_override)


class AvgPool2d(_AvgBase):
    __slots__ = ()

    def forward(self, x):
        oh, ow, eh, ew = self._geometry(x.shape)
        xp = self._pad(x, 0, eh, ew)
        out = None
        for idx in self._taps(xp, oh, ow):
            out = xp[idx].copy(order="K") if out is None else np.add(out, xp[idx], out=out)
        out /= np.asarray(self._divisor(x.shape, oh, ow, eh, ew, x.dtype), x.dtype)
        return out

    def vjp(self, ctx, inputs, output, g):
        return (apply(AvgPool2dGrad(*self._avg_args()), g, inputs[0]),)


class AvgPool2dGrad(_AvgBase):
    """The adjoint of avg_pool2d: g spread evenly over each window (x gives the shape)."""
    __slots__ = ()

    def infer(self, g, x):
        return x.shape, g.dtype

    def forward(self, g, x):
        oh, ow, eh, ew = self._geometry(x.shape)
        ph, pw = self.padding
        shape = (x.shape[0], x.shape[1], x.shape[2] + ph + eh, x.shape[3] + pw + ew)
        dxp = _empty_like_layout(g, shape, zero=True)
        gd = g / np.asarray(self._divisor(x.shape, oh, ow, eh, ew, g.dtype), g.dtype)
        for idx in self._taps(dxp, oh, ow):
            dxp[idx] += gd
        return self._crop(dxp, x.shape)

    def vjp(self, ctx, inputs, output, c):
        return apply(AvgPool2d(*self._avg_args()), c), None


def _pool_params(what, kernel_size, stride, padding, dilation=1):
    k = _pair("kernel_size", kernel_size)
    s = k if stride is None else _pair("stride", stride)
    p, d = _pair("padding", padding), _pair("dilation", dilation)
    if min(k) < 1 or min(s) < 1 or min(d) < 1:
        raise QiflowError(f"{what}: kernel_size {k}, stride {s} and dilation {d} must be >= 1")
    if p[0] > k[0] // 2 or p[1] > k[1] // 2 or min(p) < 0:
        raise QiflowError(f"{what}: padding {p} must be between 0 and half the kernel size {k}")
    return k, s, p, d


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over kh*kw windows of NCHW input (stride defaults to the kernel size).

    >>> qf.nn.functional.max_pool2d(qf.ones((1, 3, 8, 8)), 2).shape
    (1, 3, 4, 4)
    """
    k, s, p, d = _pool_params("max_pool2d", kernel_size, stride, padding, dilation)
    return apply(MaxPool2d(k, s, p, d, bool(ceil_mode)), x)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over kh*kw windows of NCHW input, with PyTorch's padding and divisor rules.

    >>> qf.nn.functional.avg_pool2d(qf.ones((1, 1, 4, 4)), 2)[0, 0].tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    k, s, p, _ = _pool_params("avg_pool2d", kernel_size, stride, padding)
    return apply(AvgPool2d(k, s, p, bool(ceil_mode), bool(count_include_pad),
                           None if divisor_override is None else int(divisor_override)), x)
