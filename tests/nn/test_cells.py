"""RNNCell, LSTMCell and GRUCell against PyTorch from the same weights, and by finite differences."""
import math

import numpy as np
import pytest

import qiflow as qf
from qiflow import nn

from ._torchref import compare, copy_weights, rand, t64

torch = pytest.importorskip("torch")

CELLS = [("RNNCell", {}), ("RNNCell", dict(nonlinearity="relu")), ("LSTMCell", {}), ("GRUCell", {}),
         ("GRUCell", dict(bias=False)), ("LSTMCell", dict(bias=False))]


def _pick(name, which):
    return (lambda o: o[which]) if name == "LSTMCell" else (lambda o: o)


@pytest.mark.parametrize("name,kw", CELLS)
def test_cell_matches_pytorch(name, kw):
    tm, qm = getattr(torch.nn, name)(3, 5, **kw), getattr(nn, name)(3, 5, **kw)
    copy_weights(qm, tm)
    x = rand(4, 3)
    if name == "LSTMCell":
        h, c = rand(4, 5, seed=1), rand(4, 5, seed=2)
        for which in (0, 1):
            qm.zero_grad(), tm.zero_grad()
            compare(lambda x, h, c, m=qm: m(x, (h, c)), lambda x, h, c, m=tm: m(x, (h, c)), x, h, c,
                    qm=qm, tm=tm, pick=_pick(name, which))
        compare(qm, tm, x, pick=_pick(name, 1))           # hx=None: zeros
    else:
        compare(qm, tm, x, rand(4, 5, seed=1), qm=qm, tm=tm)
        compare(qm, tm, x)
    compare(qm, tm, rand(3), pick=_pick(name, 0))         # unbatched


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_names_shapes_and_init(name):
    qm, tm = getattr(nn, name)(7, 9), getattr(torch.nn, name)(7, 9)
    assert [(n, tuple(p.shape)) for n, p in qm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    bound = 1 / math.sqrt(9)
    for p in qm.parameters():
        assert np.abs(p.detach().numpy()).max() <= bound and p.detach().numpy().std() > 0.4 * bound


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_gradcheck(name):
    m = getattr(nn, name)(2, 3).double()
    x, h, c = t64(2, 2), t64(2, 3, seed=1), t64(2, 3, seed=2)
    if name == "LSTMCell":
        assert qf.gradcheck(lambda x, h, c: list(m(x, (h, c))), [x, h, c])
    else:
        assert qf.gradcheck(lambda x, h: m(x, h), [x, h])


def test_gru_cell_steps_equal_the_gru_layer():
    layer, cell = nn.GRU(3, 4), nn.GRUCell(3, 4)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = qf.tensor(rand(6, 2, 3))
    out, _ = layer(x)
    h = None
    for t in range(6):
        h = cell(x[t], h)
        np.testing.assert_allclose(h.detach().numpy(), out[t].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_cell_errors():
    with pytest.raises(qf.QiflowError, match=r"LSTMCell\(3, 5\): expected input of shape \(N, 3\) or \(3,\), got \(2, 4\)"):
        nn.LSTMCell(3, 5)(qf.ones((2, 4)))
    with pytest.raises(qf.QiflowError, match=r"GRUCell\(3, 5\): expected h of shape \(2, 5\) .* got \(2, 4\)"):
        nn.GRUCell(3, 5)(qf.ones((2, 3)), qf.ones((2, 4)))
    with pytest.raises(qf.QiflowError, match=r"LSTMCell\(3, 5\): hx must be a tuple \(h, c\)"):
        nn.LSTMCell(3, 5)(qf.ones((2, 3)), qf.ones((2, 5)))
    with pytest.raises(qf.QiflowError, match="RNNCell: nonlinearity must be 'tanh' or 'relu'"):
        nn.RNNCell(3, 5, nonlinearity="gelu")
