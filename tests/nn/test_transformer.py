"""Transformer layers and stacks against PyTorch from the same weights (outputs, every gradient,
a few SGD steps of a tiny language model), by finite differences, and their errors."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import nn
import qiflow.nn.functional as F

from ._torchref import compare, copy_weights, rand, t64

torch = pytest.importorskip("torch")
# PyTorch's notes on its nested-tensor fast path and on mixing bool and float masks (tested here
# on purpose) are not about qiflow
pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning"),
              pytest.mark.filterwarnings("ignore:Support for mismatched:UserWarning")]


def _randomise_norms(tm):
    with torch.no_grad():
        for name, p in tm.named_parameters():
            if "norm" in name:
                p.copy_(torch.tensor(rand(*p.shape, seed=len(name))) * 0.2 + (1 if "weight" in name else 0))


def _masks(batch_first, N=3, S=6, causal=True):
    kpm = np.zeros((N, S), bool)
    kpm[0, -2:] = True
    mask = nn.Transformer.generate_square_subsequent_mask(S).detach().numpy() if causal else None
    return mask, kpm


ENC = [dict(), dict(norm_first=True), dict(activation="gelu", batch_first=True), dict(bias=False),
       dict(activation="module", norm_first=True, batch_first=True)]


def _act(kw, lib):
    kw = dict(kw)
    if kw.get("activation") == "module":
        kw["activation"] = nn.GELU() if lib == "qf" else torch.nn.GELU()
    return kw


@pytest.mark.parametrize("kw", ENC)
def test_encoder_layer_matches_pytorch(kw):
    tm = torch.nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, **_act(kw, "t"))
    qm = nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, **_act(kw, "qf"))
    _randomise_norms(tm)
    copy_weights(qm, tm)
    bf = kw.get("batch_first", False)
    x = rand(3, 6, 8) if bf else rand(6, 3, 8)
    mask, kpm = _masks(bf)
    compare(lambda x: qm(x, src_mask=qf.tensor(mask), src_key_padding_mask=qf.tensor(kpm)),
            lambda x: tm(x, src_mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(kpm)), x, qm=qm, tm=tm)


@pytest.mark.parametrize("kw", [dict(), dict(norm_first=True, batch_first=True), dict(activation="gelu")])
def test_decoder_layer_matches_pytorch(kw):
    tm = torch.nn.TransformerDecoderLayer(8, 2, 12, dropout=0.0, **kw)
    qm = nn.TransformerDecoderLayer(8, 2, 12, dropout=0.0, **kw)
    _randomise_norms(tm)
    copy_weights(qm, tm)
    bf = kw.get("batch_first", False)
    tgt, mem = (rand(3, 5, 8), rand(3, 6, 8, seed=1)) if bf else (rand(5, 3, 8), rand(6, 3, 8, seed=1))
    tmask, tkpm = _masks(bf, S=5)
    _, mkpm = _masks(bf, S=6, causal=False)
    q = dict(tgt_mask=qf.tensor(tmask), tgt_key_padding_mask=qf.tensor(tkpm), memory_key_padding_mask=qf.tensor(mkpm))
    t = {k: torch.tensor(v.detach().numpy()) for k, v in q.items()}
    compare(lambda a, b: qm(a, b, **q), lambda a, b: tm(a, b, **t), tgt, mem, qm=qm, tm=tm)


@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_and_decoder_stacks_match_pytorch(batch_first):
    tl = torch.nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, batch_first=batch_first)
    ql = nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, batch_first=batch_first)
    te, qe = torch.nn.TransformerEncoder(tl, 2, torch.nn.LayerNorm(8)), nn.TransformerEncoder(ql, 2, nn.LayerNorm(8))
    with torch.no_grad():        # the copies start equal, as in PyTorch: make them differ
        te.layers[1].linear1.weight.mul_(-0.5)
    copy_weights(qe, te)
    assert qe.layers[0].linear1.weight is not qe.layers[1].linear1.weight
    x = rand(3, 6, 8) if batch_first else rand(6, 3, 8)
    mask, kpm = _masks(batch_first)
    compare(lambda x: qe(x, mask=qf.tensor(mask), src_key_padding_mask=qf.tensor(kpm)),
            lambda x: te(x, mask=torch.tensor(mask), src_key_padding_mask=torch.tensor(kpm)), x, qm=qe, tm=te)
    td = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, 12, dropout=0.0, batch_first=batch_first), 2)
    qd = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 12, dropout=0.0, batch_first=batch_first), 2)
    copy_weights(qd, td)
    compare(lambda a, b: qd(a, b), lambda a, b: td(a, b), x, x[:, :4] if batch_first else x[:4], qm=qd, tm=td)


def test_full_transformer_matches_pytorch_and_initialises_like_it():
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=12, dropout=0.0)
    tm, qm = torch.nn.Transformer(**kw), nn.Transformer(**kw)
    assert [(n, tuple(p.shape)) for n, p in qm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    w = qm.encoder.layers[0].linear1.weight.detach().numpy()
    assert np.abs(w).max() <= np.sqrt(6 / (8 + 12))          # Xavier-uniform everywhere
    assert not np.allclose(w, qm.encoder.layers[1].linear1.weight.detach().numpy())
    copy_weights(qm, tm)
    src, tgt = rand(6, 2, 8), rand(5, 2, 8, seed=1)
    m = nn.Transformer.generate_square_subsequent_mask(5)
    np.testing.assert_array_equal(m.detach().numpy(), torch.nn.Transformer.generate_square_subsequent_mask(5).detach().numpy())
    compare(lambda s, t: qm(s, t, tgt_mask=m), lambda s, t: tm(s, t, tgt_mask=torch.tensor(m.detach().numpy())), src, tgt,
            qm=qm, tm=tm)


def test_eval_mode_drops_nothing_and_training_mode_drops():
    tm, qm = torch.nn.TransformerEncoderLayer(8, 2, 12, dropout=0.3), nn.TransformerEncoderLayer(8, 2, 12, dropout=0.3)
    copy_weights(qm, tm)
    qm.eval(), tm.eval()
    x = rand(6, 3, 8)
    compare(qm, tm, x)
    qm.train()
    a, b = qm(qf.tensor(x)).detach().numpy(), qm(qf.tensor(x)).detach().numpy()
    assert not np.allclose(a, b)


def test_tiny_language_model_trains_step_for_step_like_pytorch():
    V, E, T, N = 11, 8, 6, 4
    tokens = np.random.default_rng(0).integers(0, V, (N, T + 1))

    def build(lib):
        m = torch.nn if lib == "t" else nn
        layer = m.TransformerEncoderLayer(E, 2, 16, dropout=0.0, batch_first=True)
        return m.ModuleDict({"emb": m.Embedding(V, E), "enc": m.TransformerEncoder(layer, 2), "head": m.Linear(E, V)})

    tm, qm = build("t"), build("qf")
    copy_weights(qm, tm)
    mask = nn.Transformer.generate_square_subsequent_mask(T)
    topt, qopt = torch.optim.SGD(tm.parameters(), lr=0.2), qf.optim.SGD(qm.parameters(), lr=0.2)
    losses = []
    for step in range(5):
        x, y = tokens[:, :-1], tokens[:, 1:]
        tl = torch.nn.functional.cross_entropy(
            tm["head"](tm["enc"](tm["emb"](torch.tensor(x)), mask=torch.tensor(mask.detach().numpy()))).reshape(-1, V),
            torch.tensor(y).reshape(-1))
        ql = F.cross_entropy(qm["head"](qm["enc"](qm["emb"](qf.tensor(x)), mask=mask)).reshape(-1, V),
                             qf.tensor(y).reshape(-1))
        topt.zero_grad(), qopt.zero_grad()
        tl.backward(), ql.backward()
        topt.step(), qopt.step()
        losses.append((ql.item(), tl.item()))
    np.testing.assert_allclose(*zip(*losses), rtol=1e-4)
    assert losses[-1][0] < losses[0][0]


def test_encoder_layer_gradcheck():
    m = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu", norm_first=True).double()
    x = t64(3, 2, 4)
    mask = np.triu(np.full((3, 3), -np.inf), 1)
    assert qf.gradcheck(lambda x: m(x, src_mask=mask), [x])
    d = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0).double()
    mem = t64(2, 2, 4, seed=1)
    assert qf.gradcheck(lambda x, mem: d(x, mem, tgt_mask=mask), [x, mem])


def test_transformer_errors():
    with pytest.raises(qf.QiflowError, match="TransformerEncoderLayer: activation should be 'relu', 'gelu' or a callable"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    layer = nn.TransformerEncoderLayer(8, 2, 12)
    with pytest.raises(qf.QiflowError, match=r"TransformerEncoderLayer: expected src of shape \(S, N, E\) or \(S, E\) with E = d_model = 8, got \(5, 3, 6\)"):
        layer(qf.ones((5, 3, 6)))
    m = nn.Transformer(8, 2, 1, 1, 12)
    with pytest.raises(qf.QiflowError, match=r"Transformer: the batch sizes of src \(5, 3, 8\) and tgt \(4, 2, 8\) must be equal"):
        m(qf.ones((5, 3, 8)), qf.ones((4, 2, 8)))
    with pytest.raises(qf.QiflowError, match="TransformerEncoder: num_layers must be >= 1"):
        nn.TransformerEncoder(layer, 0)
