"""The primitives that exist only in symbolic graphs (``qiflow.ops.dynamic``):
``Shape``, ``ARange``, ``FlattenTail``, ``DynamicSlice`` and ``DynamicSliceGrad``,
checked against NumPy and (for the differentiable ones) central differences."""
import numpy as np
import pytest

from qiflow import sym as T
from qiflow.ops import dynamic

RNG = np.random.default_rng(3)


def _ops_of(f):
    return {type(n.op) for n in f.schedule}


def test_shape_and_arange_with_sizes_known_only_at_run_time():
    x = T.dmatrix("x")
    n = x.shape[0]
    f = T.function([x], [T.cast(x.shape, "float64"), T.arange(n), T.arange(1, n, 2)], mode="no_rewrites")
    a = RNG.standard_normal((5, 3))
    shp, r1, r2 = f(a)
    assert shp.tolist() == [5.0, 3.0]
    assert r1.tolist() == list(range(5)) and r2.tolist() == [1, 3]
    assert {dynamic.Shape, dynamic.ARange} <= _ops_of(f)


def test_flatten_tail_value_and_gradient():
    x = T.dtensor3("x")
    y = T.flatten(x, 2)
    assert isinstance(y.owner.op, dynamic.FlattenTail)
    a = RNG.standard_normal((2, 3, 4))
    w = RNG.standard_normal((2, 12))
    f = T.function([x], [y, T.grad((y * w).sum(), x)])
    val, g = f(a)
    np.testing.assert_array_equal(val, a.reshape(2, 12))
    np.testing.assert_allclose(g, w.reshape(2, 3, 4), rtol=1e-12)


def _numerical(fn, a, eps=1e-6):
    g = np.zeros_like(a)
    flat = a.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        hi = fn(a)
        flat[i] = old - eps
        lo = fn(a)
        flat[i] = old
        g.reshape(-1)[i] = (hi - lo) / (2 * eps)
    return g


@pytest.mark.parametrize("second", [False, True])
def test_dynamic_slice_value_gradient_and_its_gradient(second):
    x, i = T.dvector("x"), T.lscalar("i")
    piece = x[i * 2:(i + 1) * 2]
    assert isinstance(piece.owner.op, dynamic.DynamicSlice)
    cost = (T.sin(piece) ** 2).sum()
    g = T.grad(cost, x)
    assert any(isinstance(v.owner.op, dynamic.DynamicSliceGrad) for v in T.graph.ancestors([g])
               if v.owner is not None)
    a = RNG.standard_normal(6)
    f = T.function([x, i], [piece, cost, g])
    val, c, grad = f(a, 1)
    np.testing.assert_array_equal(val, a[2:4])
    num = _numerical(lambda v: float(f(v, 1)[1]), a.copy())
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)
    if second:      # the gradient of DynamicSliceGrad is a DynamicSlice again
        h = T.grad((g * g).sum(), x)
        f2 = T.function([x, i], [(g * g).sum(), h])
        num2 = _numerical(lambda v: float(f2(v, 2)[0]), a.copy())
        np.testing.assert_allclose(f2(a, 2)[1], num2, rtol=1e-5, atol=1e-8)
