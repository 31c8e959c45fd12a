"""GRUSeq, the whole-sequence GRU primitive, and nn.GRU built on it: finite differences
(first and second order) and PyTorch's torch.nn.GRU from the same weights."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import nn
from qiflow.ops.gru import GRUSeq, gru_seq

from ._torchref import compare, copy_weights, rand, t64

torch = pytest.importorskip("torch")


def _args(T=3, N=2, I=2, H=3):
    return [t64(T, N, I), t64(N, H, seed=1), t64(3 * H, I, seed=2, scale=0.7),
            t64(3 * H, H, seed=3, scale=0.7), t64(3 * H, seed=4), t64(3 * H, seed=5)]


def test_gru_seq_first_and_second_order():
    args = _args()
    assert qf.gradcheck(gru_seq, args)
    assert qf.gradgradcheck(gru_seq, args)


def test_gru_seq_matches_pytorch_single_layer_equations():
    x, h0, w_ih, w_hh, b_ih, b_hh = [a.detach().numpy() for a in _args(T=4, N=3, I=2, H=5)]
    ref = torch.nn.GRU(2, 5).double()
    with torch.no_grad():
        for name, v in zip(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"], [w_ih, w_hh, b_ih, b_hh]):
            getattr(ref, name).copy_(torch.tensor(v))
    out, _ = ref(torch.tensor(x), torch.tensor(h0[None]))
    np.testing.assert_allclose(gru_seq(x, h0, w_ih, w_hh, b_ih, b_hh), out.detach().numpy(), rtol=1e-12)


def test_first_order_and_create_graph_backward_agree():
    # the first-order backward runs the vjp on arrays, create_graph on tensors: the same numbers
    args = _args(T=5)
    y = gru_seq(*args)
    g = qf.tensor(np.random.default_rng(7).standard_normal(y.shape))
    fast = qf.grad((y * g).sum(), args)
    slow = qf.grad((gru_seq(*args) * g).sum(), args, create_graph=True)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_gru_layer_is_one_primitive_per_layer_and_direction():
    m = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    ops, seen, stack = [], set(), [m(qf.randn(5, 2, 3))[0]]
    while stack:
        t = stack.pop()
        if id(t) in seen or getattr(t, "_op", None) is None:
            continue
        seen.add(id(t))
        ops.append(type(t._op).__name__)
        stack.extend(a for a in t._inputs if isinstance(a, qf.Tensor))
    assert ops.count("GRUSeq") == 4
    assert "Sigmoid" not in ops   # no step-by-step gates left in the graph


@pytest.mark.parametrize("layers,bidirectional,batch_first,bias", [
    (1, False, False, True), (2, False, True, True), (2, True, False, True), (1, True, True, False)])
def test_gru_matches_pytorch_outputs_and_grads(layers, bidirectional, batch_first, bias):
    kw = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    tm, qm = torch.nn.GRU(3, 4, **kw), nn.GRU(3, 4, **kw)
    copy_weights(qm, tm)
    x = rand(2, 6, 3) if batch_first else rand(6, 2, 3)
    h0 = rand(layers * (2 if bidirectional else 1), 2, 4, seed=3) * 0.5
    compare(qm, tm, x, h0, qm=qm, tm=tm)                       # output sequence
    qm.zero_grad(), tm.zero_grad()
    compare(qm, tm, x, h0, qm=qm, tm=tm, pick=lambda o: o[1])  # final hidden state


def test_gru_float64_tight_and_unbatched():
    tm, qm = torch.nn.GRU(2, 3, num_layers=2).double(), nn.GRU(2, 3, num_layers=2).double()
    copy_weights(qm, tm)
    compare(qm, tm, rand(5, 2, dtype=np.float64), qm=qm, tm=tm, rtol=1e-10, atol=1e-12)


def test_gru_seq_shape_errors_name_the_op():
    x, h0, w_ih, w_hh, b, _ = [a.detach().numpy() for a in _args()]
    with pytest.raises(qf.QiflowError, match=r"GRUSeq: shapes do not fit: input \(3, 2, 2\), h0 \(2, 3\), w_ih \(8, 2\)"):
        gru_seq(x, h0, w_ih[:8], w_hh, b, b)
    with pytest.raises(qf.QiflowError, match=r"GRUSeq: b_hh must have shape \(9,\)"):
        gru_seq(x, h0, w_ih, w_hh, b, b[:3])
    with pytest.raises(qf.QiflowError, match="GRUSeq: shapes do not fit"):
        gru_seq(x, h0[:, :2], w_ih, w_hh, b, b)
    assert GRUSeq() == GRUSeq()


def test_reverse_loop_primitive_recomputes_the_gates_exactly():
    from qiflow.ops.gru import GRUSeqGrad, _gru_forward
    x, h0, w_ih, w_hh, b_ih, b_hh = [a.detach().numpy() for a in _args(T=4)]
    S, gates = _gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh)
    dS = np.random.default_rng(3).standard_normal(S.shape)
    saved = GRUSeqGrad().forward(x, h0, w_ih, w_hh, b_ih, b_hh, S, dS, gates)
    again = GRUSeqGrad().forward(x, h0, w_ih, w_hh, b_ih, b_hh, S, dS)
    np.testing.assert_allclose(saved, again, rtol=1e-13, atol=1e-15)


def test_symbolic_gradient_with_unknown_length_matches_eager():
    from qiflow import sym as T
    args = _args(T=5)
    xs = T.tensor3("x", dtype="float64")           # the sequence length is not known to the graph
    rest = [T.shared(a.detach().numpy()) for a in args[1:]]
    y = gru_seq(xs, *rest)
    g = np.random.default_rng(4).standard_normal((5, 2, 3))
    cost = (y * g).sum()
    f = T.function([xs], T.grad(cost, [xs] + rest))
    got = f(args[0].detach().numpy())
    want = qf.grad((gru_seq(*args) * qf.tensor(g)).sum(), args)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-12)
