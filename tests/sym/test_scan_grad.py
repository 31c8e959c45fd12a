"""Backpropagation through ``T.scan``, checked by central differences in float64:
sequences with taps, states with several taps, non-sequences, closures,
go_backwards, n_steps, truncate_gradient (against an unrolled graph with the
gradient stopped), and second order (the gradient is itself a scan)."""
import numpy as np
import pytest

from qiflow import sym as T
from qiflow.sym.scan_op import Scan

RNG = np.random.default_rng(31)


def numeric_grad(f, args, k, eps=1e-6):
    """d f(*args) / d args[k] by central differences."""
    args = [np.array(a, dtype=np.float64) if i == k else a for i, a in enumerate(args)]
    x = args[k]
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        hi = float(f(*args))
        x[i] = old - eps
        lo = float(f(*args))
        x[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return g


def check_grads(inputs, cost, values, wrt=None, rtol=1e-6, atol=1e-8):
    wrt = list(range(len(inputs))) if wrt is None else wrt
    f = T.function(inputs, cost)
    gs = T.function(inputs, T.grad(cost, [inputs[k] for k in wrt]))(*values)
    for k, g in zip(wrt, gs):
        np.testing.assert_allclose(g, numeric_grad(f, values, k), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {k} ({inputs[k]!r})")


def _rnn(x, h0, W, U, **kw):
    hs, _ = T.scan(lambda xt, h, W, U: T.tanh(T.dot(xt, W) + T.dot(h, U)),
                   sequences=x, outputs_info=h0, non_sequences=[W, U], **kw)
    return hs


def _rnn_values(steps=4):
    return [RNG.standard_normal((steps, 2, 3)), RNG.standard_normal((2, 4)),
            RNG.standard_normal((3, 4)) * 0.5, RNG.standard_normal((4, 4)) * 0.5]


def test_bptt_of_an_rnn_matches_finite_differences():
    x, h0, W, U = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("W"), T.dmatrix("U")
    hs = _rnn(x, h0, W, U)
    c = T.constant(RNG.standard_normal((4, 2, 4)))
    cost = (hs * c).sum() + (hs[-1] ** 2).sum()
    check_grads([x, h0, W, U], cost, _rnn_values())


def test_bptt_with_go_backwards_and_n_steps():
    x, h0, W, U = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("W"), T.dmatrix("U")
    hs = _rnn(x, h0, W, U, go_backwards=True, n_steps=3)
    cost = (hs ** 2).sum() * 0.5 + hs[0].sum()
    vals = _rnn_values(5)
    check_grads([x, h0, W, U], cost, vals)
    # the two first time steps of x are not read (backwards, 3 steps of 5): zero gradient
    gx = T.function([x, h0, W, U], T.grad(cost, x))(*vals)
    assert np.all(gx[:2] == 0) and np.any(gx[2:] != 0)


def test_bptt_through_sequence_taps_and_output_taps():
    x = T.dvector("x")
    y0 = T.dvector("y0")
    a = T.dscalar("a")

    def step(xm1, xp1, ym2, ym1, a):
        return T.sin(ym1) * a + ym2 * xm1 - xp1 * ym1

    ys, _ = T.scan(step, sequences=dict(input=x, taps=[-1, 1]),
                   outputs_info=dict(initial=y0, taps=[-2, -1]), non_sequences=a)
    cost = (ys * T.arange(ys.shape[0])).sum() + ys[-1] ** 2
    check_grads([x, y0, a], cost, [RNG.standard_normal(7), RNG.standard_normal(2) * 0.5, 0.7])


def test_bptt_with_a_plain_output_a_closure_and_a_shared_weight():
    W = T.shared(RNG.standard_normal((3, 3)) * 0.4, name="W")
    v = T.dvector("v")
    x = T.dmatrix("x")
    h0 = T.dvector("h0")

    def step(xt, h):
        h_new = T.tanh(T.dot(W, h) + xt * v)
        return h_new, (h_new * xt).sum()
    (hs, e), _ = T.scan(step, sequences=x, outputs_info=[h0, None])
    cost = e.sum() + hs.sum()
    vals = [RNG.standard_normal(3), RNG.standard_normal((5, 3)), RNG.standard_normal(3)]
    check_grads([v, x, h0], cost, vals)
    gW = T.function([v, x, h0], T.grad(cost, W))(*vals)

    def f_of_w(w):
        W.set_value(w)
        return T.function([v, x, h0], cost)(*vals)
    w0 = W.get_value()
    num = numeric_grad(lambda w: f_of_w(w), [w0], 0)
    W.set_value(w0)
    np.testing.assert_allclose(gW, num, rtol=1e-6, atol=1e-8)


def test_unknown_length_gradient_and_one_scan_node_each_way():
    x, h0, W, U = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("W"), T.dmatrix("U")
    hs = _rnn(x, h0, W, U)
    g = T.grad(hs.sum(), W)
    f = T.function([x, h0, W, U], g)
    assert sum(isinstance(n.op, Scan) for n in f.schedule) == 2      # forward, backward
    for steps in (1, 3, 6):
        vals = _rnn_values(steps)
        fc = T.function([x, h0, W, U], hs.sum())
        np.testing.assert_allclose(f(*vals), numeric_grad(fc, vals, 2), rtol=1e-6, atol=1e-8)


def test_truncate_gradient_equals_an_unrolled_graph_with_the_gradient_stopped():
    x, h0, W, U = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("W"), T.dmatrix("U")
    k, steps = 2, 5
    hs = _rnn(x, h0, W, U, truncate_gradient=k)
    cost = (hs ** 2).sum()
    # the same loop unrolled, with the state cut from the gradient before the last k steps
    h = h0
    hs_u = []
    for t in range(steps):
        if t == steps - k:
            h = T.stop_gradient(h)
        xt = x[t] if t >= steps - k else T.stop_gradient(x[t])
        h = T.tanh(T.dot(xt, W) + T.dot(h, U))
        hs_u.append(h)
    cost_u = sum(((hh if t >= steps - k else T.stop_gradient(hh)) ** 2).sum() for t, hh in enumerate(hs_u))
    vals = _rnn_values(steps)
    got = T.function([x, h0, W, U], T.grad(cost, [x, h0, W, U]))(*vals)
    want = T.function([x, h0, W, U], T.grad(cost_u, [x, h0, W, U], disconnected_inputs="ignore"))(*vals)
    for gg, ww in zip(got, want):
        np.testing.assert_allclose(gg, ww, rtol=1e-10, atol=1e-12)
    assert np.all(got[1] == 0) and np.all(got[0][:steps - k] == 0)
    # truncation longer than the sequence is the full gradient
    full = T.function([x, h0, W, U], T.grad((_rnn(x, h0, W, U, truncate_gradient=50) ** 2).sum(), h0))
    fc = T.function([x, h0, W, U], (_rnn(x, h0, W, U) ** 2).sum())
    np.testing.assert_allclose(full(*vals), numeric_grad(fc, vals, 1), rtol=1e-6, atol=1e-8)


def test_second_order_through_scan():
    x = T.dvector("x")
    w = T.dscalar("w")
    ys, _ = T.scan(lambda xt, y, w: T.tanh(y * w + xt), sequences=x,
                   outputs_info=T.constant(0.1, dtype="float64"), non_sequences=w)
    cost = (ys ** 2).sum()
    gw = T.grad(cost, w)
    hww = T.grad(gw, w)
    hwx = T.grad(gw, x)
    xa = RNG.standard_normal(4)
    f_gw = T.function([x, w], gw)
    got_ww, got_wx = T.function([x, w], [hww, hwx])(xa, 0.8)
    np.testing.assert_allclose(got_ww, numeric_grad(f_gw, [xa, 0.8], 1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got_wx, numeric_grad(f_gw, [xa, 0.8], 0), rtol=1e-5, atol=1e-7)


def test_integer_states_and_sequences_get_no_gradient():
    x = T.dvector("x")
    idx = T.lvector("idx")
    (ys, cnt), _ = T.scan(lambda xt, i, y, c: (y * 0.5 + xt * T.cast(i, "float64"), c + 1),
                          sequences=[x, idx],
                          outputs_info=[T.constant(0.0, dtype="float64"),
                                        T.constant(np.asarray(0, dtype=np.int64))])
    cost = ys.sum()
    f = T.function([x, idx], [cost, cnt[-1]])
    c, n = f([1.0, 2.0, 3.0], [1, 2, 3])
    assert int(n) == 3
    check_grads([x, idx], cost, [RNG.standard_normal(3), np.array([1, 2, 3])], wrt=[0])


def test_nested_scans_first_and_second_order():
    M = T.dmatrix("M")
    w = T.dscalar("w")

    def outer(row, acc, w):
        c, _ = T.scan(lambda v, a, w: T.tanh(a * w + v), sequences=row,
                      outputs_info=T.constant(0.0, dtype="float64"), non_sequences=w)
        return acc + c[-1] * c.sum()
    s, _ = T.scan(outer, sequences=M, outputs_info=T.constant(0.0, dtype="float64"), non_sequences=w)
    cost = s[-1]
    m = RNG.standard_normal((3, 4))
    check_grads([M, w], cost, [m, 0.7])
    f_gw = T.function([M, w], T.grad(cost, w))
    hww = T.function([M, w], T.grad(T.grad(cost, w), w))(m, 0.7)
    np.testing.assert_allclose(hww, numeric_grad(f_gw, [m, 0.7], 1), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", ["no_rewrites", "FAST_COMPILE"])
def test_scan_and_its_gradient_in_every_compile_mode(mode):
    x, h0, W, U = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("W"), T.dmatrix("U")
    hs = _rnn(x, h0, W, U, mode=mode)
    cost = (hs ** 2).sum()
    vals = _rnn_values(3)
    got = T.function([x, h0, W, U], T.grad(cost, W), mode=mode)(*vals)
    want = T.function([x, h0, W, U], T.grad((_rnn(x, h0, W, U) ** 2).sum(), W))(*vals)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_weight_gradients_are_one_product_after_the_loop_and_differentiable_again():
    x, h0, W, U = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("W"), T.dmatrix("U")
    hs = _rnn(x, h0, W, U)
    cost = (hs ** 2).sum()
    gW, gU = T.grad(cost, [W, U])
    f = T.function([x, h0, W, U], [gW, gU])
    back = [n.op.spec for n in f.schedule if isinstance(n.op, Scan) and (n.op.spec.name or "").startswith("grad")]
    assert len(back) == 1 and back[0].n_sums == 0         # no per-step weight buffer
    vals = _rnn_values(4)
    fc = T.function([x, h0, W, U], cost)
    got = f(*vals)
    np.testing.assert_allclose(got[0], numeric_grad(fc, vals, 2), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got[1], numeric_grad(fc, vals, 3), rtol=1e-6, atol=1e-8)
    # second order through the factored form: d/dU of sum(gU * V)
    V = T.constant(RNG.standard_normal((4, 4)))
    hv = T.grad((gU * V).sum(), U)
    f_gv = T.function([x, h0, W, U], (gU * V).sum())
    np.testing.assert_allclose(T.function([x, h0, W, U], hv)(*vals), numeric_grad(f_gv, vals, 3),
                               rtol=1e-5, atol=1e-7)


def _lstm_case(steps=5):
    x, h0, c0 = T.dtensor3("x"), T.dmatrix("h0"), T.dmatrix("c0")
    w_ih, w_hh, b = T.dmatrix("w_ih"), T.dmatrix("w_hh"), T.dvector("b")
    hs, cs = T.nnet.lstm(x, h0, c0, w_ih, w_hh, b)
    ins = [x, h0, c0, w_ih, w_hh, b]
    H, I, N = 3, 2, 2
    vals = [RNG.standard_normal((steps, N, I)), RNG.standard_normal((N, H)), RNG.standard_normal((N, H)),
            RNG.standard_normal((4 * H, I)) * 0.5, RNG.standard_normal((4 * H, H)) * 0.5,
            RNG.standard_normal(4 * H) * 0.1]
    return ins, (hs ** 2).sum() + (cs[-1] * hs[0]).sum(), vals


def _steps_of(f, prefix):
    return [n.op.spec for n in f.schedule if isinstance(n.op, Scan)
            and (n.op.spec.name or "").startswith(prefix)]


def test_backward_step_reads_the_forward_trajectories_instead_of_computing_them_again(monkeypatch):
    from qiflow.ops.linalg import MatMul
    from qiflow.sym import scan_grad
    ins, cost, vals = _lstm_case()
    grads = T.grad(cost, ins)
    f = T.function(ins, [cost] + grads)
    assert f.report.fired["scan_merge"] >= 1
    fwd, back = _steps_of(f, "lstm"), _steps_of(f, "grad")
    assert len(fwd) == 1 and fwd[0].n_extra > 0         # one forward loop, with the trajectories
    # x @ W_ih.T + h @ W_hh.T (and h @ W_hh.T) are read by the gradient for their shapes only
    # (sum_to_like, the slices' gradients): the loop keeps their shapes, not their values
    shaped = [fwd[0].inner_outputs[k].owner.inputs[0] for k in fwd[0].shape_outs]
    assert len(shaped) >= 2 and any(isinstance(v.owner.op, MatMul) for v in shaped)
    assert len(back) == 1
    # the step's h @ W_hh.T is not computed again: one product per backward step (dh @ W_hh)
    products = [n for n in back[0].fn.schedule if isinstance(n.op, MatMul)]
    assert len(products) == 1
    got = f(*vals)
    fc = T.function(ins, cost)
    for k in range(len(ins)):
        np.testing.assert_allclose(got[1 + k], numeric_grad(fc, vals, k), rtol=1e-6, atol=1e-8,
                                   err_msg=f"gradient of {ins[k]!r}")
    # the same as the backward step that computes the forward step again
    monkeypatch.setattr(scan_grad, "stash_intermediates", False)
    ins2, cost2, _ = _lstm_case()
    f2 = T.function(ins2, [cost2] + T.grad(cost2, ins2))
    assert _steps_of(f2, "lstm")[0].n_extra == 0
    assert len([n for n in _steps_of(f2, "grad")[0].fn.schedule if isinstance(n.op, MatMul)]) == 2
    for a, b in zip(got, f2(*vals)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_forward_only_use_and_unmerged_copies_keep_their_values():
    ins, cost, vals = _lstm_case(4)
    f = T.function(ins, cost)
    assert [s.n_extra for s in _steps_of(f, "lstm")] == [0]      # no gradient: no trajectories
    g = T.grad(cost, ins[3])
    # without the rewrites the loop and its copy both run: same values
    raw = T.function(ins, [cost, g], mode="no_rewrites")
    assert len(_steps_of(raw, "lstm")) == 2
    fast = T.function(ins, [cost, g])
    assert len(_steps_of(fast, "lstm")) == 1
    for a, b in zip(raw(*vals), fast(*vals)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # second order through the trajectories (the copy's own gradient)
    V = T.constant(RNG.standard_normal(g.type.shape if None not in g.type.shape else (12, 2)))
    gv = (g * V).sum()
    fg = T.function(ins, gv)
    np.testing.assert_allclose(T.function(ins, T.grad(gv, ins[4]))(*vals), numeric_grad(fg, vals, 4),
                               rtol=1e-5, atol=1e-7)
