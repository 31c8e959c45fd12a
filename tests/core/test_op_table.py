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

import os

import qiflow as qf
from qiflow.ops import base

from .op_table import ROWS, make_inputs, registered_primitives

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


class _Seen(base.Interpreter):
    """Records the class of every primitive applied and every vjp run."""
    intercepts_vjp = True

    def __init__(self):
        super().__init__()
        self.seen = set()

    def apply(self, op, args):
        self.seen.add(type(op))
        return self.parent.apply(op, args)

    def apply_into(self, op, dst, args):
        self.seen.add(type(op))
        return self.parent.apply_into(op, dst, args)

    def vjp(self, op, ctx, inputs, output, grad):
        self.seen.add(type(op))
        if base.RAW in base._stack:      # a vjp on arrays: see the primitives it applies too
            with base.interpreting(_SeenOnArrays(self.seen)):
                return self.parent.vjp(op, ctx, inputs, output, grad)
        return self.parent.vjp(op, ctx, inputs, output, grad)


class _SeenOnArrays(base.RawValues):
    """RawValues that also records (innermost while a first-order vjp runs)."""

    def __init__(self, seen):
        super().__init__()
        self.seen = seen

    def apply(self, op, args):
        self.seen.add(type(op))
        return base.RawValues.apply(self, op, args)


def _exercise(row, rec):
    arrays = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in make_inputs(row, _rng(row))]
    ts = [qf.tensor(a, requires_grad=row.order > 0 and a.dtype.kind == "f") for a in arrays]
    with base.interpreting(rec):
        outs = _outs(row.fn(*ts))
        leaves = [t for t in ts if t.requires_grad]
        if row.order == 0 or not leaves:
            return
        total = sum((o * qf.tensor(np.ones(o.shape))).sum() for o in outs)
        qf.grad(total, leaves, retain_graph=True, allow_unused=True)      # first order, on arrays
        if row.order < 2:
            return
        gs = qf.grad(total, leaves, create_graph=True, allow_unused=True)  # recorded
        again = [(g * g).sum() for g in gs if g is not None and g.requires_grad]
        if again:
            qf.grad(sum(again), leaves, create_graph=True, allow_unused=True)


def test_the_table_exercises_every_registered_primitive():
    """The list of ops comes from the op registry, not from a hand-kept list: every
    primitive of qiflow.ops must run (forward, vjp, or both) in some row, or say
    where its checks live (``tested_in``: ops that exist only in symbolic graphs)."""
    rec = _Seen()
    for row in ROWS:
        _exercise(row, rec)
    missing, elsewhere = [], []
    for cls in registered_primitives():
        if cls in rec.seen:
            continue
        where = getattr(cls, "tested_in", None)
        if where is None:
            missing.append(f"{cls.__module__}.{cls.__name__}")
            continue
        text = open(os.path.join(os.path.dirname(__file__), "..", "..", where)).read()
        if cls.__name__ not in text and not any(f in text for f in getattr(cls, "public", ())):
            elsewhere.append(f"{cls.__name__}: {where} does not exercise it")
    assert not missing, f"primitives without a row in op_table: {missing}"
    assert not elsewhere, elsewhere
    names = [r.name for r in ROWS]
    assert len(names) == len(set(names)), "row names must be unique"


def test_the_coverage_check_can_fail():
    rec = _Seen()
    _exercise(next(r for r in ROWS if r.name == "exp"), rec)
    assert qf.ops.elementwise.Exp in rec.seen and qf.ops.elementwise.Log not in rec.seen


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
        np.testing.assert_allclose(y.detach().numpy(), r, rtol=rtol, atol=rtol)


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
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
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
    np.testing.assert_allclose(y.detach().numpy(), row.ref(*arrays), rtol=1e-12)
    g = qf.grad((y * 2.0).sum(), xs)
    assert [t.shape for t in g] == [tuple(s) for s in in_shapes]
    assert qf.gradcheck(row.fn, xs)
