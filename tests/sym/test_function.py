"""T.function: inputs, outputs, updates, givens, type checks and errors; shared
variables; symbolic shapes; grad options; printing."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import sym as T
from qiflow import QiflowError


def test_outputs_forms_and_kwargs():
    x, y = T.dscalar("x"), T.dscalar("y")
    assert T.function([x, y], [x + y, x * y])(2, 3) == [5.0, 6.0]
    assert T.function([x], [], on_unused_input="ignore")(1.0) == []
    assert T.function([x, y], x - y)(y=1.0, x=4.0) == 3.0
    assert T.function([x], 7, on_unused_input="ignore")(1.0) == 7
    with pytest.raises(TypeError, match="takes 2 inputs"):
        T.function([x, y], x + y)(1.0)


def test_input_type_checking():
    x = T.dmatrix("x")
    i = T.iscalar("i")
    f = T.function([x, i], x.sum() + i)
    assert f([[1, 2]], 3) == 6.0                                     # lists and ints are fine
    assert f(np.ones((2, 2), np.float32), np.int64(1)) == 5.0       # same-kind casts are fine
    with pytest.raises(TypeError, match=r"input 0 \(x\) expects TensorType\(float64, matrix\) \(ndim 2\)"):
        f([1.0, 2.0], 1)
    with pytest.raises(TypeError, match=r"input 1 \(i\) expects dtype int32"):
        f([[1.0]], 1.5)
    with pytest.raises(TypeError, match="expects dtype int32"):
        f([[1.0]], np.float64(1.0))
    with pytest.raises(TypeError, match="does not fit int32"):
        f([[1.0]], 2 ** 40)
    fixed = T.tensor("v", "float64", shape=(3,))
    with pytest.raises(TypeError, match=r"expects shape \(3,\)"):
        T.function([fixed], fixed * 2)(np.ones(4))


def test_compile_errors_are_clear():
    x, y = T.dscalar("x"), T.dscalar("y")
    s = T.shared(1.0, name="s")
    with pytest.raises(QiflowError, match="not among the inputs"):
        T.function([x], x + y)
    with pytest.raises(QiflowError, match="is not used"):
        T.function([x, y], x * 2)
    assert T.function([x, y], x * 2, on_unused_input="ignore")(1.0, 2.0) == 2.0
    with pytest.raises(QiflowError, match="shared variable"):
        T.function([s], s * 2)
    with pytest.raises(QiflowError, match="updated twice"):
        T.function([x], x, updates=[(s, s + 1), (s, s + 2)])
    with pytest.raises(QiflowError, match="must target shared variables"):
        T.function([x], x, updates=[(x, x + 1)])
    with pytest.raises(QiflowError, match="same number of dimensions"):
        T.function([x], x, updates=[(s, T.dvector("v"))])
    with pytest.raises(QiflowError, match="cast it explicitly"):
        T.function([x], x, updates=[(T.shared(0), x)])


def test_givens_cycle_is_an_error():
    b, c = T.dscalar("b"), T.dscalar("c")
    a = b + c
    with pytest.raises(QiflowError, match="cycle"):
        T.function([b], a, givens={c: a})


def test_givens_replace_intermediate_and_constant():
    x = T.dvector("x")
    h = T.exp(x)
    out = h * 2
    g = T.function([x], out, givens={h: x + 1})
    np.testing.assert_allclose(g([1.0, 2.0]), [4.0, 6.0])


def test_updates_read_old_values_and_dict_form():
    a = T.shared(np.array([1.0, 2.0]), name="a")
    b = T.shared(np.array([10.0, 20.0]), name="b")
    swap = T.function([], [a + 0, b * 1], updates={a: b, b: a})
    old = swap()
    np.testing.assert_array_equal(old[0], [1, 2])
    np.testing.assert_array_equal(a.get_value(), [10, 20])
    np.testing.assert_array_equal(b.get_value(), [1, 2])
    a.get_value(borrow=True)[0] = 99.0       # a borrowed view of a's own array...
    np.testing.assert_array_equal(b.get_value(), [1, 2])   # ...is not b's


def test_in_place_update_keeps_values_right():
    w = T.shared(np.arange(4.0), name="w")
    x = T.dvector("x")
    out = (w * x).sum()
    step = T.function([x], [out, w], updates=[(w, w - 0.5 * x)])
    r = step(np.ones(4))
    assert r[0] == 6.0
    np.testing.assert_array_equal(r[1], [0, 1, 2, 3])           # the old value, not aliased
    np.testing.assert_array_equal(w.get_value(), [-0.5, 0.5, 1.5, 2.5])
    r2 = step(np.ones(4))
    np.testing.assert_array_equal(r[1], [0, 1, 2, 3])           # earlier results untouched
    np.testing.assert_array_equal(r2[1], [-0.5, 0.5, 1.5, 2.5])


def test_shared_variables():
    s = T.shared(np.zeros(3, np.float32), name="s")
    assert s.dtype == np.float32 and s.type.shape == (None,)
    assert T.shared(0.).dtype == np.float64
    arr = np.ones(2)
    b = T.shared(arr, borrow=True)
    assert b.get_value(borrow=True) is arr
    c = T.shared(arr)
    assert c.get_value(borrow=True) is not arr
    v = c.get_value()
    v[0] = 5
    assert c.get_value()[0] == 1.0
    c.set_value([3, 4])
    np.testing.assert_array_equal(c.get_value(), [3.0, 4.0])
    with pytest.raises(QiflowError, match="ndim 1"):
        c.set_value(np.ones((2, 2)))
    with pytest.raises(QiflowError, match="cannot store"):
        T.shared(0).set_value(1.5)


def test_runtime_error_names_op_and_line():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    z = T.dot(x, y)       # the line the error must name
    line = z.owner.tag
    f = T.function([x, y], z * 2)
    with pytest.raises(QiflowError) as info:
        f(np.ones((2, 3)), np.ones((4, 5)))
    msg = str(info.value)
    assert "MatMul" in msg and "test_function.py" in msg and line in msg
    assert "float64[2, 3]" in msg and "float64[4, 5]" in msg


def test_trusted_entry_runs_the_same_code_without_checks_or_copies():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    z = T.dot(x, y)
    line = z.owner.tag
    f = T.function([x, y], [z * 2, x, T.tanh(x).sum() + y])
    a, b = np.arange(6.0).reshape(2, 3) / 7, np.ones((3, 3)) / 3
    want = f(a, b)
    assert f._trusted_fn is None            # compiled on first use only
    got = f.trusted(a, b)
    assert f.trusted is f.trusted
    for w, g in zip(want, got):
        np.testing.assert_array_equal(w, g)
    assert want[1] is not a and np.shares_memory(got[1], a)     # the output that is an input
    with pytest.raises(QiflowError) as info:                    # errors still name the node
        f.trusted(np.ones((2, 3)), np.ones((4, 5)))
    assert "MatMul" in str(info.value) and line in str(info.value)
    s = T.shared(np.ones(2))
    assert T.function([x], x.sum() + s.sum()).trusted is None     # reads shared variables
    assert T.function([x], x.sum(), updates=[(s, s * 2)]).trusted is None


def test_build_error_names_shapes_and_line():
    x = T.tensor("x", "float64", shape=(2, 3))
    y = T.tensor("y", "float64", shape=(4, 5))
    with pytest.raises(QiflowError, match=r"\(2, 3\).*\(4, 5\).*test_function.py"):
        T.dot(x, y)


def test_symbolic_shape_and_arange():
    y = T.ivector("y")
    n = y.shape[0]
    assert isinstance(n, T.Variable) and n.ndim == 0 and n.dtype == np.int64
    f = T.function([y], [n, T.arange(n), T.arange(2, n, 2)])
    r = f(np.arange(7, dtype=np.int32))
    assert r[0] == 7
    np.testing.assert_array_equal(r[1], np.arange(7))
    np.testing.assert_array_equal(r[2], [2, 4, 6])
    k = T.tensor("k", "float32", shape=(None, 3))
    assert k.shape[1] == 3 and len(k.shape) == 2
    assert T.tensor("f", shape=(2, 3)).shape == (2, 3)
    with pytest.raises(TypeError, match="truth value"):
        bool(y > 0)


def test_qiflow_functions_on_variables_and_weak_scalars():
    v = T.fvector("v")
    assert (v * 2.0).dtype == np.float32 and (v + 1).dtype == np.float32
    assert (T.ivector() + 1.5).dtype == np.float64
    out = qf.exp(v) + F_softmax(v)
    r = T.function([v], out)(np.array([0.0, 1.0], np.float32))
    assert r.dtype == np.float32
    e = np.exp([0.0, 1.0])
    np.testing.assert_allclose(r, e + e / e.sum(), rtol=1e-6)
    np.testing.assert_allclose(T.function([v], np.exp(v))(np.zeros(2, np.float32)), [1, 1])


def F_softmax(v):
    from qiflow import functional
    return functional.softmax(v, axis=0)


def test_dynamic_slice_and_its_gradient():
    data = T.shared(np.arange(12.0).reshape(6, 2), name="data")
    i = T.lscalar("i")
    part = data[i * 2:(i + 1) * 2]
    f = T.function([i], [part, T.grad((part ** 2).sum(), data)])
    val, g = f(1)
    np.testing.assert_array_equal(val, [[4, 5], [6, 7]])
    ref = np.zeros((6, 2))
    ref[2:4] = 2 * np.array([[4, 5], [6, 7]])
    np.testing.assert_array_equal(g, ref)


def test_grad_options():
    x, y = T.dscalar("x"), T.dscalar("y")
    c = x * y + x ** 2
    gx, gy = T.grad(c, [x, y])
    f = T.function([x, y], [gx, gy])
    assert f(3.0, 5.0) == [11.0, 3.0]
    # consider_constant: no gradient flows through h
    h = T.exp(x)
    cost = x * h
    g_cc = T.function([x], T.grad(cost, x, consider_constant=[h]))
    g_all = T.function([x], T.grad(cost, x))
    np.testing.assert_allclose(g_cc(1.0), np.exp(1.0))
    np.testing.assert_allclose(g_all(1.0), 2 * np.exp(1.0))
    z = T.dscalar("z")
    with pytest.raises(QiflowError, match="does not depend on z"):
        T.grad(c, z)
    gz = T.grad(c, z, disconnected_inputs="ignore")
    assert T.function([x, y, z], gz, on_unused_input="ignore")(1.0, 1.0, 1.0) == 0.0
    with pytest.warns(UserWarning, match="does not depend"):
        T.grad(c, z, disconnected_inputs="warn")
    with pytest.raises(QiflowError, match="must be a scalar"):
        T.grad(T.dvector("v") * 2, x)
    with pytest.raises(TypeError, match="integer type"):
        T.grad(c, T.iscalar("i"))
    assert T.grad(cost=c, wrt=x) is not None


def test_grad_against_finite_differences():
    x = T.dvector("x")
    W = T.dmatrix("W")
    cost = T.sum(T.tanh(T.dot(W, x)) ** 2) + T.nnet.softplus(x).mean()
    g = T.function([x, W], T.grad(cost, [x, W]))
    f = T.function([x, W], cost)
    rng = np.random.RandomState(3)
    xv, Wv = rng.randn(3), rng.randn(2, 3)
    gx, gW = g(xv, Wv)
    eps = 1e-6
    for k in range(3):
        d = np.zeros(3)
        d[k] = eps
        num = (f(xv + d, Wv) - f(xv - d, Wv)) / (2 * eps)
        np.testing.assert_allclose(gx[k], num, rtol=1e-6, atol=1e-9)
    d = np.zeros((2, 3))
    d[1, 2] = eps
    np.testing.assert_allclose(gW[1, 2], (f(xv, Wv + d) - f(xv, Wv - d)) / (2 * eps), rtol=1e-6)


def test_jacobian_and_hessian():
    x = T.dvector("x")
    J = T.function([x], T.jacobian(T.exp(x) * x.sum(), x))
    xv = np.array([0.5, -1.0, 2.0])
    ref = np.diag(np.exp(xv) * xv.sum()) + np.exp(xv)[:, None]
    np.testing.assert_allclose(J(xv), ref, rtol=1e-12)
    H = T.function([x], T.hessian((x ** 3).sum() + x[0] * x[1], x))
    np.testing.assert_allclose(H([1.0, 2.0]), [[6.0, 1.0], [1.0, 12.0]])
    xs = T.tensor("xs", "float64", shape=(2,))
    np.testing.assert_allclose(T.function([xs], T.jacobian(xs * xs[0], xs))([2.0, 3.0]),
                               [[4.0, 0.0], [3.0, 2.0]])


def test_pp_and_debugprint():
    x = T.dmatrix("x")
    y = T.dmatrix("y")
    z = x + y
    z.name = "z"
    assert T.pp(T.exp(z) * 2) == "(exp((x + y)) * TensorConstant{2.0})"
    text = T.debugprint(z, file="str")
    assert text.splitlines() == ["Add 'z' [id A] <float64 (?, ?)>",
                                 " |x [id B] <float64 (?, ?)>",
                                 " |y [id C] <float64 (?, ?)>"]
    w = T.shared(np.ones(2), name="w")
    v = T.dvector("v")
    f = T.function([v], T.log(1 + T.exp(v * w)), updates=[(w, w * 2)])
    text = T.debugprint(f, file="str")
    assert "Softplus" in text or "Fused" in text
    assert "update of w:" in text and "[id" in text
    # a shared subtree is printed once, then referred to by its id
    s = T.exp(v)
    text = T.debugprint(s + s, file="str")
    assert text.count("Exp") == 2 and text.rstrip().endswith("...")


def test_eval():
    x = T.dscalar("x")
    assert (x * 3).eval({x: 2.0}) == 6.0
    assert T.constant(2.0).eval() == 2.0


def test_shared_shape_change_recompiles():
    w = T.shared(np.ones(3), name="w")
    x = T.dvector("x")
    f = T.function([x], (w * x).sum() + T.grad((w * x).sum(), w).sum())
    assert f(np.full(3, 2.0)) == 12.0
    w.set_value(np.ones(1))             # now w broadcasts against x
    assert f(np.full(4, 2.0)) == 16.0
    w.set_value(np.ones(3))
    assert f(np.full(3, 2.0)) == 12.0


def test_core_functions_accept_variables():
    y, m = T.ivector("y"), T.fmatrix("m")
    r = qf.arange(y.shape[0])
    p = qf.functional.softmax(m, axis=1)
    pick = T.log(p)[qf.arange(y.shape[0]), y]
    f = T.function([y, m], [r, p, pick, p > 0.5, T.argmax(p, axis=1)])
    mv = np.array([[0.0, 1.0], [2.0, 0.0]], np.float32)
    rr, pp, pk, gt, am = f(np.array([1, 0], np.int32), mv)
    np.testing.assert_array_equal(rr, [0, 1])
    e = np.exp(mv) / np.exp(mv).sum(1, keepdims=True)
    np.testing.assert_allclose(pp, e, rtol=1e-6)
    np.testing.assert_allclose(pk, np.log(e)[[0, 1], [1, 0]], rtol=1e-5)
    np.testing.assert_array_equal(gt, e > 0.5)
    np.testing.assert_array_equal(am, [1, 0])
    assert pp.dtype == np.float32 and am.dtype == np.int64


def test_buffer_reuse_never_aliases_results():
    x, W, b = T.dmatrix("x"), T.dmatrix("W"), T.dvector("b")
    h = T.tanh(T.dot(x, W) + b)
    f = T.function([x, W, b], [h, h.sum()])
    assert f.report.fired["dot_add"] == 1
    W0, b0 = np.ones((3, 2)), np.zeros(2)
    r1 = f(np.ones((4, 3)), W0, b0)
    keep = r1[0].copy()
    r2 = f(np.full((4, 3), -1.0), W0, b0)
    np.testing.assert_array_equal(r1[0], keep)            # not overwritten by the second call
    np.testing.assert_allclose(r2[0], -keep)
    # a large broadcast gradient (a read-only view) is never written in place
    v = T.dvector("v")
    g = T.function([v], T.grad((v * 3).mean(), v) * 2 + 1)(np.ones(10000))
    np.testing.assert_allclose(g, 6 / 10000 + 1)


def test_theano_idioms_dimshuffle_flatten_downcast():
    b = T.dvector("b")
    x = T.dtensor4("x")
    y = x + b.dimshuffle('x', 0, 'x', 'x')
    f = T.function([x, b], [y, T.flatten(x, 2), x.dimshuffle(0, 2, 3, 1)])
    xv = np.arange(24.0).reshape(1, 2, 3, 4)
    r = f(xv, [10.0, 20.0])
    np.testing.assert_array_equal(r[0], xv + np.array([10.0, 20.0])[None, :, None, None])
    assert r[1].shape == (1, 24) and r[2].shape == (1, 3, 4, 2)
    i = T.iscalar("i")
    with pytest.raises(TypeError, match="expects dtype int32"):
        T.function([i], i * 2)(2.0)
    assert T.function([i], i * 2, allow_input_downcast=True)(2.0) == 4


def test_flatten_gradient():
    x = T.dtensor3("x")
    g = T.function([x], T.grad((T.flatten(x, 2) ** 2).sum(), x))
    xv = np.arange(12.0).reshape(2, 3, 2)
    np.testing.assert_array_equal(g(xv), 2 * xv)
