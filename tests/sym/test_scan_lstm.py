"""The symbolic LSTM and GRU layers built on scan equal the eager primitives
(``lstm_seq``, ``gru_seq``, ``nn.LSTM``'s weights), values and gradients, with
one compiled function serving every sequence length."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import sym as T
from qiflow.ops.gru import gru_seq
from qiflow.ops.rnn import lstm_seq
from qiflow.sym.scan_op import Scan

RNG = np.random.default_rng(4)
N, I, H = 3, 5, 4


@pytest.mark.parametrize("steps", [1, 6])
def test_lstm_on_scan_equals_the_eager_primitive(steps):
    x, h0, c0 = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("c0")
    wi, wh, bi, bh = T.dmatrix("w_ih"), T.dmatrix("w_hh"), T.dvector("b_ih"), T.dvector("b_hh")
    hs, cs = T.nnet.lstm(x, h0, c0, wi, wh, bi, bh)
    w_out = T.dtensor3("w_out")
    cost = (hs * w_out).sum() + (cs[-1] ** 2).sum()
    ins = [x, h0, c0, wi, wh, bi, bh, w_out]
    f = T.function(ins, [hs, cs] + T.grad(cost, ins[:-1]))
    vals = [RNG.standard_normal((steps, N, I)), RNG.standard_normal((N, H)), RNG.standard_normal((N, H)),
            RNG.standard_normal((4 * H, I)) * 0.5, RNG.standard_normal((4 * H, H)) * 0.5,
            RNG.standard_normal(4 * H), RNG.standard_normal(4 * H), RNG.standard_normal((steps, N, H))]
    got = f(*vals)
    ts = [qf.tensor(a, requires_grad=True) for a in vals[:7]]
    S = lstm_seq(ts[0], ts[1], ts[2], ts[3], ts[4], ts[5] + ts[6])
    hs_e, cs_e = S[..., :H], S[..., H:]
    ((hs_e * qf.tensor(vals[7])).sum() + (cs_e[-1] ** 2).sum()).backward()
    np.testing.assert_allclose(got[0], hs_e.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got[1], cs_e.detach().numpy(), rtol=1e-12, atol=1e-12)
    for k, t in enumerate(ts):
        np.testing.assert_allclose(got[2 + k], t.grad.numpy(), rtol=1e-9, atol=1e-10,
                                   err_msg=f"gradient of {ins[k]!r}")


def test_gru_on_scan_equals_the_eager_primitive_for_any_length():
    x, h0 = T.dtensor3("x"), T.dmatrix("h0")
    wi, wh, bi, bh = T.dmatrix("w_ih"), T.dmatrix("w_hh"), T.dvector("b_ih"), T.dvector("b_hh")
    hs = T.nnet.gru(x, h0, wi, wh, bi, bh)
    cost = (hs ** 2).sum()
    ins = [x, h0, wi, wh, bi, bh]
    f = T.function(ins, [hs] + T.grad(cost, ins))
    w = [RNG.standard_normal((3 * H, I)) * 0.5, RNG.standard_normal((3 * H, H)) * 0.5,
         RNG.standard_normal(3 * H), RNG.standard_normal(3 * H)]
    for steps in (2, 7):
        vals = [RNG.standard_normal((steps, N, I)), RNG.standard_normal((N, H))] + w
        got = f(*vals)
        ts = [qf.tensor(a, requires_grad=True) for a in vals]
        out = gru_seq(*ts)
        (out ** 2).sum().backward()
        np.testing.assert_allclose(got[0], out.detach().numpy(), rtol=1e-12, atol=1e-12)
        for k, t in enumerate(ts):
            np.testing.assert_allclose(got[1 + k], t.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_lstm_with_nn_lstm_weights_in_float32():
    qf.manual_seed(0)
    m = qf.nn.LSTM(I, H)
    xa = RNG.standard_normal((4, N, I)).astype(np.float32)
    want, _ = m(qf.tensor(xa))
    x = T.ftensor3("x")
    p = {k: T.shared(v.detach().numpy(), name=k) for k, v in m.named_parameters()}
    z = T.constant(np.zeros((N, H), np.float32))
    hs, _ = T.nnet.lstm(x, z, z, p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"])
    f = T.function([x], hs)
    assert f(xa).dtype == np.float32
    np.testing.assert_allclose(f(xa), want.detach().numpy(), rtol=1e-5, atol=1e-6)
    # the per-step graph holds only the recurrent product and the gates
    step = next(n for n in f.schedule if isinstance(n.op, Scan)).op.spec.fn
    names = [type(n.op).__name__ for n in step.schedule]
    assert names.count("MatMul") + names.count("Gemm") == 1
    # the gate size came from a shared variable's shape: once compiled it is a constant
    # (scan_specialize), so the gates are plain views, not slices by a run-time size
    assert "DynamicSlice" not in names and f.report.fired["scan_specialize"] >= 1


def test_the_step_is_compiled_for_the_shapes_of_its_arguments():
    """The LSTM's step slices its gates by ``w_hh.shape[1]``, a size known only at run
    time: the loop compiles its step for the first step's shapes, where the slices are
    plain views and the shape-only values are constants (no DynamicSlice, no Shape
    left), once per set of shapes; values and gradients equal the eager primitive's
    for each batch size, and a step graph that does not fit the arguments still gets
    the general function's error."""
    from qiflow.ops.dynamic import DynamicSlice, DynamicSliceGrad, Shape
    x, h0, c0 = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("c0")
    wi, wh, b = T.dmatrix("w_ih"), T.dmatrix("w_hh"), T.dvector("b")
    hs, cs = T.nnet.lstm(x, h0, c0, wi, wh, b)
    ins = [x, h0, c0, wi, wh, b]
    cost = (hs ** 2).sum() + cs.sum()
    f = T.function(ins, [hs] + T.grad(cost, ins))
    w = [RNG.standard_normal((4 * H, I)) * 0.5, RNG.standard_normal((4 * H, H)) * 0.5,
         RNG.standard_normal(4 * H)]
    for n in (N, N + 2, N):
        vals = [RNG.standard_normal((5, n, I)), RNG.standard_normal((n, H)),
                RNG.standard_normal((n, H))] + w
        got = f(*vals)
        ts = [qf.tensor(a, requires_grad=True) for a in vals]
        S = lstm_seq(*ts)
        ((S[..., :H] ** 2).sum() + S[..., H:].sum()).backward()
        np.testing.assert_allclose(got[0], S[..., :H].detach().numpy(), rtol=1e-12, atol=1e-12)
        for k, t in enumerate(ts):
            np.testing.assert_allclose(got[1 + k], t.grad.numpy(), rtol=1e-9, atol=1e-10)
    scans = [nd.op.spec for nd in f.schedule if isinstance(nd.op, Scan)]
    assert len(scans) == 2                      # the forward loop and its gradient
    for sp in scans:
        assert len(sp._shaped) == 2             # batch N and N + 2, each compiled once
        for g in sp._shaped.values():
            ops = {type(nd.op) for nd in g.schedule}
            assert not ops & {DynamicSlice, DynamicSliceGrad, Shape}, (sp, ops)
    with pytest.raises(qf.QiflowError, match=r"lstm step.*MatMul failed.*\(float64\[3, 5\], float64\[4, 16\]\)"):
        f(RNG.standard_normal((5, N, I)), RNG.standard_normal((N, I)), RNG.standard_normal((N, H)), *w)
