"""Generic operator tests driven by the rows of ``op_table.ROWS``.

forward vs NumPy in every listed dtype (and no silent upcast); first- and
second-order gradcheck by central differences in float64; PyTorch as a second
oracle for values and gradients; Hypothesis broadcast shape pairs for binary
elementwise ops.
"""
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, HealthCheck
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import qiflow as qf

from .op_table import ROWS, REQUIRED_OPS, make_inputs

GRAD1 = [r for r in ROWS if r.order >= 1]
GRAD2 = [r for r in ROWS if r.order >= 2]
TORCH = [r for r in ROWS if r.torch is not None]
BROADCAST = [r for r in ROWS if r.broadcast]
FORWARD = [(r, d) for r in ROWS for d in r.dtypes]


def _outs(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def _rng(row, salt=0):
    # crc32, not hash(): str hashes change from run to run
    return np.random.default_rng(zlib.crc32(f"{row.name}/{salt}".encode()))


def test_table_covers_every_required_op():
    covered = {r.op for r in ROWS}
    missing = [op for op in REQUIRED_OPS if op not in covered]
    assert not missing, f"ops without a row in op_table: {missing}"
    names = [r.name for r in ROWS]
    assert len(names) == len(set(names)), "row names must be unique"


@pytest.mark.parametrize("row,dtype", FORWARD, ids=[f"{r.name}-{d}" for r, d in FORWARD])
def test_forward_matches_numpy(row, dtype):
    arrays = [a.astype(dtype) for a in make_inputs(row, _rng(row))]
    outs = _outs(row.fn(*[qf.tensor(a) for a in arrays]))
    refs = _outs(row.ref(*[a.astype(np.float64) if np.dtype(dtype).kind == "f" else a for a in arrays]))
    assert len(outs) == len(refs)
    want = np.dtype(row.out_dtype or dtype)
    for y, r in zip(outs, refs):
        assert isinstance(y, qf.Tensor)
        assert y.dtype == want, f"{row.name}: {dtype} inputs gave {y.dtype}, expected {want}"
        assert y.shape == np.shape(r)
        assert not y.requires_grad
        rtol = row.rtol32 if dtype == "float32" else row.rtol64
        np.testing.assert_allclose(y.numpy(), r, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("row", GRAD1, ids=[r.name for r in GRAD1])
def test_gradcheck_first_order(row):
    xs = [qf.tensor(a, requires_grad=True) for a in make_inputs(row, _rng(row, 1))]
    assert qf.gradcheck(row.fn, xs)


@pytest.mark.parametrize("row", GRAD2, ids=[r.name for r in GRAD2])
def test_gradcheck_second_order(row):
    xs = [qf.tensor(a, requires_grad=True) for a in make_inputs(row, _rng(row, 2))]
    assert qf.gradgradcheck(row.fn, xs)


@pytest.mark.parametrize("row", GRAD1, ids=[r.name for r in GRAD1])
def test_gradient_shapes_and_dtypes_float32(row):
    xs = [qf.tensor(a.astype(np.float32), requires_grad=True) for a in make_inputs(row, _rng(row, 3))]
    total = sum((y * 1.5).sum() for y in _outs(row.fn(*xs)))
    total.backward()
    for x in xs:
        assert x.grad is not None and x.grad.shape == x.shape and x.grad.dtype == np.float32


@pytest.mark.parametrize("row", TORCH, ids=[r.name for r in TORCH])
def test_matches_pytorch(row):
    torch = pytest.importorskip("torch")
    arrays = make_inputs(row, _rng(row, 4))
    xs = [qf.tensor(a, requires_grad=row.order > 0) for a in arrays]
    ts = [torch.tensor(a, requires_grad=row.order > 0) for a in arrays]
    y, ty = row.fn(*xs), row.torch(*ts)
    tol = max(row.rtol64, 1e-10)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    if row.order == 0:
        return
    w = np.random.default_rng(5).standard_normal(y.shape)
    (y * w).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("row", BROADCAST, ids=[r.name for r in BROADCAST])
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
def test_broadcast_shape_pairs(row, shapes):
    in_shapes = shapes.input_shapes
    arrays = make_inputs(row, np.random.default_rng(0), in_shapes)
    xs = [qf.tensor(a, requires_grad=True) for a in arrays]
    y = row.fn(*xs)
    assert y.shape == shapes.result_shape
    np.testing.assert_allclose(y.numpy(), row.ref(*arrays), rtol=1e-12)
    g = qf.grad((y * 2.0).sum(), xs)
    assert [t.shape for t in g] == [tuple(s) for s in in_shapes]
    assert qf.gradcheck(row.fn, xs)
