"""Layers take PyTorch's factory keywords ``device=`` and ``dtype=`` (and PyTorch's positional
order): parameter names, shapes and dtypes against torch; a device other than the CPU is
a clear error naming the layer."""
import numpy as np
import pytest

import qiflow as qf

torch = pytest.importorskip("torch")

LAYERS = {
    "Linear": lambda m, **k: m.nn.Linear(3, 2, **k),
    "Linear/no_bias": lambda m, **k: m.nn.Linear(3, 2, False, **k),
    "Conv1d": lambda m, **k: m.nn.Conv1d(2, 3, 3, **k),
    "Conv2d": lambda m, **k: m.nn.Conv2d(2, 3, 3, padding=1, **k),
    "ConvTranspose1d": lambda m, **k: m.nn.ConvTranspose1d(2, 3, 3, **k),
    "ConvTranspose2d": lambda m, **k: m.nn.ConvTranspose2d(2, 3, 3, stride=2, **k),
    "BatchNorm1d": lambda m, **k: m.nn.BatchNorm1d(4, **k),
    "BatchNorm2d": lambda m, **k: m.nn.BatchNorm2d(4, **k),
    "LayerNorm": lambda m, **k: m.nn.LayerNorm(4, **k),
    "GroupNorm": lambda m, **k: m.nn.GroupNorm(2, 4, **k),
    "Embedding": lambda m, **k: m.nn.Embedding(5, 3, padding_idx=0, **k),
    "RNN": lambda m, **k: m.nn.RNN(3, 4, 2, **k),
    "LSTM": lambda m, **k: m.nn.LSTM(3, 4, bidirectional=True, **k),
    "GRU": lambda m, **k: m.nn.GRU(3, 4, **k),
    "RNNCell": lambda m, **k: m.nn.RNNCell(3, 4, **k),
    "LSTMCell": lambda m, **k: m.nn.LSTMCell(3, 4, **k),
    "GRUCell": lambda m, **k: m.nn.GRUCell(3, 4, **k),
    "MultiheadAttention": lambda m, **k: m.nn.MultiheadAttention(4, 2, **k),
    "TransformerEncoderLayer": lambda m, **k: m.nn.TransformerEncoderLayer(4, 2, 8, **k),
    "TransformerDecoderLayer": lambda m, **k: m.nn.TransformerDecoderLayer(4, 2, 8, **k),
    "Transformer": lambda m, **k: m.nn.Transformer(4, 2, 1, 1, 8, **k),
}


def _layout(module):
    return [(k, tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in module.state_dict().items()]


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_device_and_dtype_keywords_match_torch(name, dtype):
    q = LAYERS[name](qf, device="cpu", dtype=getattr(qf, dtype))
    t = LAYERS[name](torch, device="cpu", dtype=getattr(torch, dtype))
    assert _layout(q) == _layout(t)
    assert all(p.device == qf.device("cpu") for p in q.parameters())


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_another_device_is_a_clear_error(name):
    with pytest.raises(Exception, match=r"(?i)cuda") as info:
        LAYERS[name](qf, device="cuda")
    assert name.split("/")[0] in str(info.value) or "CUDA" in str(info.value)


def test_positional_order_is_pytorchs():
    # Linear(in, out, bias, device, dtype): the 5th argument is the dtype, as in torch
    q, t = qf.nn.Linear(3, 2, True, None, qf.float64), torch.nn.Linear(3, 2, True, None, torch.float64)
    assert _layout(q) == _layout(t)
    # LSTM's 8th argument is proj_size in torch: refused clearly, not taken for a dtype
    with pytest.raises(NotImplementedError, match="proj_size"):
        qf.nn.LSTM(3, 4, 1, True, False, 0.0, False, 2)
    # Embedding's 4th argument is max_norm in torch
    with pytest.raises(NotImplementedError, match="max_norm"):
        qf.nn.Embedding(5, 3, None, 1.0)


def test_embedding_from_given_weights_like_torch():
    w = np.arange(15.0).reshape(5, 3)
    for freeze in (False, True):
        q = qf.nn.Embedding(5, 3, _weight=qf.tensor(w), _freeze=freeze)
        t = torch.nn.Embedding(5, 3, _weight=torch.tensor(w), _freeze=freeze)
        assert q.weight.requires_grad == t.weight.requires_grad == (not freeze)
        np.testing.assert_array_equal(q.weight.detach().numpy(), t.weight.detach().numpy())
        assert q.weight.dtype == np.float64
    with pytest.raises(qf.QiflowError, match="_weight has shape"):
        qf.nn.Embedding(4, 3, _weight=qf.tensor(w))
