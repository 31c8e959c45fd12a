"""2-D convolution as one strided im2col view and one GEMM, and its gradients.

Three primitives close under differentiation, so gradients of any order work:

* ``Conv2d(x, w[, b])``             y = conv(x, w) + b
* ``Conv2dInputGrad(g, w, x)``      dL/dx  (the transposed convolution; x gives the shape)
* ``Conv2dWeightGrad(x, g, w)``     dL/dw  (w gives the shape)

Each is bilinear, so each one's vjp is written with the other two.  Inside,
the im2col matrix has the layout (C*kh*kw, OH*OW*N): the GEMM then yields the
output as (O, OH, OW, N), returned as a transposed view in NCHW order.
Elementwise ops and pooling keep that memory order, so the next convolution
and the backward GEMMs read their operands without copies.

>>> x = qf.ones((1, 1, 4, 4)); w = qf.ones((2, 1, 3, 3))
>>> qf.nn.functional.conv2d(x, w, padding=1)[0, 0].tolist()[0]
[4.0, 6.0, 6.0, 4.0]
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from .base import Op, apply, static_shape
from .reduce import sum as _sum
from .shapes import known
from .._state import QiflowError


_BLOCK_BYTES = 8 << 20      # the column block of the input gradient (see _input_grad)


def held(hold, shape, dtype, like=None, zero=False):
    """A new array of ``shape`` and ``dtype`` (stored in ``like``'s memory order when
    given), or, with ``hold`` (a one-item list the compiled mode keeps per node), the
    one kept there from the previous call when it has the same shape, dtype and
    order: a fresh array of several MB costs its page faults on every call.
    ``zero``: filled with zeros."""
    order = None
    if like is not None and not like.flags.c_contiguous:
        order = tuple(sorted(range(like.ndim), key=lambda i: -abs(like.strides[i])))
    key = (tuple(shape), np.dtype(dtype), order)
    if hold is not None and hold[0] is not None and hold[0][0] == key:
        a = hold[0][1]
        if zero:
            a.fill(0)
        return a
    make = np.zeros if zero else np.empty
    if order is None:
        a = make(shape, dtype)
    else:
        a = make([shape[i] for i in order], dtype).transpose(np.argsort(order))
    if hold is not None:
        hold[0] = (key, a)
    return a


def _pair(name, v):
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise QiflowError(f"conv2d: {name} must be an int or a pair, got {v}")
    return v


def conv_params(kernel, stride, padding, dilation):
    """Normalise stride/padding/dilation; padding -> (top, bottom, left, right).

    ``padding`` may be an int, a pair, 'valid', or 'same' (stride 1 only; the
    extra pixel of an even kernel goes to the bottom/right, as in PyTorch).
    """
    stride, dilation = _pair("stride", stride), _pair("dilation", dilation)
    if min(stride) < 1 or min(dilation) < 1:
        raise QiflowError(f"conv2d: stride {stride} and dilation {dilation} must be >= 1")
    if isinstance(padding, str):
        if padding == "valid":
            pad = (0, 0, 0, 0)
        elif padding == "same":
            if not all(known(k) for k in kernel):
                raise QiflowError("conv2d: padding='same' needs the kernel size, and the weight's "
                                  "shape is unknown (give the weight a static shape)")
            if stride != (1, 1):
                raise QiflowError("conv2d: padding='same' needs stride 1")
            th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
            pad = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        else:
            raise QiflowError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    elif isinstance(padding, (tuple, list)) and len(padding) == 4:
        pad = tuple(int(p) for p in padding)
    else:
        ph, pw = _pair("padding", padding)
        pad = (ph, ph, pw, pw)
    if min(pad) < 0:
        raise QiflowError(f"conv2d: padding {padding} must be >= 0")
    return stride, pad, dilation


def out_size(size, k, s, p0, p1, d):
    if not known(size) or not known(k):
        return None
    return (size + p0 + p1 - d * (k - 1) - 1) // s + 1


class _ConvBase(Op):
    __slots__ = ("stride", "padding", "dilation", "groups")
    props = ("stride", "padding", "dilation", "groups")
    view_map = {}

    def __init__(self, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def _check(self, xshape, wshape, what="conv2d"):
        if len(xshape) != 4 or len(wshape) != 4:
            raise QiflowError(f"{what}: expected input (N, C, H, W) and weight (O, C/groups, kh, kw), "
                              f"got input {tuple(xshape)} and weight {tuple(wshape)}")
        g = self.groups
        C, O = xshape[1], wshape[0]
        if known(C) and known(wshape[1]) and C != wshape[1] * g:
            raise QiflowError(f"{what}: input {tuple(xshape)} has {C} channels but weight "
                              f"{tuple(wshape)} expects {wshape[1] * g} (groups={g})")
        if known(O) and O % g:
            raise QiflowError(f"{what}: {O} output channels are not divisible by groups={g}")
        oh = out_size(xshape[2], wshape[2], self.stride[0], self.padding[0], self.padding[1], self.dilation[0])
        ow = out_size(xshape[3], wshape[3], self.stride[1], self.padding[2], self.padding[3], self.dilation[1])
        if (oh is not None and oh < 1) or (ow is not None and ow < 1):
            raise QiflowError(f"{what}: input {tuple(xshape)} is too small for kernel "
                              f"{tuple(wshape[2:])} with padding {self.padding} and dilation {self.dilation}")
        return oh, ow

    # ---------------------------------------------------------------- kernels
    # Internally images are stored batch-innermost, (C, H, W, N): every strided
    # slice then has long contiguous rows of N values, which makes the im2col
    # copy and the col2im adds several times faster than in NCHW order.
    def _cols(self, x, kh, kw, hold=None, ones=False):
        """im2col of x: (C*kh*kw, OH*OW*N), plus (OH, OW).

        ``hold``: memory kept from one call to the next (see ``held``; the compiled
        mode's, for a matrix that never leaves the function).  ``ones`` (with
        ``hold``): one more row of ones, so that one GEMM adds the bias in the forward
        and sums the bias gradient in the backward (see ``forward_and_save``)."""
        N, C, H, W = x.shape
        pt, pb, pl, pr = self.padding
        if pt or pb or pl or pr:
            xp = np.zeros((C, H + pt + pb, W + pl + pr, N), x.dtype)
            xp[:, pt:pt + H, pl:pl + W] = x.transpose(1, 2, 3, 0)
        elif x.strides[0] == min(x.strides) or N == 1:
            xp = x.transpose(1, 2, 3, 0)          # already batch-innermost: no copy
        else:
            xp = np.ascontiguousarray(x.transpose(1, 2, 3, 0))
        (sh, sw), (dh, dw) = self.stride, self.dilation
        oh = (xp.shape[1] - dh * (kh - 1) - 1) // sh + 1
        ow = (xp.shape[2] - dw * (kw - 1) - 1) // sw + 1
        sC, sH, sW, sN = xp.strides
        view = as_strided(xp, (C, kh, kw, oh, ow, N), (sC, sH * dh, sW * dw, sH * sh, sW * sw, sN),
                          writeable=False)
        if hold is None or (not ones and kh * kw == 1 and (sh, sw) == (1, 1) and xp.flags.c_contiguous):
            return view.reshape(C * kh * kw, oh * ow * N), oh, ow     # (a view: 1x1 kernels)
        K = C * kh * kw
        cols = held(hold, (K + bool(ones), oh * ow * N), x.dtype)
        np.copyto(cols[:K].reshape(view.shape), view)
        if ones:
            cols[K] = 1
        return cols, oh, ow

    def _gemm(self, w2, cols):
        """w2 (O, K) @ cols (K, M), group by group."""
        g = self.groups
        if g == 1:
            return w2 @ cols
        return np.matmul(w2.reshape(g, w2.shape[0] // g, -1), cols.reshape(g, cols.shape[0] // g, -1)).reshape(
            w2.shape[0], -1)

    def _input_grad(self, g, w, xshape, scratch=None, out=None):
        """dL/dx; ``scratch`` and ``out`` as ``held``'s ``hold``, for the column block
        and for the result (the compiled mode passes ``out`` only where the result
        never leaves the function)."""
        N, C, H, W = xshape
        O, _, kh, kw = w.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        pt, pb, pl, pr = self.padding
        oh, ow = g.shape[2], g.shape[3]
        g4 = g.transpose(1, 2, 3, 0)                      # (O, OH, OW, N): free for conv2d's layout
        gr = self.groups
        if gr == 1:
            wt = w.reshape(O, -1).T
        else:
            wt = w.reshape(gr, O // gr, -1).transpose(0, 2, 1)
        dx = held(out, (C, H + pt + pb, W + pl + pr, N), np.result_type(g, w), zero=True)
        wspan = sw * (ow - 1) + 1
        # The columns (C*kh*kw, rows*OW*N) of a few output rows at a time, each scattered
        # at once: a block stays in cache between the GEMM that writes it and the kh*kw
        # strided slice adds that read it (the whole matrix is as big as the im2col one:
        # 64 MB for LeNet's second layer at batch 500, 40 -> 30 ms).
        rows = max(1, min(oh, _BLOCK_BYTES // max(1, C * kh * kw * ow * N * dx.itemsize)))
        block = held(scratch, (C * kh * kw * rows * ow * N,), dx.dtype)
        for i0 in range(0, oh, rows):
            i1 = min(oh, i0 + rows)
            gi = g4[:, i0:i1]
            m = (i1 - i0) * ow * N
            if gr == 1:
                dcols = np.matmul(wt, gi.reshape(O, m), out=block[:C * kh * kw * m].reshape(-1, m))
            else:
                dcols = np.matmul(wt, gi.reshape(gr, O // gr, m),
                                  out=block[:C * kh * kw * m].reshape(gr, -1, m))
            dcols = dcols.reshape(C, kh, kw, i1 - i0, ow, N)
            hspan = sh * (i1 - i0 - 1) + 1
            # kh*kw strided slice adds: a loop over kernel taps, never over pixels
            for p in range(kh):
                r0 = i0 * sh + p * dh
                for q in range(kw):
                    dx[:, r0:r0 + hspan:sh, q * dw:q * dw + wspan:sw] += dcols[:, p, q]
        return dx[:, pt:pt + H, pl:pl + W].transpose(3, 0, 1, 2)

    def _weight_grad(self, x, g, wshape, cols=None, bias=False):
        O, Cg, kh, kw = wshape
        if cols is None:
            cols = self._cols(x, kh, kw)[0]
        g2 = g.transpose(1, 2, 3, 0).reshape(O, -1)
        gr = self.groups
        K = Cg * kh * kw
        if cols.shape[0] == K + 1:        # a row of ones (groups == 1): [dw | db] in one GEMM
            dwb = g2 @ cols.T
            dw = np.ascontiguousarray(dwb[:, :K]).reshape(wshape)
            return (dw, dwb[:, K].copy()) if bias else dw
        if gr == 1:
            dw = g2 @ cols.T
        else:
            dw = np.matmul(g2.reshape(gr, O // gr, -1), cols.reshape(gr, Cg * kh * kw, -1).transpose(0, 2, 1))
        if bias:
            return dw.reshape(wshape), np.add.reduce(g2, axis=1)
        return dw.reshape(wshape)


class Conv2d(_ConvBase):
    """y = conv(x, w) (+ b): cross-correlation as in PyTorch.  The im2col matrix
    of x is saved for the weight gradient."""
    __slots__ = ()
    saves = True

    def infer(self, x, w, b=None):
        oh, ow = self._check(x.shape, w.shape)
        if b is not None and len(b.shape) != 1:
            raise QiflowError(f"conv2d: bias must be 1-D (out_channels,), got {tuple(b.shape)}")
        return (x.shape[0], w.shape[0], oh, ow), np.result_type(x.dtype, w.dtype)

    def forward(self, x, w, b=None):
        return self.forward_and_save(x, w, b)[0]

    def forward_and_save(self, x, w, b=None, hold=None, ones=False):
        """(y, the im2col matrix of x); ``hold`` and ``ones`` (groups 1 only) as in
        ``_cols``: with ``ones`` the bias is a last column of the weight matrix, which
        saves a pass over y (and the weight gradient then sums the bias gradient)."""
        self._check(x.shape, w.shape)
        N = x.shape[0]
        O, _, kh, kw = w.shape
        ones = ones and hold is not None and self.groups == 1
        cols, oh, ow = self._cols(x, kh, kw, hold, ones)
        K = cols.shape[0] - ones
        if ones and b is not None:
            wb = np.empty((O, K + 1), np.result_type(x.dtype, w.dtype))
            wb[:, :K] = w.reshape(O, K)
            wb[:, K] = b
            return (wb @ cols).reshape(O, oh, ow, N).transpose(3, 0, 1, 2), cols
        y = self._gemm(w.reshape(O, -1), cols[:K] if ones else cols)
        if b is not None:
            y += b.reshape(O, 1).astype(y.dtype, copy=False)
        return y.reshape(O, oh, ow, N).transpose(3, 0, 1, 2), cols

    def vjp(self, ctx, inputs, output, g):
        x, w = inputs[0], inputs[1]
        need = ctx.needs_input_grad
        p = self.stride, self.padding, self.dilation, self.groups
        gx = apply(Conv2dInputGrad(*p), g, w, x) if need[0] else None
        saved = () if ctx.saved is None else (ctx.saved,)
        gw = apply(Conv2dWeightGrad(*p), x, g, w, *saved) if need[1] else None
        if len(inputs) == 2:
            return gx, gw
        gb = _sum(g, (0, 2, 3)) if need[2] else None
        return gx, gw, gb


class Conv2dInputGrad(_ConvBase):
    """The gradient of conv2d with respect to its input (x is used for its shape only)."""
    __slots__ = ()

    def infer(self, g, w, x):
        return x.shape, np.result_type(g.dtype, w.dtype)

    def forward(self, g, w, x, scratch=None, out=None):
        return self._input_grad(g, w, x.shape, scratch, out)

    def vjp(self, ctx, inputs, output, c):
        g, w, x = inputs
        need = ctx.needs_input_grad
        p = self.stride, self.padding, self.dilation, self.groups
        gg = apply(Conv2d(*p), c, w) if need[0] else None
        gw = apply(Conv2dWeightGrad(*p), c, g, w) if need[1] else None
        return gg, gw, None


class Conv2dWeightGrad(_ConvBase):
    """The gradient of conv2d with respect to its weight (w is used for its shape
    only; a fourth input, when given, is x's im2col matrix saved by the forward)."""
    __slots__ = ()

    def infer(self, x, g, w, *cols):
        return w.shape, np.result_type(x.dtype, g.dtype)

    def forward(self, x, g, w, cols=None, bias=False):
        """dL/dw; with ``bias`` and a ``cols`` matrix ending in a row of ones (see
        ``Conv2d.forward_and_save``): (dL/dw, dL/db)."""
        return self._weight_grad(x, g, w.shape, cols, bias)

    def vjp(self, ctx, inputs, output, c):
        x, g, w = inputs[:3]
        need = ctx.needs_input_grad
        p = self.stride, self.padding, self.dilation, self.groups
        gx = apply(Conv2dInputGrad(*p), g, c, x) if need[0] else None
        gg = apply(Conv2d(*p), x, c) if need[1] else None
        return (gx, gg) + (None,) * (len(inputs) - 2)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation over NCHW input, PyTorch's ``F.conv2d``.

    ``weight`` is (out_channels, in_channels/groups, kh, kw); ``padding`` an
    int, a pair, 'valid' or 'same'.

    >>> qf.nn.functional.conv2d(qf.ones((2, 3, 8, 8)), qf.ones((4, 3, 3, 3)), stride=2).shape
    (2, 4, 3, 3)
    """
    wshape = static_shape(weight)      # may hold None: a symbolic weight of unknown shape
    kshape = tuple(wshape[2:]) if len(wshape) == 4 else (1, 1)
    s, p, d = conv_params(kshape, stride, padding, dilation)
    groups = int(groups)
    if groups < 1:
        raise QiflowError(f"conv2d: groups must be >= 1, got {groups}")
    op = Conv2d(s, p, d, groups)
    if bias is None:
        return apply(op, x, weight)
    return apply(op, x, weight, bias)
