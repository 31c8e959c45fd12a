"""Clear errors for bad inputs, initialisation, dropout, clipping."""
import math

import numpy as np
import pytest

import qiflow as qf
from qiflow import nn
import qiflow.nn.functional as F


def test_linear_wrong_shape_names_layer_and_shapes():
    with pytest.raises(qf.QiflowError) as e:
        nn.Linear(3, 4)(qf.ones((2, 5)))
    msg = str(e.value)
    assert "Linear(in_features=3, out_features=4" in msg and "(2, 5)" in msg and "3" in msg
    with pytest.raises(qf.QiflowError, match=r"linear: input of shape \(2, 5\) does not match weight of shape \(4, 3\)"):
        F.linear(qf.ones((2, 5)), qf.ones((4, 3)))


def test_conv_and_pool_errors():
    with pytest.raises(qf.QiflowError, match=r"Conv2d\(3, 8.*expected input of shape \(N, 3, H, W\), got \(2, 4, 8, 8\)"):
        nn.Conv2d(3, 8, 3)(qf.ones((2, 4, 8, 8)))
    with pytest.raises(qf.QiflowError, match="too small for kernel"):
        F.conv2d(qf.ones((1, 1, 2, 2)), qf.ones((1, 1, 3, 3)))
    with pytest.raises(qf.QiflowError, match=r"input \(1, 4, 5, 5\) has 4 channels but weight \(2, 3, 3, 3\)"):
        F.conv2d(qf.ones((1, 4, 5, 5)), qf.ones((2, 3, 3, 3)))
    with pytest.raises(qf.QiflowError, match=r"MaxPool2d: expected input \(N, C, H, W\), got \(4, 4\)"):
        F.max_pool2d(qf.ones((4, 4)), 2)
    with pytest.raises(qf.QiflowError, match="padding"):
        F.max_pool2d(qf.ones((1, 1, 4, 4)), 2, padding=2)


def test_other_layer_errors():
    with pytest.raises(qf.QiflowError, match=r"BatchNorm2d\(3.*4-D input with 3 channels.*\(2, 4, 5, 5\)"):
        nn.BatchNorm2d(3)(qf.ones((2, 4, 5, 5)))
    with pytest.raises(qf.QiflowError, match="index 10 is out of range for 10 embeddings"):
        nn.Embedding(10, 3)(qf.tensor([1, 10]))
    with pytest.raises(qf.QiflowError, match=r"LSTM\(3, 4\): expected input of shape \(T, N, 3\)"):
        nn.LSTM(3, 4)(qf.ones((5, 2, 2)))
    with pytest.raises(qf.QiflowError, match=r"expected h_0 of shape \(1, 2, 4\), got \(1, 3, 4\)"):
        nn.RNN(3, 4)(qf.ones((5, 2, 3)), qf.zeros((1, 3, 4)))
    with pytest.raises(qf.QiflowError, match="out of range"):
        nn.CrossEntropyLoss()(qf.ones((2, 3)), qf.tensor([0, 3]))
    with pytest.raises(qf.QiflowError, match="reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(qf.QiflowError, match="Dropout: probability"):
        nn.Dropout(1.5)


def test_init_bounds_statistics_and_generator():
    w = nn.Parameter(qf.empty(200, 300))
    nn.init.xavier_uniform_(w, generator=qf.Generator(1))
    a = math.sqrt(6 / 500)
    assert np.abs(w.detach().numpy()).max() <= a and np.abs(w.detach().numpy()).max() > 0.95 * a
    first = w.detach().numpy().copy()
    nn.init.xavier_uniform_(w, generator=qf.Generator(1))
    np.testing.assert_array_equal(w.detach().numpy(), first)
    nn.init.xavier_normal_(w)
    assert abs(w.detach().numpy().std() - math.sqrt(2 / 500)) < 0.05 * math.sqrt(2 / 500)
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert abs(w.detach().numpy().std() - math.sqrt(2 / 300)) < 0.05 * math.sqrt(2 / 300)
    nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    assert np.abs(w.detach().numpy()).max() <= math.sqrt(6 / 200)
    nn.init.normal_(w, 2.0, 0.5)
    assert abs(w.detach().numpy().mean() - 2.0) < 0.01
    nn.init.uniform_(w, -3, -2)
    assert w.detach().numpy().min() >= -3 and w.detach().numpy().max() < -2
    nn.init.zeros_(w)
    assert not w.detach().numpy().any()
    nn.init.ones_(w)
    assert (w.detach().numpy() == 1).all()
    assert nn.init.glorot_uniform_ is nn.init.xavier_uniform_ and nn.init.he_normal is nn.init.kaiming_normal_
    assert w.dtype == np.float32


def test_init_gains_and_fans_match_torch():
    torch = pytest.importorskip("torch")
    for name, param in [("tanh", None), ("relu", None), ("leaky_relu", 0.2), ("sigmoid", None), ("selu", None)]:
        assert nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))
    t = torch.empty(6, 4, 3, 2)
    assert nn.init._calculate_fan_in_and_fan_out(qf.empty(6, 4, 3, 2)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(t)


def test_default_initialisation_ranges_like_pytorch():
    lin = nn.Linear(400, 30)
    bound = 1 / math.sqrt(400)
    assert np.abs(lin.weight.detach().numpy()).max() <= bound and np.abs(lin.weight.detach().numpy()).max() > 0.9 * bound
    assert np.abs(lin.bias.detach().numpy()).max() <= bound
    conv = nn.Conv2d(20, 50, 5)
    bound = 1 / math.sqrt(20 * 25)
    assert np.abs(conv.weight.detach().numpy()).max() <= bound and np.abs(conv.bias.detach().numpy()).max() <= bound
    qf.manual_seed(3)
    a = nn.Linear(5, 5).weight.detach().numpy().copy()
    qf.manual_seed(3)
    np.testing.assert_array_equal(nn.Linear(5, 5).weight.detach().numpy(), a)


def test_dropout_seeded_scaled_and_off_in_eval():
    x = qf.ones((200, 50))
    d = nn.Dropout(0.3, generator=qf.Generator(5))
    y1 = d(x).detach().numpy()
    assert set(np.unique(y1)) == {0.0, np.float32(1 / 0.7)}
    assert abs((y1 == 0).mean() - 0.3) < 0.02
    y2 = nn.Dropout(0.3, generator=qf.Generator(5))(x).detach().numpy()
    np.testing.assert_array_equal(y1, y2)
    xg = qf.ones((4, 4), requires_grad=True)
    out = nn.Dropout(0.5, generator=qf.Generator(0))(xg)
    out.sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), out.detach().numpy())   # gradient = mask / (1 - p)
    d.eval()
    assert d(x) is x
    assert y1.dtype == np.float32


def test_clip_grad_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    gs = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,)]]
    for norm_type in (2.0, 1.0, math.inf):
        qp = [nn.Parameter(qf.zeros(g.shape)) for g in gs]
        tp = [torch.zeros(g.shape, requires_grad=True) for g in gs]
        for q, t, g in zip(qp, tp, gs):
            q.grad, t.grad = qf.tensor(g), torch.tensor(g)
        qn = nn.utils.clip_grad_norm_(qp, 1.5, norm_type)
        tn = torch.nn.utils.clip_grad_norm_(tp, 1.5, norm_type)
        assert qn.item() == pytest.approx(tn.item(), rel=1e-5)
        for q, t in zip(qp, tp):
            np.testing.assert_allclose(q.grad.numpy(), t.grad.numpy(), rtol=1e-5)
    qp = [nn.Parameter(qf.zeros(g.shape)) for g in gs]
    for q, g in zip(qp, gs):
        q.grad = qf.tensor(g.copy())
    nn.clip_grad_value_(qp, 0.5)
    for q, g in zip(qp, gs):
        np.testing.assert_array_equal(q.grad.numpy(), np.clip(g, -0.5, 0.5))


def test_float32_end_to_end():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Tanh(), nn.Flatten(), nn.Linear(2 * 3 * 3, 3),
                        nn.BatchNorm1d(3), nn.Dropout(0.1))
    y = net(qf.randn(4, 1, 8, 8))
    assert y.dtype == np.float32
    nn.CrossEntropyLoss()(y, qf.tensor([0, 1, 2, 0])).backward()
    assert all(p.grad.dtype == np.float32 for p in net.parameters())


@pytest.mark.parametrize("layer", [nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, nn.LSTMCell, nn.GRUCell])
def test_recurrent_layers_refuse_another_dtype_as_pytorch_does(layer):
    m = layer(3, 4)
    x = np.ones((2, 1, 3) if "Cell" not in layer.__name__ else (1, 3))
    with pytest.raises(qf.QiflowError, match="int64.*float32"):
        m(qf.tensor(x.astype(np.int64)))
    with pytest.raises(qf.QiflowError, match="float64.*float32"):
        m(qf.tensor(x))                         # float64 input, float32 weights
    assert m(qf.tensor(x.astype(np.float32)))[0].dtype == np.float32
