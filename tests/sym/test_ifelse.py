"""``T.ifelse`` (lazy: only the branch taken runs, with gradients) and ``T.map``,
``T.reduce``, ``T.foldl``, ``T.foldr`` built on scan."""
import numpy as np
import pytest

from qiflow import sym as T
from qiflow._state import QiflowError
from qiflow.ops.base import Op, apply
from qiflow.sym.ifelse import IfElse

from test_scan_grad import check_grads, numeric_grad

RNG = np.random.default_rng(7)


class Counted(Op):
    """Identity that counts its forward calls (to see which branch ran)."""
    calls = {"n": 0}
    tested_in = "tests/sym/test_ifelse.py"

    def forward(self, a):
        Counted.calls["n"] += 1
        return a.copy()

    def vjp(self, ctx, inputs, output, g):
        return (g,)


def counted(x):
    return apply(Counted(), x)


def test_only_the_branch_taken_is_computed():
    a = T.dvector("a")
    k = T.iscalar("k")
    f = T.function([a, k], T.ifelse(k, counted(a).sum(), a.max()))
    Counted.calls["n"] = 0
    assert float(f([1.0, 5.0], 0)) == 5.0
    assert Counted.calls["n"] == 0
    assert float(f([1.0, 5.0], 1)) == 6.0
    assert Counted.calls["n"] == 1


def test_the_branch_not_taken_may_fail():
    x = T.dvector("x")
    i = T.lscalar("i")
    # indexing past the end would raise, but only when that branch runs
    y = T.ifelse(T.lt(i, x.shape[0]), x[i], T.constant(-1.0, dtype="float64"))
    f = T.function([x, i], y)
    assert float(f([3.0, 4.0], 1)) == 4.0
    assert float(f([3.0, 4.0], 7)) == -1.0


def test_gradients_of_both_branches_by_finite_differences():
    a, b = T.dvector("a"), T.dvector("b")
    c = T.dscalar("c")
    y = T.ifelse(T.gt(c, 0), (T.sin(a) * b).sum() * c, (a * a).sum() - b.sum())
    va, vb = RNG.standard_normal(3), RNG.standard_normal(3)
    for cv in (0.7, -0.7):
        f = T.function([a, b, c], y)
        ga, gb = T.function([a, b, c], T.grad(y, [a, b]))(va, vb, cv)
        np.testing.assert_allclose(ga, numeric_grad(f, [va, vb, cv], 0), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(gb, numeric_grad(f, [va, vb, cv], 1), rtol=1e-6, atol=1e-8)


def test_second_order_and_lists_of_outputs():
    x = T.dvector("x")
    k = T.iscalar("k")
    p, q = T.ifelse(k, [(x ** 3).sum(), x * 2], [(x ** 2).sum(), x])
    assert isinstance(p.owner.op, IfElse)
    h = T.hessian(p, x)
    f = T.function([x, k], [p, q, h])
    xa = RNG.standard_normal(3)
    p1, q1, h1 = f(xa, 1)
    np.testing.assert_allclose([p1], [(xa ** 3).sum()])
    np.testing.assert_allclose(q1, xa * 2)
    np.testing.assert_allclose(h1, np.diag(6 * xa), atol=1e-12)
    p0, q0, h0 = f(xa, 0)
    np.testing.assert_allclose(q0, xa)
    np.testing.assert_allclose(h0, 2 * np.eye(3), atol=1e-12)


def test_bad_ifelse_calls():
    x = T.dvector("x")
    with pytest.raises(QiflowError, match="condition must be a scalar"):
        T.ifelse(x, x, x)
    with pytest.raises(QiflowError, match="differ in type"):
        T.ifelse(T.iscalar(), x, T.cast(x, "float32"))
    with pytest.raises(QiflowError, match="then branch has 2 outputs"):
        T.ifelse(T.iscalar(), [x, x], [x])
    with pytest.raises(QiflowError, match="both branches"):
        T.ifelse(T.iscalar(), [x], x)


def test_ifelse_inside_a_scan_step():
    x = T.dvector("x")
    # a clipped accumulator: the state is reset when it passes 3
    s, _ = T.scan(lambda v, acc: T.ifelse(T.gt(acc + v, 3.0), v * 0.0, acc + v), sequences=x,
                  outputs_info=T.constant(0.0, dtype="float64"))
    got = T.function([x], s)([1.0, 2.0, 1.5, 1.0, 1.0])
    np.testing.assert_allclose(got, [1.0, 3.0, 0.0, 1.0, 2.0])
    check_grads([x], (s * s).sum(), [np.array([0.3, 1.1, 2.5, 0.2])])


def test_map_reduce_foldl_foldr_values_and_gradients():
    v = T.dvector("v")
    w = T.dscalar("w")
    sq, ups = T.map(lambda a, w: T.tanh(a * w), sequences=v, non_sequences=w)
    assert not ups
    tot, _ = T.reduce(lambda a, acc, w: acc * w + a, sequences=v, outputs_info=T.zeros_like(w),
                      non_sequences=w)
    fl, _ = T.foldl(lambda a, acc: acc * 10 + a, sequences=v, outputs_info=T.constant(0.0, dtype="float64"))
    fr, _ = T.foldr(lambda a, acc: acc * 10 + a, sequences=v, outputs_info=T.constant(0.0, dtype="float64"))
    f = T.function([v, w], [sq, tot, fl, fr])
    va = np.array([1.0, 2.0, 3.0])
    a, b, c, d = f(va, 0.5)
    np.testing.assert_allclose(a, np.tanh(va * 0.5))
    np.testing.assert_allclose(b, ((0 * 0.5 + 1) * 0.5 + 2) * 0.5 + 3)
    assert float(c) == 123.0 and float(d) == 321.0
    assert b.ndim == 0
    check_grads([v, w], tot + sq.sum(), [RNG.standard_normal(4), 0.8])
    check_grads([v], fr * 0.01 + fl * 0.02, [RNG.standard_normal(3)])


def test_reduce_keeps_several_outputs():
    v = T.dvector("v")
    (mx, sm), _ = T.reduce(lambda a, m, s: [T.maximum(m, a), s + a], sequences=v,
                           outputs_info=[T.constant(-np.inf, dtype="float64"), T.constant(0.0, dtype="float64")])
    r = T.function([v], [mx, sm])([1.0, 7.0, 2.0])
    assert [float(r[0]), float(r[1])] == [7.0, 10.0]
