"""Eager == compiled without rewrites == optimised compiled, over the op table
of tests/core (forward values and first-order gradients)."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import sym as T

from tests.core.op_table import ROWS, make_inputs


def _dtype(row):
    return "float64" if "float64" in row.dtypes else row.dtypes[0]


def _outputs(res):
    return list(res) if isinstance(res, (list, tuple)) else [res]


def _eager(row, arrays, weights):
    ts = [qf.tensor(a, requires_grad=row.order > 0 and a.dtype.kind == "f") for a in arrays]
    outs = _outputs(row.fn(*ts))
    vals = [o.detach().numpy() for o in outs]
    if row.order == 0:
        return vals, None
    total = None
    for o, w in zip(outs, weights):
        term = (o * qf.tensor(w)).sum()
        total = term if total is None else total + term
    grads = qf.grad(total, ts, allow_unused=True)
    return vals, [None if g is None else g.detach().numpy() for g in grads]


def _symbolic(row, arrays, weights, mode, static):
    xs = [T.tensor(f"x{k}", a.dtype, shape=a.shape if static else (None,) * a.ndim)
          for k, a in enumerate(arrays)]
    outs = _outputs(row.fn(*xs))
    targets = list(outs)
    if row.order > 0:
        total = None
        for o, w in zip(outs, weights):
            term = (o * T.constant(w)).sum()
            total = term if total is None else total + term
        targets += T.grad(total, xs, disconnected_inputs="ignore")
    f = T.function(xs, targets, mode=mode, on_unused_input="ignore")
    res = f(*arrays)
    n = len(outs)
    return res[:n], (res[n:] if row.order > 0 else None)


# Core functions that need sizes known when the graph is built; with unknown
# sizes they must refuse clearly (checked below) ...
NEEDS_SIZES = {"flatten", "split/sections", "pad/edge", "pad/reflect", "pad/symmetric", "pad/wrap",
               "repeat", "repeat/axis", "repeat/int_axis", "tile", "tile/int",
               "squeeze/all", "expand"}
CORE_BUGS = set()


SYMBOLIC = [r for r in ROWS if r.symbolic]


@pytest.mark.parametrize("static", [True, False], ids=["static", "unknown"])
@pytest.mark.parametrize("row", SYMBOLIC, ids=repr)
def test_eager_equals_compiled(row, static):
    if not static and row.name in NEEDS_SIZES:
        xs = [T.tensor(f"x{k}", "float64", ndim=len(s)) for k, s in enumerate(row.shapes)]
        with pytest.raises(qf.QiflowError, match="unknown"):
            row.fn(*xs)
        return
    if not static and row.name in CORE_BUGS:
        pytest.xfail("core shape inference with unknown sizes (reported)")
    rng = np.random.default_rng(7)
    dt = _dtype(row)
    arrays = [a.astype(dt) for a in make_inputs(row, rng)]
    shapes = [np.shape(o.data) for o in _outputs(row.fn(*[qf.tensor(a) for a in arrays]))]
    weights = [rng.standard_normal(s).astype(dt) for s in shapes]
    ev, eg = _eager(row, arrays, weights)
    rv, rg = _symbolic(row, arrays, weights, "no_rewrites", static)
    ov, og = _symbolic(row, arrays, weights, None, static)
    tol = dict(rtol=1e-12, atol=1e-12) if dt == "float64" else dict(rtol=1e-5, atol=1e-6)
    for e, r, o in zip(ev, rv, ov):
        assert np.asarray(r).dtype == e.dtype and np.asarray(o).dtype == e.dtype
        np.testing.assert_allclose(r, e, **tol)
        np.testing.assert_allclose(o, e, **tol)
    if eg is not None:
        for e, r, o in zip(eg, rg, og):
            if e is None:
                continue
            np.testing.assert_allclose(r, e, **tol)
            np.testing.assert_allclose(o, e, **tol)
