"""F.scaled_dot_product_attention and nn.MultiheadAttention against PyTorch from the same weights
(outputs, attention weights, gradients), by finite differences, and their errors."""
import math

import numpy as np
import pytest

import qiflow as qf
from qiflow import nn
import qiflow.nn.functional as F

from ._torchref import compare, copy_weights, rand, t64

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _tensors(*arrays):
    return [qf.tensor(a) for a in arrays], [torch.tensor(a) for a in arrays]


# ------------------------------------------------------------------- sdpa
SDPA = [
    dict(),
    dict(is_causal=True),
    dict(scale=0.3),
    dict(mask="bool2d"),
    dict(mask="float4d"),
]


@pytest.mark.parametrize("kw", SDPA)
@pytest.mark.parametrize("L,S", [(5, 5), (4, 6)])
def test_sdpa_matches_pytorch(kw, L, S):
    kw = dict(kw)
    q, k, v = rand(2, 3, L, 8), rand(2, 3, S, 8, seed=1), rand(2, 3, S, 6, seed=2)
    mask = kw.pop("mask", None)
    if mask == "bool2d":
        m = np.random.default_rng(3).random((L, S)) > 0.3
        m[:, 0] = True
        kw["attn_mask"] = m
    elif mask == "float4d":
        kw["attn_mask"] = rand(2, 3, L, S, seed=4)
    if "attn_mask" in kw:
        am = kw.pop("attn_mask")
        compare(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, qf.tensor(am), **kw),
                lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, torch.tensor(am), **kw), q, k, v)
    else:
        compare(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw),
                lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **kw), q, k, v)


def test_sdpa_float_mask_gradient_and_3d_inputs():
    q, k, v, m = rand(4, 5, 8), rand(4, 6, 8, seed=1), rand(4, 6, 3, seed=2), rand(5, 6, seed=3)
    compare(F.scaled_dot_product_attention, TF.scaled_dot_product_attention, q, k, v, m)


def test_sdpa_fully_masked_rows_give_zeros_like_pytorch():
    q, k, v = rand(2, 4, 8), rand(2, 5, 8, seed=1), rand(2, 5, 8, seed=2)
    m = np.ones((4, 5), bool)
    m[1] = False
    compare(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, qf.tensor(m)),
            lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, torch.tensor(m)), q, k, v)
    out = F.scaled_dot_product_attention(*_tensors(q, k, v)[0], attn_mask=qf.tensor(m))
    assert (out.detach().numpy()[:, 1] == 0).all()


def test_sdpa_grouped_query_attention_matches_pytorch():
    q, k, v = rand(2, 6, 5, 4), rand(2, 2, 5, 4, seed=1), rand(2, 2, 5, 4, seed=2)
    compare(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True),
            lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, enable_gqa=True), q, k, v)


def test_sdpa_dropout_zeroes_or_scales_each_weight():
    # with value = identity the output rows are the (dropped) attention weights themselves
    q, k = rand(1, 2, 6, 4), rand(1, 2, 6, 4, seed=1)
    v = np.broadcast_to(np.eye(6, dtype=np.float32), (1, 2, 6, 6)).copy()
    (tq, tk, tv), _ = _tensors(q, k, v)
    plain = F.scaled_dot_product_attention(tq, tk, tv).detach().numpy()
    dropped = F.scaled_dot_product_attention(tq, tk, tv, dropout_p=0.4, generator=qf.Generator(0)).detach().numpy()
    kept = dropped != 0
    assert 0.4 < kept.mean() < 0.8
    np.testing.assert_allclose(dropped[kept], plain[kept] / 0.6, rtol=1e-5)
    assert (F.scaled_dot_product_attention(tq, tk, tv, dropout_p=1.0).detach().numpy() == 0).all()


def test_sdpa_gradcheck():
    q, k, v, m = t64(1, 2, 3, 4), t64(1, 2, 4, 4, seed=1), t64(1, 2, 4, 2, seed=2), t64(3, 4, seed=3)
    assert qf.gradcheck(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m), [q, k, v, m])
    q3 = t64(1, 2, 4, 4)
    assert qf.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [q3, k, v])
    assert qf.gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), [q, k, v])


def test_sdpa_errors():
    q = qf.ones((2, 3, 4))
    with pytest.raises(qf.QiflowError, match=r"scaled_dot_product_attention: expected query \(\.\.\., L, E\), key"):
        F.scaled_dot_product_attention(q, qf.ones((2, 3, 5)), qf.ones((2, 3, 5)))
    with pytest.raises(qf.QiflowError, match="give attn_mask or is_causal=True, not both"):
        F.scaled_dot_product_attention(q, q, q, np.ones((3, 3), bool), is_causal=True)
    with pytest.raises(qf.QiflowError, match="attn_mask must be bool or floating point, got int64"):
        F.scaled_dot_product_attention(q, q, q, np.ones((3, 3), np.int64))


# ------------------------------------------------------------------- MultiheadAttention
def _mha_pair(**kw):
    tm, qm = torch.nn.MultiheadAttention(8, 2, **kw), nn.MultiheadAttention(8, 2, **kw)
    with torch.no_grad():     # non-zero biases, so their gradients and roles are checked too
        for name, p in tm.named_parameters():
            if "bias" in name:
                p.copy_(torch.tensor(rand(*p.shape, seed=len(name))) * 0.3)
    copy_weights(qm, tm)
    return qm, tm


def _inputs(batch_first, L=5, S=6, N=3, kdim=8, vdim=8):
    shape = (lambda T, E: (N, T, E)) if batch_first else (lambda T, E: (T, N, E))
    return rand(*shape(L, 8)), rand(*shape(S, kdim), seed=1), rand(*shape(S, vdim), seed=2)


MASKS = [
    dict(),
    dict(kpm="bool"),
    dict(kpm="float", attn="float2d"),
    dict(attn="bool2d"),
    dict(attn="bool3d", kpm="bool"),
]


def _masks(spec, N=3, L=5, S=6, H=2):
    rng = np.random.default_rng(7)
    out = {}
    if spec.get("kpm") == "bool":
        m = np.zeros((N, S), bool)
        m[0, -2:] = True
        m[1, 0] = True
        out["key_padding_mask"] = m
    elif spec.get("kpm") == "float":
        out["key_padding_mask"] = rng.standard_normal((N, S)).astype(np.float32)
    a = spec.get("attn")
    if a == "float2d":
        out["attn_mask"] = rng.standard_normal((L, S)).astype(np.float32)
    elif a == "bool2d":
        out["attn_mask"] = np.triu(np.ones((L, S), bool), 2)
    elif a == "bool3d":
        m = rng.random((N * H, L, S)) > 0.7
        m[:, :, 0] = False
        out["attn_mask"] = m
    return out


def _run(m, lib, q, k, v, masks, self_attention=False, **kw):
    T = qf.tensor if lib == "qf" else torch.tensor
    masks = {n: T(a) for n, a in masks.items()}
    if self_attention:
        return m(q, q, q, **masks, **kw)
    return m(q, k, v, **masks, **kw)


@pytest.mark.parametrize("spec", MASKS)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_matches_pytorch(spec, batch_first, need_weights, average):
    qm, tm = _mha_pair(batch_first=batch_first)
    q, k, v = _inputs(batch_first)
    masks = _masks(spec)
    kw = dict(need_weights=need_weights, average_attn_weights=average)
    compare(lambda q, k, v: _run(qm, "qf", q, k, v, masks, **kw), lambda q, k, v: _run(tm, "t", q, k, v, masks, **kw),
            q, k, v, qm=qm, tm=tm)
    if need_weights:
        qm.zero_grad(), tm.zero_grad()
        compare(lambda q, k, v: _run(qm, "qf", q, k, v, masks, **kw)[1],
                lambda q, k, v: _run(tm, "t", q, k, v, masks, **kw)[1], q, k, v, qm=qm, tm=tm)
    else:
        assert _run(qm, "qf", *_tensors(q, k, v)[0], masks, **kw)[1] is None


@pytest.mark.parametrize("kw", [dict(kdim=5, vdim=3), dict(bias=False), dict(add_bias_kv=True),
                                dict(add_zero_attn=True), dict(add_bias_kv=True, add_zero_attn=True, kdim=4)])
def test_mha_options_match_pytorch(kw):
    qm, tm = _mha_pair(**kw)
    assert [(n, tuple(p.shape)) for n, p in qm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    q, k, v = _inputs(False, kdim=kw.get("kdim", 8), vdim=kw.get("vdim", 8))
    masks = _masks(dict(kpm="bool", attn="bool2d"))
    for need in (True, False):
        qm.zero_grad(), tm.zero_grad()
        compare(lambda q, k, v: _run(qm, "qf", q, k, v, masks, need_weights=need),
                lambda q, k, v: _run(tm, "t", q, k, v, masks, need_weights=need), q, k, v, qm=qm, tm=tm)


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention_and_unbatched_match_pytorch(batch_first):
    qm, tm = _mha_pair(batch_first=batch_first)
    x = _inputs(batch_first)[0]
    masks = _masks(dict(attn="bool2d"), S=5)
    compare(lambda x: _run(qm, "qf", x, None, None, masks, self_attention=True),
            lambda x: _run(tm, "t", x, None, None, masks, self_attention=True), x, qm=qm, tm=tm)
    qm.zero_grad(), tm.zero_grad()
    compare(lambda x: qm(x, x, x, need_weights=False), lambda x: tm(x, x, x, need_weights=False), rand(5, 8),
            qm=qm, tm=tm)
    kpm = np.array([False, False, True, False, False])
    compare(lambda x: qm(x, x, x, key_padding_mask=qf.tensor(kpm))[1],
            lambda x: tm(x, x, x, key_padding_mask=torch.tensor(kpm))[1], rand(5, 8))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")     # the NaN rows are the point
def test_mha_fully_masked_rows_follow_pytorch():
    # need_weights=True runs the plain softmax (NaN rows), need_weights=False the safe one (zeros)
    qm, tm = _mha_pair()
    q, k, v = _inputs(False)
    masks = dict(key_padding_mask=np.zeros((3, 6), bool))
    masks["key_padding_mask"][1] = True
    for need in (True, False):
        a = _run(qm, "qf", *_tensors(q, k, v)[0], masks, need_weights=need)
        b = _run(tm, "t", *_tensors(q, k, v)[1], masks, need_weights=need)
        np.testing.assert_allclose(a[0].detach().numpy(), b[0].detach().numpy(), rtol=1e-4, atol=1e-5)
        assert np.isnan(a[0].detach().numpy()[:, 1]).all() == need


def test_mha_dropout_only_while_training():
    qm, tm = _mha_pair(dropout=0.5)
    q, k, v = _inputs(False)
    qm.eval(), tm.eval()
    compare(lambda q, k, v: qm(q, k, v), lambda q, k, v: tm(q, k, v), q, k, v)
    qm.train()
    (a, b, c), _ = _tensors(q, k, v)
    w = qm(a, b, c, average_attn_weights=False)[1].detach().numpy()
    plain = qm.eval()(a, b, c, average_attn_weights=False)[1].detach().numpy()
    kept = w != 0
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_allclose(w[kept], 2 * plain[kept], rtol=1e-5)


def test_mha_initialisation_is_pytorchs():
    m = nn.MultiheadAttention(64, 4)
    w = m.in_proj_weight.detach().numpy()
    bound = math.sqrt(6 / (64 + 3 * 64))     # xavier_uniform over the (3E, E) matrix
    assert np.abs(w).max() <= bound and w.std() > 0.5 * bound / math.sqrt(3)
    assert (m.in_proj_bias.detach().numpy() == 0).all() and (m.out_proj.bias.detach().numpy() == 0).all()
    ow = m.out_proj.weight.detach().numpy()
    assert np.abs(ow).max() <= 1 / math.sqrt(64)
    kv = nn.MultiheadAttention(8, 2, add_bias_kv=True)
    assert kv.bias_k.shape == (1, 1, 8) and kv.bias_k.detach().numpy().std() > 0


def test_mha_gradcheck():
    m = nn.MultiheadAttention(4, 2, kdim=3, vdim=2, add_bias_kv=True).double()
    q, k, v = t64(3, 2, 4), t64(2, 2, 3, seed=1), t64(2, 2, 2, seed=2)
    kpm = np.array([[False, True], [False, False]])
    assert qf.gradcheck(lambda q, k, v: list(m(q, k, v, key_padding_mask=kpm)), [q, k, v])
    s = nn.MultiheadAttention(4, 2).double()
    assert qf.gradcheck(lambda x: s(x, x, x, need_weights=False)[0], [q])


def test_mha_errors_name_the_layer_and_shapes():
    m = nn.MultiheadAttention(8, 2)
    with pytest.raises(qf.QiflowError, match="MultiheadAttention: embed_dim 8 must be divisible by num_heads 3"):
        nn.MultiheadAttention(8, 3)
    with pytest.raises(qf.QiflowError, match=r"expected key of shape \(L, N, E\) or \(L, E\) with E = 8, got \(6, 3, 5\)"):
        m(qf.ones((5, 3, 8)), qf.ones((6, 3, 5)), qf.ones((6, 3, 8)))
    with pytest.raises(qf.QiflowError, match=r"attn_mask must have shape \(5, 6\) or \(6, 5, 6\), got \(5, 5\)"):
        m(qf.ones((5, 3, 8)), qf.ones((6, 3, 8)), qf.ones((6, 3, 8)), attn_mask=np.zeros((5, 5), bool))
    with pytest.raises(qf.QiflowError, match=r"key_padding_mask must have shape \(3, 6\), got \(6, 3\)"):
        m(qf.ones((5, 3, 8)), qf.ones((6, 3, 8)), qf.ones((6, 3, 8)), key_padding_mask=np.zeros((6, 3), bool))
    with pytest.raises(qf.QiflowError, match="is_causal is only a hint here: give the causal attn_mask too"):
        m(qf.ones((5, 3, 8)), qf.ones((5, 3, 8)), qf.ones((5, 3, 8)), is_causal=True)


# ------------------------------------------------------------------- the safe softmax primitive
def test_safe_softmax_matches_pytorch_and_gradchecks():
    from qiflow.ops.safe_softmax import safe_softmax
    for axis in (-1, 1):
        compare(lambda x: safe_softmax(x, axis), lambda x: torch.softmax(x, axis), rand(3, 4, 5) * 4)
    x = t64(3, 5)
    assert qf.gradcheck(lambda x: safe_softmax(x, -1), [x])
    assert qf.gradgradcheck(lambda x: safe_softmax(x, 0), [x])


def test_safe_softmax_rows_of_minus_inf():
    from qiflow.ops.safe_softmax import safe_softmax
    x = rand(3, 4)
    x[1] = -np.inf
    x[2, :2] = -np.inf
    t = qf.tensor(x, requires_grad=True)
    y = safe_softmax(t, -1)
    got = y.detach().numpy()
    assert (got[1] == 0).all() and np.isfinite(got).all()
    np.testing.assert_allclose(got[2], torch.softmax(torch.tensor(x[2]), -1).detach().numpy(), rtol=1e-6)
    (y * qf.tensor(rand(3, 4, seed=1))).sum().backward()
    assert (t.grad.numpy()[1] == 0).all() and np.isfinite(t.grad.numpy()).all()


def test_safe_softmax_runs_symbolically():
    from qiflow import sym as T
    from qiflow.ops.safe_softmax import safe_softmax
    x = T.dmatrix("x")
    f = T.function([x], [safe_softmax(x, -1), T.grad((safe_softmax(x, -1) * np.arange(4.0)).sum(), x)])
    a = np.random.default_rng(0).standard_normal((3, 4))
    y, g = f(a)
    t = qf.tensor(a, requires_grad=True)
    (safe_softmax(t, -1) * np.arange(4.0)).sum().backward()
    np.testing.assert_allclose(y, safe_softmax(qf.tensor(a), -1).detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12)
