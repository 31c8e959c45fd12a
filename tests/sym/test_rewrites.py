"""Each rewrite fires on its pattern and preserves the value (against the
same graph compiled with no rewrites)."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import sym as T

R = np.random.RandomState(0)
V = R.uniform(0.5, 2.0, 5)                  # a positive vector
M = R.uniform(-2, 2, (3, 4))


def _vec(name="x"):
    return T.dvector(name)


def _mat(name="m"):
    return T.dmatrix(name)


def _case(name, build, values, fires=None):
    return pytest.param(name, build, values, fires or name, id=name)


def _fold():
    x = _vec()
    return [x], x * (T.constant(np.float64(2.0)) * 3.0)


def _shape_known():
    x = T.tensor("x", "float64", shape=(2, 3))
    return [x], x.sum() + T.cast(T.shape_of(x), "float64").sum()


def _shape_item_known():
    x = T.tensor("x", "float64", shape=(None, 3))
    dim1 = T.Variable.__getitem__(T.shape_of(x), 1)     # a generic index (x.shape[1] is already 3)
    return [x], x.sum() + T.cast(x.shape[0] + dim1, "float64")


def _count_known():
    x = T.tensor("x", "float64", shape=(2, 3))
    return [x], qf.var(x)


def _fill_known():
    x = T.tensor("x", "float64", shape=(3,))
    return [x], x + T.ones_like(x)


def _broadcast_const_known():
    x = T.tensor("x", "float64", shape=(5,))
    return [x], T.grad((x * x).sum() * 3.0, x)


def _useless_like():
    x = _vec()
    return [x], T.grad((T.exp(x) * 2).sum(), x)


def _bl_in_elemwise():
    x = _mat()
    return [x], T.grad((x * x).mean(), x)


def _useless_cast():
    x = _vec()
    return [x], T.cast(T.cast(x, "float64"), "float64") + 1


def _useless_reshape():
    x = T.tensor("x", "float64", shape=(2, 3))
    return [x], T.reshape(T.reshape(x, (3, 2)), (2, 3)) * 2


def _transpose_transpose():
    x = _mat()
    return [x], x.T.T + 1


def _sigmoid():
    x = _vec()
    return [x], 1 / (1 + T.exp(-x))


def _sigmoid_seed_form():
    x, b = _vec(), T.dscalar("b")
    return [x, b], 1 / (1 + T.exp(-x - b))


def _log_softmax():
    m = _mat()
    return [m], T.log(T.nnet.softmax(m))


def _nll():
    m, y = _mat(), T.lvector("y")
    return [m, y], -T.mean(T.log(T.nnet.softmax(m))[T.arange(y.shape[0]), y])


def _nll_other_order():
    m, y = _mat(), T.lvector("y")
    return [m, y], -T.mean(T.log(T.nnet.softmax(m)[T.arange(y.shape[0]), y]))


def _log_softmax_transposed():
    m = _mat()
    return [m], T.log(T.nnet.softmax(m.T).T)


def _logsumexp():
    m = _mat()
    return [m], T.log(T.sum(T.exp(m), axis=1))


def _softmax_written_out():
    m = _mat()
    e = T.exp(m - T.max(m, axis=1, keepdims=True))
    return [m], e / T.sum(e, axis=1, keepdims=True) * 3


def _gemm():
    a, b, c = _mat("a"), _mat("b"), T.dvector("c")
    return [a, b, c], T.tanh(T.dot(a, b) + c)


def _fusion():
    x = _vec()
    return [x], T.tanh(T.exp(x) * 2 + 1) - x


def _scan_specialize():
    W = T.shared(M.copy(), name="W")               # its shape is known only when compiled
    x = _mat()
    out, _ = T.scan(lambda xt: T.tanh(T.dot(xt, W.T))[:W.shape[0] - 1] * W.shape[1], sequences=x)
    return [x], out


def _scan_merge():
    # the gradient's copy of the loop (which also outputs the intermediate values the
    # backward step reads) and the loop itself run as one node
    x, w = _vec(), T.shared(np.float64(0.7), name="w")
    ys, _ = T.scan(lambda xt, y, w: T.tanh(y * w + xt), sequences=x,
                   outputs_info=T.constant(0.0, dtype="float64"), non_sequences=w)
    cost = (ys ** 2).sum()
    return [x], cost + T.grad(cost, w) * 0.5 + T.grad(cost, x).sum()


def _slice_grads_join():
    # the gradient of four chunks of one product (an LSTM's gates): one join
    x, w = _vec(), T.shared(R.uniform(-1, 1, (5, 8)), name="w")
    a = T.dot(x, w)
    H = w.shape[1] // 4                                   # symbolic: dynamic slices
    gates = [T.tanh(a[k * H:(k + 1) * H]) * (k + 1) for k in range(4)]
    cost = (gates[0] * gates[1] + gates[2] * gates[3]).sum()
    return [x], T.grad(cost, x)


def _scan_gradient_of_a_sequence():
    # a recurrent scan's gradient: the gradient of its states' buffer is read back whole
    # (no array of zeros), the sequence's gradient is the backward loop's output reversed
    # (no zeros, no copy), and that output, read only reversed, is written reversed
    x, w = _mat(), T.shared(R.uniform(-1, 1, (4, 4)), name="w")
    hs, _ = T.scan(lambda xt, h, w: T.tanh(T.dot(h, w) + xt), sequences=x,
                   outputs_info=T.zeros_like(x[0]), non_sequences=w)
    cost = (hs ** 2).sum()
    gx, gw = T.grad(cost, [x, w])
    return [x], (gx * x).sum() + T.dot(T.flatten(gx, 1), T.flatten(gx, 1)) + gw.sum()


def _dynamic_slice_constant():
    W = T.shared(np.ones((3, 2)), name="W")
    x = _vec()
    return [x], x[1:W.shape[0]] * 2


_B = np.array([0.25])
CASES = [
    _case("merge", lambda: ([x := _vec()], (x * 2 + 1) * (x * 2 + 1)), [V]),
    _case("constant_fold", _fold, [V]),
    _case("shape_known", _shape_known, [M[:2, :3]]),
    _case("shape_item_known", _shape_item_known, [M[:2, :3]]),
    _case("count_known", _count_known, [M[:2, :3]]),
    _case("fill_known", _fill_known, [V[:3]]),
    _case("broadcast_const_known", _broadcast_const_known, [V]),
    _case("useless_like", _useless_like, [V]),
    _case("broadcast_like_in_elemwise", _bl_in_elemwise, [M]),
    _case("useless_cast", _useless_cast, [V]),
    _case("useless_reshape", _useless_reshape, [M[:2, :3]]),
    _case("transpose_transpose", _transpose_transpose, [M]),
    _case("mul_one", lambda: ([x := _vec()], x * 1 + (1 * x) * 3), [V]),
    _case("add_zero", lambda: ([x := _vec()], (x + 0) * (0 + x)), [V]),
    _case("sub_zero", lambda: ([x := _vec()], (x - 0) * (0 - x)), [V]),
    _case("sub_self", lambda: ([x := _vec()], T.exp(x) - T.exp(x) + x), [V]),
    _case("div_one", lambda: ([x := _vec()], x / 1 + 2), [V]),
    _case("mul_div_cancel", lambda: ([x := _vec(), y := T.dscalar("y")], (x * y) / y + 1), [V, 3.0]),
    _case("div_mul_cancel", lambda: ([x := _vec(), y := T.dscalar("y")], (x / y) * y + 1), [V, 3.0]),
    _case("neg_neg", lambda: ([x := _vec()], -(-x) * 2), [V]),
    _case("exp_log", lambda: ([x := _vec()], T.exp(T.log(x)) * 2), [V]),
    _case("log_exp", lambda: ([x := _vec()], T.log(T.exp(x)) * 2), [V]),
    _case("pow_specialize", lambda: ([x := _vec()], x ** 2 + x ** 1 + x ** 0), [V]),
    _case("sigmoid_from_exp", _sigmoid, [V - 1]),
    _case("sigmoid_from_exp", _sigmoid_seed_form, [V - 1, 0.5], fires="sigmoid_from_exp"),
    _case("log1p_exp_to_softplus", lambda: ([x := _vec()], T.log(1 + T.exp(x))), [V]),
    _case("log_sigmoid", lambda: ([x := _vec()], T.log(T.nnet.sigmoid(x))), [V]),
    _case("log_one_minus_sigmoid", lambda: ([x := _vec()], T.log(1 - T.nnet.sigmoid(x))), [V],
          fires=("log_one_minus_sigmoid", "one_minus_sigmoid")),
    _case("one_minus_sigmoid", lambda: ([x := _vec()], (1 - T.nnet.sigmoid(x)) * 2), [V]),
    _case("log_softmax", _log_softmax, [M]),
    _case("log_softmax", _nll, [M, np.array([0, 3, 1])]),
    _case("log_through_movement", _nll_other_order, [M, np.array([0, 3, 1])]),
    _case("log_through_movement", _log_softmax_transposed, [M]),
    _case("log_sum_exp", _logsumexp, [M]),
    _case("softmax_composite", _softmax_written_out, [M]),
    _case("remove_stop_gradient", lambda: ([x := _vec()], T.stop_gradient(x) * 2), [V]),
    _case("dot_add", _gemm, [M, M.T, V[:3]]),
    _case("elemwise_fusion", _fusion, [V]),
    _case("scan_specialize", _scan_specialize, [M[:, :4]]),
    _case("dynamic_slice_constant", _dynamic_slice_constant, [V]),
    _case("scan_merge", _scan_merge, [V * 0.3]),
    _case("slice_grads_join", _slice_grads_join, [V]),
    _case("whole_slice_grad", _scan_gradient_of_a_sequence, [M[:, :4]]),
    _case("state_rows_of_their_gradient", _scan_gradient_of_a_sequence, [M[:, :4]]),
    _case("scan_reversed_output", _scan_gradient_of_a_sequence, [M[:, :4]]),
]


@pytest.mark.parametrize("name,build,values,fires", CASES)
def test_rewrite_fires_and_preserves_value(name, build, values, fires):
    inputs, out = build()
    f = T.function(inputs, out)
    raw = T.function(inputs, out, mode="no_rewrites")
    names = (fires,) if isinstance(fires, str) else fires
    assert any(f.report.fired[n] >= 1 for n in names), f"{names} did not fire: {f.report}"
    assert raw.report.fired == {} and raw.report.nodes_after == raw.report.nodes_before
    np.testing.assert_allclose(f(*values), raw(*values), rtol=1e-12, atol=1e-12)


def test_every_registered_rewrite_has_a_case():
    tested = set()
    for c in CASES:
        fires = c.values[3]
        tested.update((fires,) if isinstance(fires, str) else fires)
    missing = {r.name for r in T.all_rewrites()} - tested
    assert not missing, f"rewrites without a test: {sorted(missing)}"


def test_merge_never_merges_distinct_inputs_or_shared():
    a = T.shared(np.ones(3), name="a")
    b = T.shared(np.ones(3), name="b")
    x, y = T.dvector("x"), T.dvector("y")
    f = T.function([x, y], [x * 2 + a, y * 2 + b], updates=[(a, a * 3)])
    r = f(np.ones(3), np.full(3, 5.0))
    np.testing.assert_array_equal(r[0], 3.0)
    np.testing.assert_array_equal(r[1], 11.0)
    np.testing.assert_array_equal(a.get_value(), 3.0)
    np.testing.assert_array_equal(b.get_value(), 1.0)
    r = f(np.ones(3), np.ones(3))
    np.testing.assert_array_equal(r[0], 5.0)
    np.testing.assert_array_equal(r[1], 3.0)


def test_merge_reduces_node_count():
    x = T.dvector("x")
    out = T.exp(x * 2) + T.exp(x * 2)
    f = T.function([x], out, mode=T.Mode(phases=("canonicalize",)))
    assert f.report.fired["merge"] >= 2
    assert f.report.nodes_after < f.report.nodes_before


def test_report_counts_and_summary():
    x = T.dvector("x")
    f = T.function([x], T.log(1 + T.exp(x)) * 1)
    rep = f.report
    assert rep.nodes_before == 4 and rep.nodes_after == 1
    assert "log1p_exp_to_softplus" in rep.summary() and "nodes: 4 -> 1" in rep.summary()


def test_stable_results_for_large_inputs():
    x = T.dvector("x")
    big = np.array([1000.0, -1000.0, 0.0])
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(T.function([x], T.log(1 + T.exp(x)))(big), [1000.0, 0.0, np.log(2)])
        np.testing.assert_allclose(T.function([x], T.log(T.nnet.sigmoid(x)))(big),
                                   [0.0, -1000.0, -np.log(2)])
        np.testing.assert_allclose(T.function([x], T.log(1 - T.nnet.sigmoid(x)))(big),
                                   [-1000.0, 0.0, -np.log(2)])
        assert np.isfinite(T.function([x], T.log(T.sum(T.exp(x))))(big))
        raw = T.function([x], T.log(1 + T.exp(x)), mode="no_rewrites")(big)
    assert not np.isfinite(raw).all()


@pytest.mark.parametrize("layout", ["plain", "transpose", "reshape"])
def test_cross_entropy_on_huge_logits(layout):
    z = T.dmatrix("z")
    y = T.lvector("y")
    logits = {"plain": z, "transpose": z.T.T, "reshape": T.reshape(z, (-1,)).reshape((3, 4))}[layout]
    p = T.nnet.softmax(logits)
    if layout == "transpose":
        lp = T.log(p.T).T
    elif layout == "reshape":
        lp = T.reshape(T.log(T.reshape(p, (-1,))), (3, 4))
    else:
        lp = T.log(p)
    nll = -T.mean(lp[T.arange(y.shape[0]), y])
    g = T.grad(nll, z)
    f = T.function([z, y], [nll, g])
    Z = R.randn(3, 4) * 1000
    Y = np.array([0, 1, 2])
    val, grad = f(Z, Y)
    ref = -np.mean((Z - Z.max(1, keepdims=True) - np.log(np.exp(Z - Z.max(1, keepdims=True)).sum(1,
                   keepdims=True)))[np.arange(3), Y])
    assert np.isfinite(val) and np.isfinite(grad).all()
    np.testing.assert_allclose(val, ref, rtol=1e-12)


def test_binary_cross_entropy_on_huge_logits_and_gradient():
    z = T.dvector("z")
    t = T.dvector("t")
    loss = T.nnet.binary_crossentropy(T.nnet.sigmoid(z), t).mean()
    f = T.function([z, t], [loss, T.grad(loss, z)])
    Z = np.array([1000.0, -1000.0, 3.0])
    Y = np.array([0.0, 1.0, 1.0])
    val, g = f(Z, Y)
    ref = np.mean(np.logaddexp(0, Z) - Y * Z)
    np.testing.assert_allclose(val, ref, rtol=1e-12)
    np.testing.assert_allclose(g, (0.5 * (1 + np.tanh(Z / 2)) - Y) / 3, rtol=1e-12)


@pytest.mark.parametrize("cuts,fires", [([(0, 2), (2, 4)], True),           # a prefix of x
                                        ([(2, 4), (0, 2), (4, 8)], True),   # all of x, any order
                                        ([(0, 2), (3, 5)], False),          # a gap
                                        ([(0, 3), (2, 5)], False)])         # overlapping
def test_slice_grads_join_only_on_tilings(cuts, fires):
    x, w = _vec(), T.shared(R.uniform(-1, 1, (5, 8)), name="w")
    a = T.dot(x, w)
    n = w.shape[1] // 8                                   # 1, symbolic until compiled
    parts = [T.exp(a[i * n:j * n]) * (k + 1) for k, (i, j) in enumerate(cuts)]
    g = T.grad(sum(p.sum() for p in parts), x)
    f = T.function([x], g)
    assert (f.report.fired["slice_grads_join"] >= 1) == fires
    np.testing.assert_allclose(f(V), T.function([x], g, mode="no_rewrites")(V), rtol=1e-12)
