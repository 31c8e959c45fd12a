"""Finite-difference checks (float64) of the conv/pool primitives and the recurrent layers."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import nn
import qiflow.nn.functional as F


def t64(*shape, seed=0):
    return qf.tensor(np.random.default_rng(seed).standard_normal(shape), dtype="float64", requires_grad=True)


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 1), (1, 2, 2, 2)])
def test_conv2d_first_and_second_order(stride, padding, dilation, groups):
    x, w, b = t64(2, 4, 6, 5), t64(4, 4 // groups, 3, 2, seed=1), t64(4, seed=2)

    def f(x, w, b):
        return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    assert qf.gradcheck(f, [x, w, b])
    assert qf.gradgradcheck(f, [x, w, b])


def test_conv_gradient_ops_are_differentiable_again():
    # third order through the closed family Conv2d / InputGrad / WeightGrad
    x, w = t64(1, 2, 5, 5), t64(3, 2, 3, 3, seed=1)

    def f(x, w):
        y = F.conv2d(x, w, padding=1)
        (gx,) = qf.grad((y * y).sum(), [x], create_graph=True)
        return gx
    assert qf.gradgradcheck(f, [x, w])


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_first_and_second_order(kind):
    x = t64(2, 2, 7, 6)

    def f(x):
        y = F.max_pool2d(x, 3, 2, 1) if kind == "max" else F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
        return y * y
    assert qf.gradcheck(f, [x])
    assert qf.gradgradcheck(f, [x])


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_recurrent_bptt_by_gradcheck(mode):
    m = getattr(nn, mode)(3, 4, num_layers=2, batch_first=True).double()
    x = t64(2, 5, 3)

    def run(x):
        out, h = m(x)
        # every output step, plus the final cell state of an LSTM
        return [out, h[1]] if mode == "LSTM" else [out, h]
    assert qf.gradcheck(run, [x])

    def with_weight(w_hh):
        saved = m._parameters["weight_hh_l0"]
        m._parameters["weight_hh_l0"] = w_hh   # the recurrent weight of the first layer, as an input
        try:
            return run(x)
        finally:
            m._parameters["weight_hh_l0"] = saved
    assert qf.gradcheck(with_weight, [qf.tensor(m.weight_hh_l0.detach().numpy().copy(), requires_grad=True)])


def test_lstm_grad_through_time_reaches_first_step():
    m = nn.LSTM(2, 3).double()
    x = t64(6, 1, 2)
    out, _ = m(x)
    out[-1].sum().backward()
    assert np.abs(x.grad.numpy()[0]).sum() > 0   # the gradient of the last output reaches step 0


def test_batch_norm_and_layer_norm_gradcheck():
    x = t64(5, 3, 2)
    w, b = t64(3, seed=1), t64(3, seed=2)
    rm, rv = np.zeros(3), np.ones(3)
    assert qf.gradcheck(lambda x, w, b: F.batch_norm(x, rm.copy(), rv.copy(), w, b, training=True), [x, w, b])
    lw, lb = t64(3, 2, seed=3), t64(3, 2, seed=4)
    assert qf.gradcheck(lambda x, w, b: F.layer_norm(x, (3, 2), w, b), [x, lw, lb])


def test_embedding_gradient_accumulates_repeats():
    w = t64(5, 2)
    idx = np.array([1, 1, 3])
    assert qf.gradcheck(lambda w: F.embedding(idx, w), [w])


def test_conv_im2col_memo_never_mixes_inputs():
    # two forwards on one array object whose content changed in between: the
    # weight gradient of the second must use the second content
    rng = np.random.default_rng(0)
    w = qf.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    xa, xb = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((2, 2, 6, 6))
    buf = xa.copy()
    F.conv2d(buf, w)
    buf[...] = xb
    F.conv2d(buf, w).sum().backward()
    ref = qf.tensor(w.detach().numpy().copy(), requires_grad=True)
    F.conv2d(qf.tensor(xb), ref).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), ref.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "tanh", "relu"])
def test_sequence_primitives_second_order(kind):
    from qiflow.ops.rnn import lstm_seq, rnn_seq
    G = 4 if kind == "lstm" else 1
    x, h0, c0 = t64(3, 2, 2), t64(2, 2, seed=1), t64(2, 2, seed=2)
    w_ih, w_hh, b = t64(G * 2, 2, seed=3), t64(G * 2, 2, seed=4), t64(G * 2, seed=5)
    if kind == "relu":
        x = qf.tensor(np.abs(x.detach().numpy()) + 0.5, requires_grad=True)   # keep away from the kink
        b = qf.tensor(np.abs(b.detach().numpy()), requires_grad=True)
    if kind == "lstm":
        args = [x, h0, c0, w_ih, w_hh, b]
        f = lstm_seq
    else:
        args = [x, h0, w_ih, w_hh, b]

        def f(*a):
            return rnn_seq(*a, nonlinearity=kind)
    assert qf.gradcheck(f, args)
    assert qf.gradgradcheck(f, args)
