"""Theano's names and meanings in qiflow.sym (issue 13, part 3): dtype strings,
truth values, TensorType's broadcastable pattern, allocation with symbolic
sizes, set/inc_subtensor, reshape/flatten, round(mode=), mean(dtype=), norm,
grad's options, In, f.maker.fgraph, config.floatX, Print and pydotprint."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import sym as T
from qiflow import QiflowError


def fd_grad(f, x, eps=1e-6):
    """Central differences of a scalar function of one float64 array."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


# ------------------------------------------------------------------ dtypes
def test_dtype_is_a_string_that_still_compares_as_numpy():
    y = T.ivector("y")
    assert isinstance(y.dtype, str) and y.dtype == "int32" and y.dtype.startswith("int")
    assert y.dtype == np.int32 and y.dtype == np.dtype("int32") and y.dtype != np.int64
    assert y.dtype.kind == "i" and y.dtype.itemsize == 4 and y.dtype.str == "<i4"
    assert y.dtype in T.discrete_dtypes and y.dtype not in T.float_dtypes
    assert {y.dtype: 1}["int32"] == 1          # hashes as the string (Theano code keys by name)
    assert np.zeros(2, dtype=T.fmatrix().dtype).dtype == np.float32
    assert repr(T.dvector().dtype) == "'float64'"
    assert (T.fvector() * 2.0).dtype == "float32"
    assert T.fvector().dtype != None           # noqa: E711 (a comparison with None is False)


def test_truth_values_follow_theano():
    x = T.dmatrix("x")
    assert bool(x) and bool(x + 1) and bool(T.shared(np.zeros(2)))
    W = None
    assert (x if not W else W) is x
    for cmp in (x < 1, x <= 1, x > 1, x >= 1, T.eq(x, 1), T.neq(x, 1)):
        with pytest.raises(TypeError, match="truth value"):
            bool(cmp)


def test_tensortype_reads_broadcastable_flags():
    col = T.TensorType("float64", (False, True))
    assert col.shape == (None, 1) and col.broadcastable == (False, True)
    assert T.TensorType("float32", (False, False)) == T.fmatrix
    v = col("c")
    assert v.broadcastable == (False, True)
    m = T.dmatrix("m")
    out = T.function([v, m], v + m)(np.ones((2, 1)), np.zeros((2, 3)))
    assert out.shape == (2, 3)
    assert T.TensorType("int64", (3, None)).shape == (3, None)     # ints are still a shape


def test_plural_constructors():
    a, b = T.dscalars("a", "b")
    assert (a.name, b.name, a.dtype) == ("a", "b", "float64")
    m1, m2 = T.fmatrices(2)
    assert m1.ndim == 2 and m1.dtype == "float32" and m1 is not m2


# ------------------------------------------------------- symbolic sizes
def test_alloc_zeros_ones_eye_fill_with_symbolic_sizes():
    n = T.lscalar("n")
    x = T.dmatrix("x")
    f = T.function([n, x], [T.zeros((n, 2)), T.ones(n, dtype="int32"), T.alloc(1.5, n, 3),
                            T.eye(n), T.eye(n, n + 1, 1), T.fill(x, 7.0),
                            T.zeros_like(x, dtype="int64"), T.ones_like(x),
                            T.zeros(x.shape)])
    z, o, a, e, e2, fl, zl, ol, zs = f(3, np.ones((2, 4)))
    np.testing.assert_array_equal(z, np.zeros((3, 2)))
    assert z.dtype == qf.get_default_dtype() and o.dtype == np.int32 and o.shape == (3,)
    np.testing.assert_array_equal(a, np.full((3, 3), 1.5))
    np.testing.assert_array_equal(e, np.eye(3))
    np.testing.assert_array_equal(e2, np.eye(3, 4, 1))
    np.testing.assert_array_equal(fl, np.full((2, 4), 7.0))
    assert zl.dtype == np.int64 and zl.shape == (2, 4) and (ol == 1).all()
    assert zs.shape == (2, 4)
    np.testing.assert_array_equal(T.eye(2, 3).eval(), np.eye(2, 3))


def test_alloc_gradient_sums_the_broadcast():
    v = T.dvector("v")
    n = T.lscalar("n")
    cost = (T.alloc(v, n, 3) * np.arange(6.0).reshape(2, 3)).sum()
    g = T.function([v, n], T.grad(cost, v))(np.ones(3), 2)
    np.testing.assert_allclose(g, [3.0, 5.0, 7.0])


def test_reshape_with_symbolic_sizes_and_its_gradient():
    x = T.dvector("x")
    n = T.lscalar("n")
    y = x.reshape((n, -1))
    assert y.ndim == 2
    f = T.function([x, n], [y, T.reshape(x, (2, n)), x.reshape((x.shape[0] // 2, 2))])
    a, b, c = f(np.arange(6.0), 3)
    assert a.shape == (3, 2) and b.shape == (2, 3) and c.shape == (3, 2)
    w = np.random.default_rng(0).normal(size=(3, 2))
    gf = T.function([x, n], T.grad((y * w).sum(), x))
    np.testing.assert_allclose(gf(np.arange(6.0), 3), w.ravel())
    with pytest.raises(QiflowError, match="cannot reshape"):
        f(np.arange(6.0), 4)


def test_flatten_has_theanos_meaning_on_variables():
    x = T.tensor4("x")
    assert x.flatten(2).ndim == 2 and x.flatten().ndim == 1 and x.flatten(3).ndim == 3
    a = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    r2, r1, r3 = T.function([x], [x.flatten(2), x.flatten(), T.flatten(x, outdim=3)])(a)
    assert r2.shape == (2, 60) and r1.shape == (120,) and r3.shape == (2, 3, 20)
    np.testing.assert_array_equal(r2, a.reshape(2, -1))
    with pytest.raises(ValueError, match="ndim must be in"):
        x.flatten(5)


def test_flatten_inside_qf_compile_keeps_pytorchs_meaning():
    def f(t):
        return t.flatten(1)
    a = qf.tensor(np.ones((2, 3, 4), np.float32))
    assert qf.compile(f)(a).shape == f(a).shape == (2, 12)


def test_set_and_inc_subtensor():
    x = T.dmatrix("x")
    i = T.lscalar("i")
    y = T.dvector("y")
    xv = np.arange(6.0).reshape(3, 2)
    f = T.function([x, i, y], [T.set_subtensor(x[1:, 0], y), T.inc_subtensor(x[[0, 0, 2], 1], 1.0),
                               T.set_subtensor(x[i:i + 1], 9.0), T.inc_subtensor(x[i], y)])
    s, inc, d, r = f(xv, 1, np.array([10.0, 20.0]))
    exp = xv.copy(); exp[1:, 0] = [10, 20]
    np.testing.assert_array_equal(s, exp)
    exp = xv.copy(); exp[0, 1] += 2; exp[2, 1] += 1          # repeated indices accumulate
    np.testing.assert_array_equal(inc, exp)
    exp = xv.copy(); exp[1] = 9
    np.testing.assert_array_equal(d, exp)
    exp = xv.copy(); exp[1] += [10, 20]
    np.testing.assert_array_equal(r, exp)
    np.testing.assert_array_equal(xv, np.arange(6.0).reshape(3, 2))    # x is never changed
    with pytest.raises(QiflowError, match="subtensor of a variable"):
        T.set_subtensor(x, 1.0)


def test_subtensor_gradients_by_finite_differences():
    x = T.dmatrix("x")
    y = T.dvector("y")
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 2))
    xv, yv = rng.normal(size=(3, 2)), rng.normal(size=2)
    for make in (lambda: T.set_subtensor(x[1:, 0], y), lambda: T.inc_subtensor(x[[0, 0], :], y)):
        cost = (make() ** 2 * w).sum()
        gx, gy = T.function([x, y], T.grad(cost, [x, y]))(xv, yv)
        c = T.function([x, y], cost)
        np.testing.assert_allclose(gx, fd_grad(lambda a: c(a, yv), xv), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gy, fd_grad(lambda b: c(xv, b), yv), rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------ arithmetic
def test_round_modes_and_norm_and_mean_dtype():
    x = T.dvector("x")
    v = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1.2])
    even, away, default, meth = T.function(
        [x], [T.round(x, mode="half_to_even"), T.round(x, "half_away_from_zero"), T.round(x),
              x.round(mode="half_away_from_zero")])(v)
    np.testing.assert_array_equal(even, np.round(v))
    np.testing.assert_array_equal(away, [1, 2, 3, -1, -2, 1])
    np.testing.assert_array_equal(default, np.round(v))
    np.testing.assert_array_equal(meth, away)
    with pytest.raises(ValueError, match="mode must be"):
        T.round(x, "up")
    n1, n2, n3, ninf = T.function([x], [x.norm(1), x.norm(2), x.norm(3), x.norm(np.inf)])(v)
    np.testing.assert_allclose([n1, n2, n3, ninf], [np.linalg.norm(v, p) for p in (1, 2, 3, np.inf)])
    m = T.dmatrix("m")
    np.testing.assert_allclose(T.function([m], m.norm(2, axis=1))(np.array([[3.0, 4.0]])), [5.0])
    i = T.ivector("i")
    mf = i.mean(dtype="float32")
    assert mf.dtype == "float32" and T.mean(i, dtype="float64").dtype == "float64"
    assert T.function([i], mf)(np.array([1, 2], np.int32)) == np.float32(1.5)
    assert T.sum(i, dtype="int64").dtype == "int64"


# ------------------------------------------------------------------ grad
def test_gradient_through_an_integer_cast_is_zero():
    x = T.dvector("x")
    cost = T.cast(x, "int32").sum() * 1.0 + (x > 0).sum() * 2.0
    g = T.function([x], T.grad(cost, x))(np.array([1.5, -2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0])
    mixed = T.function([x], T.grad((x ** 2).sum() + T.round(x).sum(), x))(np.array([1.5, 2.0]))
    np.testing.assert_allclose(mixed, [3.0, 4.0])
    with pytest.raises(QiflowError, match="does not depend"):
        T.grad((x * 2).sum(), T.dvector("z"))


def test_grad_known_grads_and_consider_constant():
    x = T.dvector("x")
    w = T.dvector("w")
    h = x * w
    # known_grads alone: backpropagate a given gradient of h
    gx = T.grad(None, x, known_grads={h: T.ones_like(h) * 2.0})
    np.testing.assert_allclose(T.function([x, w], gx)([1.0, 2.0], [3.0, 4.0]), [6.0, 8.0])
    # with a cost: the contributions add
    gx2 = T.grad(x.sum(), x, known_grads={h: T.ones_like(h)})
    np.testing.assert_allclose(T.function([x, w], gx2)([1.0, 2.0], [3.0, 4.0]), [4.0, 5.0])
    # consider_constant: no gradient flows through h's factor
    c = (h * x).sum()
    gc = T.grad(c, x, consider_constant=[h])
    np.testing.assert_allclose(T.function([x, w], gc)([1.0, 2.0], [3.0, 4.0]), [3.0, 8.0])
    z = T.dvector("z")
    gz = T.grad(x.sum(), [x, z], disconnected_inputs="ignore")
    np.testing.assert_array_equal(T.function([z], gz[1])([5.0, 6.0]), [0.0, 0.0])
    with pytest.raises(TypeError, match="cost or known_grads"):
        T.grad(None, x)


# ------------------------------------------------------- function & co.
def test_in_defaults_and_names():
    x, y = T.dscalars("x", "y")
    f = T.function([x, T.In(y, value=10.0, name="bias")], x + y)
    assert f(1.0) == 11.0 and f(1.0, 2.0) == 3.0 and f(1.0, bias=5.0) == 6.0
    with pytest.raises(TypeError, match="no value and no default"):
        T.function([T.In(x), y], x + y)(y=1.0)
    with pytest.raises(QiflowError, match="not supported"):
        T.In(x, mutable=True)


def test_maker_fgraph_is_the_optimised_graph():
    x = T.dvector("x")
    f = T.function([x], (x * 1.0).sum())
    assert f.maker.fgraph is f.fgraph
    assert f.maker.fgraph.outputs[0].owner.op == f.fgraph.outputs[0].owner.op
    assert f.maker.inputs[0] is x


def test_config_floatx_is_settable_and_used():
    old = T.config.floatX
    try:
        T.config.floatX = "float64"
        assert T.matrix().dtype == "float64" and T.zeros((2,)).dtype == "float64"
        assert T.config.floatX == "float64" and qf.get_default_dtype() == np.float64
        T.config.floatX = "float32"
        assert T.vector().dtype == "float32"
        with pytest.raises(ValueError, match="floatX"):
            T.config.floatX = "int32"
        with pytest.raises(AttributeError, match="no such setting"):
            T.config.no_such_flag = 1
        assert T.config.device == "cpu"
    finally:
        T.config.floatX = old


def test_print_prints_at_run_time_and_passes_gradients(capsys):
    x = T.dvector("x")
    y = T.Print("value of x:")(x)
    f = T.function([x], (y ** 2).sum())
    capsys.readouterr()
    assert f([1.0, 2.0]) == 5.0
    assert "value of x: __str__ = [1. 2.]" in capsys.readouterr().out
    g = T.function([x], T.grad((y ** 2).sum(), x))([1.0, 2.0])
    np.testing.assert_allclose(g, [2.0, 4.0])
    T.function([x], T.Print("shape", attrs=("shape",))(x))([1.0])
    assert "shape shape = (1,)" in capsys.readouterr().out


def test_pydotprint_writes_dot_source(tmp_path):
    x = T.dvector("x")
    f = T.function([x], T.exp(x).sum())
    path = T.pydotprint(f, outfile=str(tmp_path / "g.dot"), format="dot")
    text = open(path).read()
    assert text.startswith("digraph") and "x" in text and "->" in text
    import shutil
    if shutil.which("dot") is None:
        with pytest.raises(RuntimeError, match="graphviz"):
            T.pydotprint(f, outfile=str(tmp_path / "g.png"))
    else:
        assert T.pydotprint(f, return_image=True)[:4] == b"\x89PNG"


def test_the_primitives_behind_the_names():
    from qiflow.ops.dynamic import Alloc, DynamicReshape
    from qiflow.ops.subtensor import SetSubtensor
    from qiflow.sym.printing import PrintOp
    x, n = T.dvector("x"), T.lscalar("n")
    assert isinstance(T.zeros((n, 2)).owner.op, Alloc)
    assert isinstance(x.reshape((n, -1)).owner.op, DynamicReshape)
    assert isinstance(x.reshape((2, 3)).owner.op, qf.ops.movement.Reshape)    # static sizes
    s = T.set_subtensor(x[1:], 0.0)
    assert isinstance(s.owner.op, SetSubtensor) and not s.owner.op.inc
    assert T.inc_subtensor(x[1:], 0.0).owner.op.inc
    assert isinstance(T.Print("p")(x).owner.op, PrintOp)


def test_consider_constant_holds_when_the_cost_is_stabilised():
    # log(sigmoid(h)) is rewritten before differentiating; h must stay blocked
    x = T.dvector("x")
    h = x * 3.0
    cost = T.log(T.nnet.sigmoid(h)).sum() + x.sum()
    g = T.function([x], T.grad(cost, x, consider_constant=[h]))([0.5, -1.0])
    np.testing.assert_allclose(g, [1.0, 1.0])
    free = T.function([x], T.grad(cost, x))(np.array([0.5, -1.0]))
    np.testing.assert_allclose(free, 1 + 3 * (1 - 1 / (1 + np.exp(-3 * np.array([0.5, -1.0])))))


def test_broadcast_patterns_padding_cast_floatx_relu_alpha():
    x = T.dmatrix("x")
    a = T.addbroadcast(x, 1)
    assert a.broadcastable == (False, True) and T.unbroadcast(a, 1).broadcastable == (False, False)
    assert T.patternbroadcast(x, (True, False)).broadcastable == (True, False)
    assert T.addbroadcast(T.dcol(), 1) is not None
    f = T.function([x], a)
    assert f(np.ones((3, 1))).shape == (3, 1)
    with pytest.raises(QiflowError, match="cannot reshape"):
        f(np.ones((3, 2)))                    # a broadcastable axis must have size 1
    assert T.shape_padleft(x).broadcastable == (True, False, False)
    assert T.shape_padright(x, 2).broadcastable == (False, False, True, True)
    assert T.shape_padaxis(x, 1).broadcastable == (False, True, False)
    assert T.cast(x, "floatX").dtype == T.config.floatX and T.cast(x, "int8").dtype == "int8"
    assert T.sum(x, 1, True).type.shape == (None, 1)          # qiflow's older positional keepdims
    v = T.dvector("v")
    np.testing.assert_allclose(T.function([v], T.nnet.relu(v, 0.1))([-1.0, 2.0]), [-0.1, 2.0])
    np.testing.assert_allclose(T.function([v], T.nnet.relu(v))([-1.0, 2.0]), [0.0, 2.0])
    assert T.sgn is T.sign


def test_tag_is_a_scratch_space():
    x = T.dmatrix("x")
    x.tag.test_value = np.ones((2, 2))
    assert x.tag.test_value.shape == (2, 2) and not vars(T.dmatrix().tag)


def test_softmax_of_a_vector_is_one_row_as_in_theano():
    v = T.dvector("v")
    p = T.nnet.softmax(v)
    assert p.ndim == 2 and p.type.shape[0] == 1
    out = T.function([v], [p, T.nnet.logsoftmax(v)])([1.0, 2.0, 3.0])
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(out[0], [e / e.sum()])
    np.testing.assert_allclose(out[1], np.log([e / e.sum()]))


def test_theanos_keyword_arguments_of_shared_and_function():
    s = T.shared(np.zeros((1, 3)), name="s", strict=False, allow_downcast=True,
                 broadcastable=(True, False))
    assert s.broadcastable == (True, False)
    assert s.get_value(borrow=True, return_internal_type=True).shape == (1, 3)
    with pytest.raises(QiflowError, match="broadcastable"):
        T.shared(np.zeros((2, 3)), broadcastable=(True, False))
    x = T.dvector("x")
    f = T.function([x], x + s, accept_inplace=True, on_unused_input=None)
    assert f(np.ones(3)).shape == (1, 3)
    with pytest.raises(QiflowError, match="profile"):
        T.function([x], x, profile=True)
    with pytest.raises(QiflowError, match="rebuild_strict"):
        T.function([x], x, rebuild_strict=False)


def test_floatx_as_a_dtype_name_in_methods():
    i = T.ivector("i")
    assert i.astype("floatX").dtype == T.config.floatX
    assert i.mean(dtype="floatX").dtype == T.config.floatX
    assert i.sum(dtype="floatX").dtype == T.config.floatX


def test_dot_has_numpys_meaning_for_any_ndim():
    rng = np.random.default_rng(7)
    a, b, c, v = (rng.normal(size=s) for s in ((2, 3, 4), (5, 4, 6), (4, 6), (4,)))
    x, y, m, w = T.dtensor3("x"), T.dtensor3("y"), T.dmatrix("m"), T.dvector("w")
    outs = T.function([x, y, m, w], [T.dot(x, y), T.dot(x, m), T.dot(x, w), T.dot(m.T, y),
                                     x.dot(m), T.dot(w, m)])(a, b, c, v)
    refs = [np.dot(a, b), np.dot(a, c), np.dot(a, v), np.dot(c.T, b), np.dot(a, c), np.dot(v, c)]
    for o, r in zip(outs, refs):
        np.testing.assert_allclose(o, r, rtol=1e-12)
    cost = (T.dot(x, y) ** 2).sum()
    gx = T.function([x, y], T.grad(cost, x))(a, b)
    f = T.function([x, y], cost)
    np.testing.assert_allclose(gx, fd_grad(lambda z: f(z, b), a), rtol=1e-6, atol=1e-6)
