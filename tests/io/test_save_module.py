"""qf.save / qf.load of whole modules (``torch.save(model, f)``), without pickle, with
PyTorch's ``weights_only`` allowlist (``qf.serialization.safe_globals``)."""
import io

import numpy as np
import pytest

import qiflow as qf
from qiflow import nn


class TinyLM(nn.Module):
    """A user's model: embedding, LSTM, decoder tied to the embedding, plain attributes."""

    def __init__(self, ntoken=7, ninp=4):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, ninp, 2)
        self.decoder = nn.Linear(ninp, ntoken)
        self.decoder.weight = self.encoder.weight          # tied
        self.register_buffer("scale", qf.tensor([2.0]))
        self.register_buffer("tmp", qf.zeros(1), persistent=False)
        self.rnn_type, self.sizes, self.ntoken = "LSTM", (ntoken, ninp), ntoken

    def forward(self, x):
        out, _ = self.rnn(self.encoder(x) * self.scale)
        return self.decoder(out)


def _round_trip(obj, allow=()):
    buf = io.BytesIO()
    qf.save(obj, buf)
    buf.seek(0)
    with qf.serialization.safe_globals(list(allow)):
        return qf.load(buf)


def test_a_user_model_round_trips_with_its_class_allowed():
    qf.manual_seed(0)
    m = TinyLM().eval()
    m2 = _round_trip(m, [TinyLM])
    assert type(m2) is TinyLM and m2 is not m and not m2.training
    assert m2.rnn_type == "LSTM" and m2.sizes == (7, 4) and m2.ntoken == 7
    assert m2.decoder.weight is m2.encoder.weight                 # still tied
    assert isinstance(m2.decoder.weight, nn.Parameter) and m2.decoder.weight.requires_grad
    assert list(m2.state_dict()) == list(m.state_dict()) and "tmp" not in m2.state_dict()
    x = qf.tensor([[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(m2(x).detach().numpy(), m(x).detach().numpy())
    assert not np.shares_memory(m2.rnn.weight_ih_l0.detach().numpy(), m.rnn.weight_ih_l0.detach().numpy())
    m2.rnn.flatten_parameters()                                    # PyTorch's cuDNN call: a no-op
    # it trains: gradients reach the loaded (tied) parameters
    m2(x).sum().backward()
    assert m2.encoder.weight.grad is not None


def test_a_class_not_allowed_is_refused_saying_how_to_allow_it():
    buf = io.BytesIO()
    qf.save(TinyLM(), buf)
    buf.seek(0)
    with pytest.raises(qf.io.CheckpointError, match="TinyLM.*add_safe_globals"):
        qf.load(buf)
    qf.serialization.add_safe_globals([TinyLM])
    try:
        buf.seek(0)
        assert type(qf.load(buf)) is TinyLM
        assert TinyLM in qf.serialization.get_safe_globals()
    finally:
        qf.serialization.clear_safe_globals()
    assert qf.serialization.get_safe_globals() == []


def test_qiflow_modules_need_no_allowlist_and_keep_activation_functions():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    layer2 = _round_trip(layer)
    x = qf.randn(5, 3, 8)
    np.testing.assert_allclose(layer2(x).detach().numpy(), layer(x).detach().numpy(), rtol=1e-6)
    seq = _round_trip({"model": nn.Sequential(nn.Linear(3, 2), nn.ReLU()), "epoch": 3})
    assert seq["epoch"] == 3 and isinstance(seq["model"][1], nn.ReLU)


def test_what_cannot_be_saved_is_a_clear_error():
    m = nn.Linear(2, 2)
    m.register_forward_hook(lambda *a: None)
    with pytest.raises(TypeError, match="forward_hooks.*cannot be saved"):
        qf.save(m, io.BytesIO())
    m2 = nn.Linear(2, 2)
    m2.fn = lambda x: x
    with pytest.raises(TypeError, match="not one of qiflow's"):
        qf.save(m2, io.BytesIO())


def test_torch_nn_modules_paths():
    from qiflow.nn.modules import linear, rnn, sparse, dropout, container, activation, normalization
    from qiflow.nn.modules import transformer
    assert linear.Linear is nn.Linear and rnn.GRU is nn.GRU and sparse.Embedding is nn.Embedding
    assert dropout.Dropout is nn.Dropout and container.ModuleList is nn.ModuleList
    assert activation.MultiheadAttention is nn.MultiheadAttention
    assert normalization.LayerNorm is nn.LayerNorm
    assert transformer.TransformerEncoder is nn.TransformerEncoder
    assert qf.nn.modules.linear.NonDynamicallyQuantizableLinear is nn.Linear
