"""Compiled convolution and pooling steps equal the eager ones call after call: the
memory the compiled kernels keep across calls (im2col matrices, outputs) never
carries a stale value into a result."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import nn

R = np.random.RandomState(7)


def _lenet_like(pool):
    qf.manual_seed(1)
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), pool(2), nn.Tanh(),
                         nn.Conv2d(4, 3, 1), nn.ReLU(), nn.Conv2d(3, 5, 2, stride=2), nn.Tanh(),
                         nn.Flatten(), nn.Linear(5 * 2 * 2, 3)).double()


@pytest.mark.parametrize("pool", [nn.MaxPool2d, nn.AvgPool2d])
def test_compiled_training_steps_equal_eager_ones(pool):
    eager, comp = _lenet_like(pool), _lenet_like(pool)
    loss_fn = nn.CrossEntropyLoss()
    opt_e = qf.optim.SGD(eager.parameters(), lr=0.1)
    opt_c = qf.optim.SGD(comp.parameters(), lr=0.1)

    def make(model, opt):
        def step(x, y):
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        return step
    f = qf.compile(make(comp, opt_c), strict=True)
    g = make(eager, opt_e)
    kept = []
    for _ in range(4):
        x = qf.tensor(R.uniform(-1, 1, (6, 2, 8, 8)))
        y = qf.tensor(R.randint(0, 3, 6))
        want, got = g(x, y), f(x, y)
        kept.append((got, float(want)))
        np.testing.assert_allclose(float(got), float(want), rtol=1e-12)
        for pe, pc in zip(eager.parameters(), comp.parameters()):
            np.testing.assert_allclose(pc.detach().numpy(), pe.detach().numpy(), rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(pc.grad.detach().numpy(), pe.grad.detach().numpy(),
                                       rtol=1e-10, atol=1e-12)
    for got, want in kept:                  # results handed out earlier were not overwritten
        assert float(got) == pytest.approx(want, rel=1e-12)


def test_compiled_inference_conv_returns_fresh_outputs():
    """A convolution whose output leaves the function: each call's output is its own."""
    qf.manual_seed(2)
    conv = nn.Conv2d(2, 3, 3).double()
    f = qf.compile(lambda x: conv(x), strict=True)
    xs = [qf.tensor(R.uniform(-1, 1, (2, 2, 5, 5))) for _ in range(3)]
    outs = [f(x) for x in xs]
    with qf.no_grad():
        for x, o in zip(xs, outs):
            np.testing.assert_allclose(o.numpy(), conv(x).numpy(), rtol=1e-12)


@pytest.mark.parametrize("first", ["conv", "pool"])
def test_compiled_input_gradients_handed_out_stay_their_own(first):
    """The input's gradient (a conv2d input gradient or a max-pool gradient) leaves the
    function: the compiled kernels must not put it in memory they reuse next call."""
    qf.manual_seed(3)
    conv = nn.Conv2d(2, 3, 3, padding=1).double()
    layers = [conv, nn.MaxPool2d(2)] if first == "conv" else [nn.MaxPool2d(2), conv]
    model = nn.Sequential(*layers, nn.Tanh())

    def step(x):
        loss = (model(x) ** 2).sum()
        loss.backward()
        return loss
    f = qf.compile(step, strict=True)
    got, want = [], []
    for _ in range(3):
        x = qf.tensor(R.uniform(-1, 1, (3, 2, 6, 6)), requires_grad=True)
        f(x)
        got.append(x.grad)
        x2 = qf.tensor(x.detach().numpy(), requires_grad=True)
        step(x2)
        want.append(x2.grad.numpy().copy())
    for g, w in zip(got, want):
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("cin", [1, 9])        # 9 * 3 * 3 = 81 rows: no row of ones
def test_bias_folded_into_the_gemms_equals_eager(bias, cin):
    """A short im2col matrix gets a row of ones: the bias rides in the forward GEMM and
    its gradient in the weight gradient's GEMM; values equal the eager ones."""
    qf.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(cin, 4, 3, bias=bias), nn.MaxPool2d(2), nn.Tanh()).double()

    def step(x):
        loss = (model(x) ** 2).sum()
        loss.backward()
        return loss
    x = qf.tensor(R.uniform(-1, 1, (3, cin, 8, 8)))
    want = step(x)
    eager = [p.grad.numpy().copy() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    f = qf.compile(step, strict=True)
    got = f(x)
    np.testing.assert_allclose(float(got), float(want), rtol=1e-12)
    for p, g in zip(model.parameters(), eager):
        assert p.grad.numpy().flags.c_contiguous
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-10, atol=1e-12)
    (entry,) = f.cache.values()
    assert ("_db0" in entry.fn.source) == (bias and cin == 1)
