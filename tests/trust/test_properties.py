"""Property-based tests (Hypothesis): random shapes, axes, indices and expression graphs.

Oracles are independent of qiflow's own machinery: NumPy for values, an
explicit scatter (``np.add.at``) or an explicitly broadcast computation for
gradients, central differences (``qf.gradcheck``), and PyTorch when it is
installed.  Everything runs in float64 with tight tolerances.  Expression
graphs are also compiled through ``qiflow.sym`` (with and without rewrites)
and must agree with eager execution.  ``QIFLOW_TRUST_SCALE=20`` multiplies the
number of examples (a deeper hunt than the default run affords).
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from hypothesis.extra.numpy import array_shapes, broadcastable_shapes, mutually_broadcastable_shapes

import qiflow as qf

from .graphs import BINARY, REDUCE, REDUCE_GRAPH, UNARY, NP, build_program, run_program, torch_ns

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
# QIFLOW_TRUST_SCALE=20 python -m pytest tests/trust/test_properties.py  hunts with 20x the examples
SCALE = max(1, int(os.environ.get("QIFLOW_TRUST_SCALE", "1")))


def _n(k):
    return k * SCALE


FAST = settings(max_examples=_n(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def leaf(a):
    return qf.tensor(np.asarray(a, np.float64), requires_grad=True)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# --------------------------------------------------------- binary broadcasting
BINARY_OPS = {
    "add": (qf.add, np.add), "subtract": (qf.subtract, np.subtract),
    "multiply": (qf.multiply, np.multiply), "divide": (qf.divide, np.divide),
    "power": (qf.power, np.power), "maximum": (qf.maximum, np.maximum),
    "minimum": (qf.minimum, np.minimum), "mod": (qf.mod, np.mod),
    "operator+": (lambda a, b: a + b, np.add), "operator-": (lambda a, b: a - b, np.subtract),
    "operator*": (lambda a, b: a * b, np.multiply), "operator/": (lambda a, b: a / b, np.divide),
    "operator**": (lambda a, b: a ** b, np.power),
}


def _binary_inputs(name, shapes, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shapes[0]) * (1 if name in ("power", "operator**") else
                                            rng.choice([-1.0, 1.0], shapes[0]))
    b = rng.uniform(0.5, 2.0, shapes[1]) * rng.choice([-1.0, 1.0], shapes[1])
    if name in ("maximum", "minimum"):
        b = b + 0.01                  # no exact ties (ties are tested in test_regressions)
    if name == "mod":                  # keep a / b away from integers, where mod jumps
        b = np.abs(b)
        a = (rng.integers(-3, 3, shapes[0]) + rng.uniform(0.2, 0.8, shapes[0])) * np.max(b)
        b = np.full(shapes[1], np.max(b))
    return a, b


@pytest.mark.parametrize("name", sorted(BINARY_OPS))
@FAST
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
       seed=st.integers(0, 2 ** 32 - 1))
def test_binary_broadcast_values_and_summed_gradients(name, shapes, seed):
    fn, ref = BINARY_OPS[name]
    a, b = _binary_inputs(name, shapes.input_shapes, seed)
    x, y = leaf(a), leaf(b)
    out = fn(x, y)
    assert out.shape == shapes.result_shape
    np.testing.assert_allclose(out.detach().numpy(), ref(a, b), rtol=1e-14, atol=1e-14)
    w = np.random.default_rng(seed + 1).standard_normal(shapes.result_shape)
    gx, gy = qf.grad((out * w).sum(), [x, y])
    # oracle 1: the same op on explicitly broadcast copies (no broadcasting inside the op),
    # then the gradient summed over the broadcast axes by NumPy
    A = leaf(np.broadcast_to(a, shapes.result_shape).copy())
    B = leaf(np.broadcast_to(b, shapes.result_shape).copy())
    GA, GB = qf.grad((fn(A, B) * w).sum(), [A, B])
    for g, G, shape in ((gx, GA, a.shape), (gy, GB, b.shape)):
        assert g.shape == shape and g.dtype == np.float64
        np.testing.assert_allclose(g.detach().numpy(), _sum_to(G.detach().numpy(), shape), rtol=1e-13, atol=1e-13)
    # oracle 2: PyTorch
    torch = _torch()
    if torch is not None:
        ta = torch.tensor(a, requires_grad=True)
        tb = torch.tensor(b, requires_grad=True)
        tout = _torch_binary(torch, name, ta, tb)
        (tout * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(gx.detach().numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gy.detach().numpy(), tb.grad.numpy(), rtol=1e-12, atol=1e-12)


def _torch_binary(torch, name, a, b):
    op = name.replace("operator", "")
    return {"add": a + b, "+": a + b, "subtract": a - b, "-": a - b, "multiply": a * b, "*": a * b,
            "divide": a / b, "/": a / b, "power": a ** b, "**": a ** b,
            "maximum": torch.maximum(a, b), "minimum": torch.minimum(a, b),
            "mod": torch.remainder(a, b)}[op]


def _sum_to(g, shape):
    lead = g.ndim - len(shape)
    g = g.sum(axis=tuple(range(lead))) if lead else g
    axes = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


@FAST
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2 ** 32 - 1))
def test_where_broadcasts_three_ways(shapes, seed):
    rng = np.random.default_rng(seed)
    sc, sa, sb = shapes.input_shapes
    c = rng.random(sc) > 0.5
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    x, y = leaf(a), leaf(b)
    out = qf.where(c, x, y)
    np.testing.assert_array_equal(out.detach().numpy(), np.where(c, a, b))
    w = rng.standard_normal(shapes.result_shape)
    gx, gy = qf.grad((out * w).sum(), [x, y])
    cb = np.broadcast_to(c, shapes.result_shape)
    np.testing.assert_allclose(gx.detach().numpy(), _sum_to(np.where(cb, w, 0), sa), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(gy.detach().numpy(), _sum_to(np.where(cb, 0, w), sb), rtol=1e-14, atol=1e-14)


@FAST
@given(batch=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3),
       n=st.integers(1, 3), k=st.integers(1, 3), m=st.integers(1, 3),
       vec=st.sampled_from(["", "left", "right"]), seed=st.integers(0, 2 ** 32 - 1))
def test_matmul_batch_broadcast(batch, n, k, m, vec, seed):
    rng = np.random.default_rng(seed)
    sa = (k,) if vec == "left" else batch.input_shapes[0] + (n, k)
    sb = (k,) if vec == "right" else batch.input_shapes[1] + (k, m)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    x, y = leaf(a), leaf(b)
    out = x @ y
    want = np.matmul(a, b)
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-13, atol=1e-13)
    w = rng.standard_normal(want.shape)
    gx, gy = qf.grad((out * w).sum(), [x, y])
    assert gx.shape == sa and gy.shape == sb
    assert qf.gradcheck(lambda p, q: p @ q, [leaf(a), leaf(b)])
    torch = _torch()
    if torch is not None:
        ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        ((ta @ tb) * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(gx.detach().numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gy.detach().numpy(), tb.grad.numpy(), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ reductions
@st.composite
def reductions(draw):
    shape = draw(array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    nd = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"] if nd else ["none", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-nd, nd - 1))
    else:
        picked = draw(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd)) if nd else []
        axis = tuple(a - nd if draw(st.booleans()) else a for a in picked)
    name = draw(st.sampled_from(sorted(REDUCE)))
    return shape, axis, draw(st.booleans()), name, draw(st.integers(0, 2 ** 32 - 1))


def _count(shape, axis):
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


@FAST
@given(case=reductions())
def test_random_reductions_values_and_gradients(case):
    shape, axis, keepdims, name, seed = case
    spec = REDUCE[name]
    n = _count(shape, axis)
    assume(n >= spec.min_count)
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape, dtype=np.int64))
    # distinct values (no ties for max/min), away from 0 (prod)
    a = ((rng.permutation(size) - size / 2 + 0.37) * 0.3).reshape(shape)
    x = leaf(a)
    out = spec.qf(x, axis, keepdims)
    want = spec.np(a, axis, keepdims)
    assert out.shape == np.shape(want)
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-13, atol=1e-13)
    assert qf.gradcheck(lambda t: spec.qf(t, axis, keepdims), [leaf(a)])
    torch = _torch()
    if torch is not None and spec.torch is not None and axis != ():  # torch reads dim=() as "all"
        ta = torch.tensor(a, requires_grad=True)
        tout = spec.torch(torch, ta, axis, keepdims)
        w = rng.standard_normal(np.shape(want))
        (g,) = qf.grad((out * w).sum(), x)
        (tout * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(g.detach().numpy(), ta.grad.numpy(), rtol=1e-11, atol=1e-12)


# -------------------------------------------------------------------- indexing
@st.composite
def indices(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    parts, arr_len, used_ellipsis = [], None, False
    for d in shape:
        kind = draw(st.sampled_from(["int", "slice", "array", "mask", "full", "none", "ellipsis"]))
        if kind == "none":
            parts.append(None)
            kind = "full"
        if kind == "ellipsis" and not used_ellipsis:
            used_ellipsis = True
            parts.append(Ellipsis)
            break                       # the ellipsis covers the remaining axes
        if kind == "int":
            parts.append(draw(st.integers(-d, d - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-d - 1, d + 1))
            stop = draw(st.none() | st.integers(-d - 1, d + 1))
            step = draw(st.none() | st.sampled_from([-3, -2, -1, 1, 2, 3]))
            parts.append(slice(start, stop, step))
        elif kind == "array":         # repeated indices on purpose
            if arr_len is None:
                arr_len = draw(st.integers(1, 5))
            n = draw(st.sampled_from([1, arr_len]))
            parts.append(np.array(draw(st.lists(st.integers(-d, d - 1), min_size=n, max_size=n))))
        elif kind == "mask" and arr_len is None:
            m = np.array(draw(st.lists(st.booleans(), min_size=d, max_size=d)))
            arr_len = int(m.sum())
            parts.append(m)
        else:
            parts.append(slice(None))
    return shape, tuple(parts), draw(st.integers(0, 2 ** 32 - 1))


@settings(max_examples=_n(60), deadline=None)
@given(case=indices())
def test_random_indexing_values_and_scatter_add_gradients(case):
    shape, index, seed = case
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    try:
        want = a[index]
    except IndexError:
        assume(False)
    x = leaf(a)
    out = x[index]
    np.testing.assert_array_equal(out.detach().numpy(), want)
    w = rng.standard_normal(want.shape)
    (g,) = qf.grad((out * w).sum(), x)
    expect = np.zeros(shape)
    np.add.at(expect, index, w)       # repeated indices accumulate
    np.testing.assert_allclose(g.detach().numpy(), expect, rtol=1e-14, atol=1e-14)
    # with create_graph the scatter is recorded; differentiating it w.r.t. w gives the gather back
    wt = leaf(w)
    (gg,) = qf.grad((x[index] * wt).sum(), x, create_graph=True)
    v = rng.standard_normal(shape)
    (back,) = qf.grad((gg * v).sum(), wt)
    np.testing.assert_allclose(back.detach().numpy(), v[index], rtol=1e-14, atol=1e-14)


# ---------------------------------------------------------- expression graphs
@st.composite
def programs(draw):
    out_shape = draw(array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    n_leaves = draw(st.integers(1, 3))
    # shapes that broadcast *to* out_shape (each dim is out's or 1), so all leaves are compatible
    leaf_shapes = [_towards(draw(broadcastable_shapes(out_shape, min_dims=0, max_side=3)), out_shape)
                   for _ in range(n_leaves)]
    steps = draw(st.lists(st.tuples(st.sampled_from(sorted(UNARY) + sorted(BINARY) + sorted(REDUCE_GRAPH)),
                                    st.integers(0, 50), st.integers(0, 50), st.integers(0, 50)),
                          min_size=1, max_size=8))
    return build_program(out_shape, leaf_shapes, steps), draw(st.integers(0, 2 ** 32 - 1))


def _towards(shape, out_shape):
    shape = shape[len(shape) - len(out_shape):] if len(shape) > len(out_shape) else shape
    tail = out_shape[len(out_shape) - len(shape):]
    return tuple(d if d == o else 1 for d, o in zip(shape, tail))


def _leaf_values(prog, seed):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, s) for s in prog.leaf_shapes]


@settings(max_examples=_n(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=programs())
def test_random_expression_graphs_eager_vs_numpy_and_torch(case):
    prog, seed = case
    values = _leaf_values(prog, seed)
    xs = [leaf(v) for v in values]
    out = run_program(prog, qf, xs)
    want = run_program(prog, NP, values)
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-12, atol=1e-12)
    grads = qf.grad(out, xs, allow_unused=True)
    torch = _torch()
    if torch is None:
        assert qf.gradcheck(lambda *t: run_program(prog, qf, list(t)), [leaf(v) for v in values])
        return
    ts = [torch.tensor(v, requires_grad=True) for v in values]
    tout = run_program(prog, torch_ns(torch), ts)
    tg = torch.autograd.grad(tout, ts, allow_unused=True)
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip(grads, tg):
        if t is None:
            assert g is None or np.all(g.detach().numpy() == 0)
        else:
            np.testing.assert_allclose(g.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-11)


@settings(max_examples=_n(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=programs())
def test_random_expression_graphs_second_order(case):
    prog, seed = case
    values = _leaf_values(prog, seed)
    xs = [leaf(v) for v in values]
    assume(run_program(prog, qf, xs).requires_grad)
    assert qf.gradgradcheck(lambda *t: run_program(prog, qf, list(t)), xs)


def test_graph_builder_covers_the_op_lists():
    # the strategies above can draw every op (guards against an op silently dropped from a list)
    assert {"exp", "tanh", "log", "sqrt", "sigmoid", "softplus"} <= set(UNARY)
    assert {"add", "subtract", "multiply", "divide", "maximum", "power"} <= set(BINARY)
    assert {"sum", "mean", "max", "logsumexp", "softmax", "log_softmax"} <= set(REDUCE_GRAPH)


@settings(max_examples=_n(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=programs())
def test_random_expression_graphs_compiled_with_and_without_rewrites_equal_eager(case):
    T = pytest.importorskip("qiflow.sym")
    from .graphs import QF
    prog, seed = case
    values = _leaf_values(prog, seed)
    xs = [leaf(v) for v in values]
    out = run_program(prog, qf, xs)
    grads = qf.grad(out, xs)
    vs = [T.tensor(f"x{i}", "float64", shape=s) for i, s in enumerate(prog.leaf_shapes)]
    sym_out = run_program(prog, QF, vs)
    sym_grads = T.grad(sym_out, vs)
    # as written: the same ops in the same order as eager, so (nearly) the same rounding
    plain = T.function(vs, [sym_out] + list(sym_grads), mode="no_rewrites")(*values)
    np.testing.assert_allclose(plain[0], out.detach().numpy(), rtol=1e-13, atol=1e-13)
    for got, want in zip(plain[1:], grads):
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-12, atol=1e-12)
    # rewritten (merged, simplified, stabilised, fused): equal up to rounding
    fast = T.function(vs, [sym_out] + list(sym_grads))(*values)
    np.testing.assert_allclose(fast[0], out.detach().numpy(), rtol=1e-10, atol=1e-11)
    for got, want in zip(fast[1:], grads):
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-9, atol=1e-10)


NONDIFF_BINARY = {
    "equal": (qf.eq, np.equal), "not_equal": (qf.not_equal, np.not_equal), "less": (qf.less, np.less),
    "less_equal": (qf.less_equal, np.less_equal), "greater": (qf.greater, np.greater),
    "greater_equal": (qf.greater_equal, np.greater_equal), "floor_divide": (qf.floor_divide, np.floor_divide),
    "logical_and": (qf.logical_and, np.logical_and), "logical_or": (qf.logical_or, np.logical_or),
    "logical_xor": (qf.logical_xor, np.logical_xor),
}


@pytest.mark.parametrize("name", sorted(NONDIFF_BINARY))
@settings(max_examples=_n(10), deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seed=st.integers(0, 2 ** 32 - 1))
def test_comparison_and_logic_broadcast_record_no_graph(name, shapes, seed):
    fn, ref = NONDIFF_BINARY[name]
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, shapes.input_shapes[0]).astype(np.float64)   # small ints: ties happen
    b = rng.integers(1, 3, shapes.input_shapes[1]).astype(np.float64)
    out = fn(leaf(a), leaf(b))
    np.testing.assert_array_equal(out.detach().numpy(), ref(a, b))
    assert out.shape == shapes.result_shape
    assert not out.requires_grad and out._op is None and out._inputs is None


@settings(max_examples=_n(15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=programs())
def test_random_expression_graphs_traced_equal_eager_on_fresh_values(case):
    pytest.importorskip("qiflow.trace")
    prog, seed = case
    f = qf.compile(lambda *t: run_program(prog, qf, list(t)), strict=True)
    for k in range(2):                               # the second call reuses the trace
        values = _leaf_values(prog, seed + k)
        got = f(*[qf.tensor(v) for v in values])
        want = run_program(prog, qf, [qf.tensor(v) for v in values])
        np.testing.assert_allclose(np.asarray(got.detach().numpy()), want.detach().numpy(), rtol=1e-10, atol=1e-11)
    assert f.traces == 1
