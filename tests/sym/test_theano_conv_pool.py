"""Theano's T.nnet.conv2d and T.signal.pool.pool_2d (issue 13, part 3), checked
against direct NumPy loops written from Theano's documented definitions, and
by finite differences."""
import warnings

import numpy as np
import pytest

import qiflow as qf
from qiflow import sym as T
from qiflow import QiflowError
from qiflow.sym.signal.pool import pool_2d


def conv_ref(x, w, pad, stride, flip):
    """sum_c sum_ij x[n, c, s*p + i, s*q + j] * k[o, c, i, j], k flipped when flip."""
    if flip:
        w = w[:, :, ::-1, ::-1]
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    N, C, H, W = x.shape
    O, _, kh, kw = w.shape
    oh, ow = (H - kh) // stride[0] + 1, (W - kw) // stride[1] + 1
    out = np.zeros((N, O, oh, ow))
    for p in range(oh):
        for q in range(ow):
            patch = x[:, :, p * stride[0]:p * stride[0] + kh, q * stride[1]:q * stride[1] + kw]
            out[:, :, p, q] = np.einsum("ncij,ocij->no", patch, w)
    return out


def pool_ref(x, ws, stride, pad, mode, ignore_border):
    """Theano's pooling: windows start at multiples of the stride over the padded
    image; without ignore_border the partial windows at the end are kept."""
    H, W = x.shape[-2:]
    r, c = H + 2 * pad[0], W + 2 * pad[1]

    def n_out(n, k, s):
        if ignore_border:
            return (n - k) // s + 1
        return (n - 1) // s + 1 if s >= k else max(0, (n - 1 - k + s) // s) + 1
    oh, ow = n_out(r, ws[0], stride[0]), n_out(c, ws[1], stride[1])
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * stride[0], j * stride[1]
            r1, c1 = min(r0 + ws[0], r), min(c0 + ws[1], c)
            # the part of the window inside the real image, in image coordinates
            a0, a1 = max(r0 - pad[0], 0), min(r1 - pad[0], H)
            b0, b1 = max(c0 - pad[1], 0), min(c1 - pad[1], W)
            win = x[..., a0:a1, b0:b1]
            if mode == "max":
                out[..., i, j] = win.max(axis=(-2, -1))
            elif mode == "sum":
                out[..., i, j] = win.sum(axis=(-2, -1))
            elif mode == "average_inc_pad":
                out[..., i, j] = win.sum(axis=(-2, -1)) / ((r1 - r0) * (c1 - c0))
            else:
                out[..., i, j] = win.sum(axis=(-2, -1)) / ((a1 - a0) * (b1 - b0))
    return out


@pytest.mark.parametrize("border_mode,pad", [("valid", (0, 0)), ("full", (2, 1)), ("half", (1, 1)),
                                             (1, (1, 1)), ((2, 0), (2, 0))])
@pytest.mark.parametrize("flip", [True, False])
def test_conv2d_matches_the_definition(border_mode, pad, flip):
    rng = np.random.default_rng(0)
    xv, wv = rng.normal(size=(2, 3, 6, 5)), rng.normal(size=(4, 3, 3, 2))
    x = T.dtensor4("x")
    w = T.shared(wv)
    for stride in ((1, 1), (2, 1)):
        y = T.nnet.conv2d(x, w, filter_shape=(4, 3, 3, 2), border_mode=border_mode,
                          subsample=stride, filter_flip=flip)
        np.testing.assert_allclose(T.function([x], y)(xv), conv_ref(xv, wv, pad, stride, flip),
                                   rtol=1e-10, atol=1e-12)


def test_conv2d_gradients_by_finite_differences():
    rng = np.random.default_rng(1)
    xv, wv = rng.normal(size=(1, 2, 4, 4)), rng.normal(size=(2, 2, 2, 3))
    x, w = T.dtensor4("x"), T.dtensor4("w")
    c = rng.normal(size=(1, 2, 5, 6))
    cost = (T.nnet.conv2d(x, w, border_mode="full", filter_shape=(2, 2, 2, 3)) * c).sum()
    gx, gw = T.function([x, w], T.grad(cost, [x, w]))(xv, wv)
    f = T.function([x, w], cost)
    eps = 1e-6
    for arr, g, call in ((xv, gx, lambda a: f(a, wv)), (wv, gw, lambda a: f(xv, a))):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            p, m = arr.copy(), arr.copy()
            p[i] += eps
            m[i] -= eps
            num[i] = (call(p) - call(m)) / (2 * eps)
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


def test_conv2d_with_an_unknown_filter_shape():
    x = T.dtensor4("x")
    w = T.dtensor4("w")                      # nothing known about the filters
    y = T.nnet.conv2d(x, w)
    assert y.ndim == 4 and y.type.shape == (None, None, None, None)
    v = qf.nn.functional.conv2d(x, w)       # qiflow's own conv2d infers too
    assert v.ndim == 4
    rng = np.random.default_rng(2)
    xv, wv = rng.normal(size=(1, 1, 5, 5)), rng.normal(size=(2, 1, 3, 3))
    np.testing.assert_allclose(T.function([x, w], y)(xv, wv), conv_ref(xv, wv, (0, 0), (1, 1), True))
    with pytest.raises(QiflowError, match="needs the filter size"):
        T.nnet.conv2d(x, w, border_mode="full")
    with pytest.raises(QiflowError, match="does not match"):
        T.nnet.conv2d(T.tensor("t", "float64", shape=(1, 1, 5, 5)), w, input_shape=(1, 2, 5, 5))
    with pytest.raises(ValueError, match="border_mode must be"):
        T.nnet.conv2d(x, w, border_mode="same")
    with pytest.raises(QiflowError, match="4-D"):
        T.nnet.conv2d(T.dmatrix(), w)


@pytest.mark.parametrize("mode", ["max", "sum", "average_inc_pad", "average_exc_pad"])
@pytest.mark.parametrize("ws,stride,pad,ib", [((2, 2), None, (0, 0), True), ((2, 2), None, (0, 0), False),
                                              ((3, 2), (2, 1), (0, 0), False), ((3, 3), (1, 2), (1, 1), True),
                                              ((2, 3), (3, 3), (0, 0), False)])
def test_pool_2d_matches_the_definition(mode, ws, stride, pad, ib):
    xv = np.random.default_rng(3).normal(size=(2, 3, 7, 5))
    x = T.dtensor4("x")
    y = pool_2d(x, ws=ws, ignore_border=ib, stride=stride, pad=pad, mode=mode)
    ref = pool_ref(xv, ws, stride or ws, pad, mode, ib)
    np.testing.assert_allclose(T.function([x], y)(xv), ref, rtol=1e-12)


def test_pool_2d_other_ndims_old_names_gradient_and_errors():
    xv = np.random.default_rng(4).normal(size=(3, 6, 4))
    x3 = T.dtensor3("x3")
    out = T.function([x3], pool_2d(x3, ds=(2, 2), st=(2, 1), ignore_border=True))(xv)
    np.testing.assert_allclose(out, pool_ref(xv, (2, 2), (2, 1), (0, 0), "max", True))
    x = T.dtensor4("x")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        y = pool_2d(x, (2, 2))
    assert any("ignore_border" in str(r.message) for r in rec)
    v = np.random.default_rng(5).normal(size=(1, 1, 5, 5))
    np.testing.assert_allclose(T.function([x], y)(v), pool_ref(v, (2, 2), (2, 2), (0, 0), "max", False))
    c = np.random.default_rng(6).normal(size=(1, 1, 3, 3))
    cost = (pool_2d(x, (2, 2), ignore_border=False, mode="average_exc_pad") * c).sum()
    g = T.function([x], T.grad(cost, x))(v)
    f = T.function([x], cost)
    num = np.zeros_like(v)
    for i in np.ndindex(v.shape):
        p, m = v.copy(), v.copy()
        p[i] += 1e-6
        m[i] -= 1e-6
        num[i] = (f(p) - f(m)) / 2e-6
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)
    with pytest.raises(QiflowError, match="ignore_border=True"):
        pool_2d(x, (2, 2), ignore_border=False, pad=(1, 1))
    with pytest.raises(ValueError, match="mode must be"):
        pool_2d(x, (2, 2), ignore_border=True, mode="min")
    assert T.signal.pool.pool_2d is pool_2d
