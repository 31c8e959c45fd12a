"""Regression tests of the symbolic compiler and of tracing (``qiflow.sym``,
``qf.compile``): distinct shared variables never merged, results never stale
on new shapes or new values, no replayed randomness, second-order gradients,
and a traced training step equal to the eager one.  Known bugs are pinned as
strict xfails (they fail loudly once fixed, so the marker gets removed).
"""
import numpy as np
import pytest

import qiflow as qf

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def t64(values, grad=True):
    return qf.tensor(np.asarray(values, dtype=np.float64), requires_grad=grad)


# ---------------------------------------------------- symbolic compiler
def test_rewrites_never_merge_distinct_shared_variables_or_inputs():
    T = pytest.importorskip("qiflow.sym")
    a = T.shared(np.ones(3), name="a")
    b = T.shared(np.ones(3), name="b")                # equal values, distinct variables
    x, y = T.dvector("x"), T.dvector("y")
    for mode in (None, "no_rewrites"):
        a.set_value(np.ones(3))
        b.set_value(np.ones(3))
        f = T.function([x, y], [a * 2.0, b * 2.0, x - y, (a - b).sum()], updates=[(a, a + 1.0)],
                       mode=mode)
        r = f([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
        np.testing.assert_array_equal(r[0], [2.0, 2.0, 2.0])
        np.testing.assert_array_equal(r[2], [0.0, 1.0, 2.0])  # x - y is not x - x
        r = f([0.0, 0.0, 0.0], [5.0, 5.0, 5.0])
        np.testing.assert_array_equal(r[0], [4.0, 4.0, 4.0])  # a was updated ...
        np.testing.assert_array_equal(r[1], [2.0, 2.0, 2.0])  # ... b was not
        assert r[3] == 3.0
        np.testing.assert_array_equal(r[2], [-5.0, -5.0, -5.0])
        np.testing.assert_array_equal(b.get_value(), np.ones(3))


def test_compiled_function_on_new_shapes_is_never_stale():
    T = pytest.importorskip("qiflow.sym")
    x = T.dmatrix("x")
    w = T.shared(np.ones((3, 2)), name="w")
    f = T.function([x], [T.tanh(T.dot(x, w) + 1.0), (x * 2).sum(axis=0)])
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s) for s in ((2, 3), (5, 3), (1, 3), (2, 3))]
    results = [f(v) for v in xs]
    for v, (h, s) in zip(xs, results):        # earlier results are not overwritten by later calls
        np.testing.assert_allclose(h, np.tanh(v @ np.ones((3, 2)) + 1.0), rtol=1e-14)
        np.testing.assert_allclose(s, (v * 2).sum(0), rtol=1e-14)
    with pytest.raises(ValueError):
        f(rng.standard_normal((2, 4)))        # a shape that cannot work is an error, not garbage


def test_traced_function_retraces_on_a_new_shape_or_dtype():
    T = pytest.importorskip("qiflow.sym")
    trace = pytest.importorskip("qiflow.trace")
    if not hasattr(trace, "compile"):
        pytest.skip("PENDING: qf.compile (tracing) is not written yet")
    calls = []

    def fn(a):
        calls.append(a.shape)
        return (a * a).sum(axis=-1)

    g = qf.compile(fn)
    for shape in ((2, 3), (2, 3), (4, 5), (2, 3)):
        v = np.random.default_rng(len(calls)).standard_normal(shape)
        np.testing.assert_allclose(np.asarray(g(qf.tensor(v))), (v * v).sum(-1), rtol=1e-12)
    v32 = np.ones((2, 3), np.float32)
    out = g(qf.tensor(v32))
    assert np.asarray(out).dtype == np.float32
    assert len(calls) == 3                     # traced for (2,3) f64, (4,5) f64 and (2,3) f32 only
    del T


def test_symbolic_second_order_gradients():
    T = pytest.importorskip("qiflow.sym")
    x = T.tensor("x", "float64", shape=(2,))
    cost = (x ** 3 + T.sin(x) * x).sum()
    g = T.grad(cost, x)
    hdiag = T.grad(g.sum(), x)
    H = T.hessian(cost, x)
    v = np.array([0.7, -1.3])
    for mode in (None, "no_rewrites"):
        fg, fh, fH = T.function([x], [g, hdiag, H], mode=mode)(v)
        np.testing.assert_allclose(fg, 3 * v ** 2 + np.cos(v) * v + np.sin(v), rtol=1e-13)
        np.testing.assert_allclose(fh, 6 * v - np.sin(v) * v + 2 * np.cos(v), rtol=1e-13)
        np.testing.assert_allclose(fH, np.diag(6 * v - np.sin(v) * v + 2 * np.cos(v)), rtol=1e-13,
                                   atol=1e-15)
    # the same vjps eagerly
    xe = t64(v)
    (ge,) = qf.grad((xe ** 3 + qf.sin(xe) * xe).sum(), xe, create_graph=True)
    (he,) = qf.grad(ge.sum(), xe)
    np.testing.assert_allclose(he.detach().numpy(), fh, rtol=1e-13)


def test_traced_function_reads_captured_tensors_live_and_retraces_on_their_shape():
    pytest.importorskip("qiflow.trace")
    w = qf.tensor(np.array([1.0, 2.0, 3.0]))

    @qf.jit
    def f(x, k):
        return (x * w).sum() * k

    x = qf.tensor(np.ones(3))
    assert f(x, 2.0).item() == 12.0
    assert f(x, 3.0).item() == 18.0                   # a Python number is part of the signature
    w.data[...] = [10.0, 20.0, 30.0]                 # in place: read at call time, not baked in
    assert f(x, 2.0).item() == 120.0
    w.data = np.array([1.0, 1.0, 1.0])               # rebound, same shape
    assert f(x, 2.0).item() == 6.0
    w.data = np.array([1.0, 1.0])                    # rebound, new shape: traced again
    assert f(qf.tensor(np.ones(2)), 2.0).item() == 4.0


def test_traced_randomness_is_never_replayed():
    pytest.importorskip("qiflow.trace")
    drop = qf.nn.Dropout(0.5)

    @qf.jit
    def g(x):
        return drop(x)

    with pytest.warns(UserWarning, match="random"):
        a = g(qf.ones(1000))
    b = g(qf.ones(1000))
    assert (a.detach().numpy() != b.detach().numpy()).any()            # fresh masks, as in eager mode


@pytest.mark.parametrize("mode", [None, "no_rewrites"])
def test_traced_training_step_equals_eager(mode):
    pytest.importorskip("qiflow.trace")

    def make():
        qf.manual_seed(0)
        model = qf.nn.Sequential(qf.nn.Linear(4, 8), qf.nn.Tanh(), qf.nn.Linear(8, 3)).double()
        return model, qf.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    rng = np.random.default_rng(0)
    batches = [(qf.tensor(rng.standard_normal((6, 4))), rng.integers(0, 3, 6)) for _ in range(2)]
    (m1, o1), (m2, o2) = make(), make()
    loss_fn = qf.nn.CrossEntropyLoss()

    def step(model, opt, x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    fast = qf.compile(lambda x, y: step(m2, o2, x, y), mode=mode)
    for i in range(6):
        x, y = batches[i % 2]
        l1 = step(m1, o1, x, y)
        l2 = fast(x, y)
        assert float(l2) == pytest.approx(float(l1), rel=1e-12)
    assert fast.traces == 1 and not any(e.eager for e in fast.cache.values())   # really compiled
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=k)


def test_traced_backward_accumulates_like_eager():
    pytest.importorskip("qiflow.trace")
    a = t64([0.5, 1.0])
    x = qf.tensor(np.array([1.0, 2.0]))

    def fn(v):
        out = (qf.tanh(a * v)).sum()
        out.backward()
        return out

    f = qf.compile(fn)
    f(x)
    f(x)                                             # no zero_grad in between: eager gives twice
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.array([1.0, 2.0]) / np.cosh([0.5, 2.0]) ** 2,
                               rtol=1e-12)


def test_traced_function_without_arguments_is_not_stale():
    pytest.importorskip("qiflow.trace")
    a, b = t64([0.5, 1.0]), t64([2.0, 3.0])

    def fn():
        out = (qf.tanh(a * 2.0) * b).sum()
        out.backward()
        return out

    f = qf.compile(fn)
    f()
    with qf.no_grad():
        b.fill_(100.0)
    a.grad = None
    out = f()
    assert out.item() == pytest.approx(100 * np.tanh([1.0, 2.0]).sum(), rel=1e-12)
    assert a.grad is not None
