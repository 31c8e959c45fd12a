"""Layers against PyTorch with the same weights: forward values and gradients."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import nn

torch = pytest.importorskip("torch")


def copy_weights(qm, tm):
    """Load torch's weights into the qiflow module (through load_state_dict, from NumPy)."""
    qm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})


def compare(qm, tm, *inputs, rtol=1e-4, atol=1e-5, grad_inputs=True, out_index=None):
    """Run both modules on the same inputs; compare outputs, input and parameter gradients."""
    qx = [qf.tensor(x, requires_grad=grad_inputs and x.dtype.kind == "f") for x in inputs]
    tx = [torch.tensor(x, requires_grad=grad_inputs and x.dtype.kind == "f") for x in inputs]
    qy, ty = qm(*qx), tm(*tx)
    if out_index is not None:
        qy, ty = _pick(qy, out_index), _pick(ty, out_index)
    np.testing.assert_allclose(qy.detach().numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(1).standard_normal(ty.shape).astype(ty.detach().numpy().dtype)
    qy.backward(qf.tensor(g))
    ty.backward(torch.tensor(g))
    for a, b in zip(qx, tx):
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)
    tgrads = dict(tm.named_parameters())
    for name, p in qm.named_parameters():
        tg = tgrads[name].grad
        assert (p.grad is None) == (tg is None), name
        if tg is not None:
            np.testing.assert_allclose(p.grad.numpy(), tg.detach().numpy(), rtol=rtol, atol=atol, err_msg=name)
    return qy, ty


def _pick(out, index):
    for i in index:
        out = out[i]
    return out


def rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_linear_and_flatten():
    tm = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5))
    qm = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    copy_weights(qm, tm)
    compare(qm, tm, rand(4, 3, 4))
    tm, qm = torch.nn.Linear(6, 3, bias=False), nn.Linear(6, 3, bias=False)
    copy_weights(qm, tm)
    compare(qm, tm, rand(2, 5, 6))     # leading batch axes


@pytest.mark.parametrize("batch, wide, bias, dtype", [
    (4, 300, True, np.float32), (4, 300, False, np.float64), (16, 64, True, np.float64),
    (60, 100, True, np.float32), (1, 80, True, np.float32)])
def test_linear_short_batch_wide_layer_equals_pytorch_and_stays_row_major(batch, wide, bias, dtype):
    """Few rows and many outputs (4 * batch <= wide) take the (w @ x.T).T product; the
    result is still row-major like PyTorch's, with the bias added."""
    tm = torch.nn.Linear(30, wide, bias=bias).to(torch.float64 if dtype == np.float64 else torch.float32)
    qm = nn.Linear(30, wide, bias=bias).to(qf.float64 if dtype == np.float64 else qf.float32)
    copy_weights(qm, tm)
    qy, _ = compare(qm, tm, rand(batch, 30, seed=3, dtype=dtype),
                    rtol=1e-10 if dtype == np.float64 else 1e-4)
    assert qy.is_contiguous() and qy.detach().numpy().flags.c_contiguous
    assert qy.dtype == (qf.float64 if dtype == np.float64 else qf.float32)


@pytest.mark.parametrize("cfg", [
    dict(k=3, stride=1, padding=0, dilation=1, groups=1),
    dict(k=3, stride=2, padding=1, dilation=1, groups=1),
    dict(k=(3, 2), stride=(2, 1), padding=(2, 1), dilation=(2, 1), groups=1),
    dict(k=3, stride=1, padding=1, dilation=1, groups=2),
    dict(k=3, stride=1, padding="same", dilation=2, groups=1),
    dict(k=1, stride=3, padding=0, dilation=1, groups=4),
])
def test_conv2d(cfg):
    tm = torch.nn.Conv2d(4, 6 if cfg["groups"] != 4 else 8, cfg["k"], cfg["stride"], cfg["padding"],
                         cfg["dilation"], cfg["groups"])
    qm = nn.Conv2d(4, tm.out_channels, cfg["k"], cfg["stride"], cfg["padding"], cfg["dilation"], cfg["groups"])
    copy_weights(qm, tm)
    compare(qm, tm, rand(2, 4, 9, 8))


@pytest.mark.parametrize("cfg", [dict(k=2, s=None, p=0, d=1, c=False), dict(k=3, s=2, p=1, d=1, c=True),
                                 dict(k=3, s=1, p=1, d=2, c=False), dict(k=(2, 3), s=(1, 2), p=(1, 1), d=1, c=True)])
def test_max_pool(cfg):
    tm = torch.nn.MaxPool2d(cfg["k"], cfg["s"], cfg["p"], cfg["d"], ceil_mode=cfg["c"])
    qm = nn.MaxPool2d(cfg["k"], cfg["s"], cfg["p"], cfg["d"], ceil_mode=cfg["c"])
    compare(qm, tm, rand(2, 3, 9, 7))


def test_max_pool_ties_follow_first_maximum():
    x = np.zeros((1, 1, 4, 4), np.float32)   # after a ReLU, ties are everywhere
    x[0, 0, 1, 1] = x[0, 0, 1, 0] = 1.0
    compare(nn.MaxPool2d(2), torch.nn.MaxPool2d(2), x)


@pytest.mark.parametrize("cfg", [dict(k=2, s=None, p=0, c=False, inc=True), dict(k=3, s=2, p=1, c=True, inc=True),
                                 dict(k=3, s=2, p=1, c=True, inc=False), dict(k=(3, 2), s=1, p=(1, 0), c=False, inc=False)])
def test_avg_pool(cfg):
    tm = torch.nn.AvgPool2d(cfg["k"], cfg["s"], cfg["p"], cfg["c"], cfg["inc"])
    qm = nn.AvgPool2d(cfg["k"], cfg["s"], cfg["p"], cfg["c"], cfg["inc"])
    compare(qm, tm, rand(2, 3, 9, 7))


def test_lenet_block_end_to_end():
    def build(m):
        return m.Sequential(m.Conv2d(1, 4, 5), m.MaxPool2d(2), m.Tanh(), m.Conv2d(4, 6, 5), m.MaxPool2d(2),
                            m.Tanh(), m.Flatten(), m.Linear(6 * 4 * 4, 10), m.LogSoftmax(dim=1))
    tm, qm = build(torch.nn), build(nn)
    copy_weights(qm, tm)
    compare(qm, tm, rand(3, 1, 28, 28))


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (8, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (4, 3, 5, 2))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_training_running_stats_and_eval(cls, shape, momentum):
    tm = getattr(torch.nn, cls)(3, momentum=momentum)
    qm = getattr(nn, cls)(3, momentum=momentum)
    with torch.no_grad():
        tm.weight.uniform_(0.5, 1.5)
        tm.bias.uniform_(-0.5, 0.5)
    copy_weights(qm, tm)
    for step in range(3):
        compare(qm, tm, rand(*shape, seed=step) * 2 + 1)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(qm, name).detach().numpy(), getattr(tm, name).detach().numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    tm.eval(), qm.eval()
    compare(qm, tm, rand(*shape, seed=9))


def test_batch_norm_without_running_stats_uses_batch_in_eval():
    tm, qm = torch.nn.BatchNorm2d(3, track_running_stats=False), nn.BatchNorm2d(3, track_running_stats=False)
    copy_weights(qm, tm)
    tm.eval(), qm.eval()
    compare(qm, tm, rand(4, 3, 2, 2))


def test_layer_norm():
    tm, qm = torch.nn.LayerNorm((3, 4)), nn.LayerNorm((3, 4))
    with torch.no_grad():
        tm.weight.normal_()
        tm.bias.normal_()
    copy_weights(qm, tm)
    compare(qm, tm, rand(2, 5, 3, 4) * 3)


def test_embedding_with_padding_idx():
    tm, qm = torch.nn.Embedding(7, 3, padding_idx=2), nn.Embedding(7, 3, padding_idx=2)
    copy_weights(qm, tm)
    idx = np.array([[0, 2, 2], [6, 1, 0]])
    compare(qm, tm, idx, grad_inputs=False)
    assert (qm.weight.detach().numpy()[2] == 0).all()


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("batch_first,bidirectional,layers", [(False, False, 1), (True, False, 2), (False, True, 2)])
def test_recurrent_layers(mode, batch_first, bidirectional, layers):
    kw = dict(num_layers=layers, batch_first=batch_first, bidirectional=bidirectional)
    tm, qm = getattr(torch.nn, mode)(3, 4, **kw), getattr(nn, mode)(3, 4, **kw)
    assert [n for n, _ in qm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    copy_weights(qm, tm)
    x = rand(2, 5, 3) if batch_first else rand(5, 2, 3)
    compare(qm, tm, x, out_index=(0,))
    # the final hidden state, and an explicit initial state
    dirs = 2 if bidirectional else 1
    h0 = rand(layers * dirs, 2, 4, seed=3)
    if mode == "LSTM":
        c0 = rand(layers * dirs, 2, 4, seed=4)
        tm_, qm_ = (lambda x, h, c: tm(x, (h, c))), (lambda x, h, c: qm(x, (h, c)))
        qy = qm_(qf.tensor(x), qf.tensor(h0), qf.tensor(c0))
        ty = tm_(torch.tensor(x), torch.tensor(h0), torch.tensor(c0))
        np.testing.assert_allclose(qy[1][1].detach().numpy(), ty[1][1].detach().numpy(), rtol=1e-4, atol=1e-5)
    else:
        qy, ty = qm(qf.tensor(x), qf.tensor(h0)), tm(torch.tensor(x), torch.tensor(h0))
        np.testing.assert_allclose(qy[1].detach().numpy(), ty[1].detach().numpy(), rtol=1e-4, atol=1e-5)


def test_lstm_unbatched_input():
    tm, qm = torch.nn.LSTM(3, 2), nn.LSTM(3, 2)
    copy_weights(qm, tm)
    x = rand(4, 3)
    qy, (qh, qc) = qm(qf.tensor(x))
    ty, (th, tc) = tm(torch.tensor(x))
    assert qy.shape == tuple(ty.shape) and qh.shape == tuple(th.shape)
    np.testing.assert_allclose(qy.detach().numpy(), ty.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,args", [("ReLU", ()), ("LeakyReLU", (0.2,)), ("Sigmoid", ()), ("Tanh", ()),
                                       ("GELU", ()), ("ELU", ()), ("Softplus", ()), ("SiLU", ()),
                                       ("Softmax", (1,)), ("LogSoftmax", (1,))])
def test_activations(name, args):
    compare(getattr(nn, name)(*args), getattr(torch.nn, name)(*args), rand(4, 5) * 3)


def test_logistic_is_sigmoid():
    assert nn.Logistic is nn.Sigmoid


def _loss_inputs(name, rng):
    if name in ("CrossEntropyLoss", "NLLLoss"):
        x = rng.standard_normal((6, 4)).astype(np.float32) * 3
        if name == "NLLLoss":
            x = x - np.log(np.exp(x).sum(1, keepdims=True))
        return x, rng.integers(0, 4, 6)
    if name == "BCELoss":
        return rng.uniform(0.05, 0.95, (6, 3)).astype(np.float32), rng.integers(0, 2, (6, 3)).astype(np.float32)
    x = rng.standard_normal((6, 3)).astype(np.float32) * 3
    if name == "BCEWithLogitsLoss":
        return x, rng.integers(0, 2, (6, 3)).astype(np.float32)
    return x, rng.standard_normal((6, 3)).astype(np.float32)


@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses(name, reduction):
    x, t = _loss_inputs(name, np.random.default_rng(0))
    qx, tx = qf.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ql = getattr(nn, name)(reduction=reduction)(qx, qf.tensor(t))
    tl = getattr(torch.nn, name)(reduction=reduction)(tx, torch.tensor(t))
    np.testing.assert_allclose(ql.detach().numpy(), tl.detach().numpy(), rtol=1e-5, atol=1e-6)
    ql.sum().backward()
    tl.sum().backward()
    np.testing.assert_allclose(qx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_cross_entropy_label_smoothing_and_weights():
    x, t = _loss_inputs("CrossEntropyLoss", np.random.default_rng(2))
    w = np.array([1.0, 2.0, 0.5, 1.5], np.float32)
    qx, tx = qf.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ql = nn.CrossEntropyLoss(weight=qf.tensor(w), label_smoothing=0.1)(qx, qf.tensor(t))
    tl = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1)(tx, torch.tensor(t))
    np.testing.assert_allclose(ql.item(), tl.item(), rtol=1e-5)
    ql.backward(), tl.backward()
    np.testing.assert_allclose(qx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_functional_reexports_match_modules():
    F = nn.functional
    x = qf.tensor(rand(3, 4))
    np.testing.assert_allclose(F.log_softmax(x, axis=1).detach().numpy(), nn.LogSoftmax(1)(x).detach().numpy())
    for name in ("cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits", "conv2d", "max_pool2d", "avg_pool2d", "linear",
                 "dropout", "batch_norm", "layer_norm", "embedding", "relu", "gelu", "softplus"):
        assert callable(getattr(F, name)), name
