"""The linker's direct NumPy lines for common nodes compute what the ops' own
forward computes (gradients checked against NumPy by hand)."""
import numpy as np
import pytest

from qiflow import sym as T

R = np.random.RandomState(3)


PARAMS = pytest.mark.parametrize("xshape, bshape", [
    ((5, 4), (4,)),            # a bias: leading axis summed
    ((5, 4), (1, 4)),          # same rank, a stretched axis
    ((2, 3, 4), (3, 1)),       # a leading axis and a stretched one
    ((2, 3, 4), (1,)),         # everything summed into one element
])


def _sum_to(a, shape):
    lead = a.ndim - len(shape)
    a = a.sum(axis=tuple(range(lead)))
    return a.sum(axis=tuple(i for i, d in enumerate(shape) if d == 1), keepdims=True)


@PARAMS
def test_gradient_summed_to_a_known_shape(xshape, bshape):
    b = T.shared(R.uniform(-1, 1, bshape), name="b")
    x = T.tensor("x", "float64", shape=(None,) * len(xshape))
    cost = ((x + b) ** 2).sum()
    f = T.function([x], T.grad(cost, b))
    # the second value has size one along the axes b stretches: b's shape all the same
    for xv in (R.uniform(-1, 1, xshape), R.uniform(-1, 1, (1,) * len(xshape))):
        got = f(xv)
        assert got.shape == bshape
        np.testing.assert_allclose(got, _sum_to(2 * (xv + b.get_value()), bshape), rtol=1e-12)


@pytest.mark.parametrize("padding, stride", [(0, 1), (1, 1), (1, 2)])
def test_conv_weight_gradient_reuses_the_forward_im2col(padding, stride):
    """Compiled conv gradients (the backward reusing the forward's im2col matrix)
    equal the eager ones, which build it again."""
    import qiflow as qf
    from qiflow import nn
    qf.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=padding, stride=stride), nn.ReLU(),
                          nn.Conv2d(3, 4, 2, padding=padding)).double()
    x = qf.tensor(R.uniform(-1, 1, (5, 2, 7, 6)))

    def loss_of(inp):
        return (model(inp) ** 2).sum()

    def step(inp):
        loss = loss_of(inp)
        loss.backward()
        return loss
    want = loss_of(x)
    want.backward()
    eager = [p.grad.detach().numpy().copy() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    f = qf.compile(step, strict=True)
    got = f(x)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    for p, g in zip(model.parameters(), eager):
        np.testing.assert_allclose(p.grad.detach().numpy(), g, rtol=1e-10, atol=1e-12)
    (entry,) = f.cache.values()
    assert entry.fn.source.count("_cols") >= 4      # both weight gradients took the forward's matrix


@pytest.mark.parametrize("n", [10, 4 * 65536 + 17, 5 * 65536])
@pytest.mark.parametrize("where", ["x", "y", "fresh"])
def test_blocked_axpy_kernel_equals_the_op(n, where):
    from qiflow.ops.inplace import Axpy
    from qiflow.sym.kernels import _axpy_blocked
    x = R.uniform(-1, 1, n).astype(np.float32)
    y = R.uniform(-1, 1, n).astype(np.float32)
    a = np.array(-0.37, np.float32)
    want = x + y * a
    out = {"x": x, "y": y, "fresh": np.empty_like(x)}[where]
    _axpy_blocked(Axpy(), out, x, y, a)
    np.testing.assert_array_equal(out, want)      # the same float32 operations, chunk by chunk


@pytest.mark.parametrize("chunks_faster", [True, False])
def test_axpy_kernel_times_both_forms_then_keeps_the_faster(monkeypatch, chunks_faster):
    """The first calls for a size alternate the two chunkings (64K elements, or the op's
    own forward_into) under a clock; the faster is kept; every call, during the trials
    and after, computes x + y * a exactly."""
    from qiflow.ops.inplace import Axpy
    from qiflow.sym import kernels as K
    monkeypatch.setattr(K, "AXPY_FORM", {})
    state = {"t": 0.0, "chunked": None}
    real_chunks = K._axpy_chunks

    def spy_chunks(*a):
        state["chunked"] = True
        return real_chunks(*a)

    def clock():                     # a 64K call "takes" 1 s or 3 s, forward_into 2 s
        if state["chunked"] is None:
            return state["t"]
        took = (1.0 if chunks_faster else 3.0) if state["chunked"] else 2.0
        state["t"] += took
        state["chunked"] = None
        return state["t"]

    def start():
        state["chunked"] = False
        return state["t"]
    calls = iter([start, clock] * (2 * K._TRIALS) + [clock] * 100)
    monkeypatch.setattr(K, "_perf_counter", lambda: next(calls)())
    monkeypatch.setattr(K, "_axpy_chunks", spy_chunks)
    n = 4 * 65536 + 5
    x = R.uniform(-1, 1, n).astype(np.float32)
    y = R.uniform(-1, 1, n).astype(np.float32)
    a = np.array(-0.37, np.float32)
    for k in range(2 * K._TRIALS + 3):
        out = np.empty_like(x)
        K._axpy_blocked(Axpy(), out, x, y, a)
        np.testing.assert_array_equal(out, x + y * a)
        if k < 2 * K._TRIALS - 1:
            assert isinstance(K.AXPY_FORM[(n, np.dtype(np.float32))], list)
    assert K.AXPY_FORM[(n, np.dtype(np.float32))] is chunks_faster


def test_compiled_sgd_update_of_a_large_weight_in_place():
    import qiflow as qf
    w0 = R.uniform(-1, 1, (700, 400)).astype(np.float32)        # above the blocking threshold
    x0 = R.uniform(-1, 1, (8, 700)).astype(np.float32)
    w = qf.tensor(w0.copy(), requires_grad=True)
    buf = w._data
    opt = qf.optim.SGD([w], lr=0.01)           # p += -lr * g: one Axpy per parameter

    @qf.compile(strict=True)
    def step(x):
        opt.zero_grad()
        loss = ((x @ w) ** 2).sum()
        loss.backward()
        opt.step()
        return loss
    step(qf.tensor(x0))
    g = 2 * x0.T @ (x0 @ w0)
    np.testing.assert_allclose(w.detach().numpy(), w0 - np.float32(0.01) * g, rtol=1e-5, atol=1e-5)
    assert w._data is buf                      # updated in its own buffer


@pytest.mark.parametrize("batch, wide", [(4, 300), (60, 100)])
def test_compiled_linear_short_batch_wide_layer_equals_eager(batch, wide):
    """Few rows and many outputs: the compiled product runs as (w @ x.T).T inside the
    function; the logits it returns keep the eager layout (C order)."""
    import qiflow as qf
    from qiflow import nn
    qf.manual_seed(1)
    model = nn.Sequential(nn.Linear(30, wide), nn.ReLU(), nn.Linear(wide, 5)).double()
    lf = nn.CrossEntropyLoss()
    x = qf.tensor(R.uniform(-1, 1, (batch, 30)))
    y = qf.tensor(R.randint(0, 5, batch))

    def step(inp, tgt):
        hidden = model[1](model[0](inp))
        logits = model[2](hidden)
        loss = lf(logits, tgt)
        loss.backward()
        return loss, logits
    want, want_logits = step(x, y)
    eager = [p.grad.detach().numpy().copy() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    f = qf.compile(step, strict=True)
    got, logits = f(x, y)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(logits.detach().numpy(), want_logits.detach().numpy(), rtol=1e-12)
    assert logits.detach().numpy().flags.c_contiguous
    for p, g in zip(model.parameters(), eager):
        np.testing.assert_allclose(p.grad.detach().numpy(), g, rtol=1e-10, atol=1e-12)
    (entry,) = f.cache.values()
    assert (".T).T" in entry.fn.source) == (4 * batch <= wide)


def test_conv_weight_gradient_scheduled_before_the_conv_builds_its_own_matrix():
    from qiflow.ops.base import apply
    from qiflow.ops.conv import Conv2d, Conv2dWeightGrad
    p = ((1, 1), (0, 0, 0, 0), (1, 1), 1)
    x = T.tensor("x", "float64", shape=(2, 3, 5, 5))
    g = T.tensor("g", "float64", shape=(2, 4, 3, 3))
    w = T.tensor("w", "float64", shape=(4, 3, 3, 3))
    gw = apply(Conv2dWeightGrad(*p), x, g, w)          # first in the schedule
    y = apply(Conv2d(*p), x, w)
    f = T.function([x, g, w], [gw, y])
    xv, gv = R.uniform(-1, 1, (2, 3, 5, 5)), R.uniform(-1, 1, (2, 4, 3, 3))
    wv = R.uniform(-1, 1, (4, 3, 3, 3))
    got_gw, got_y = f(xv, gv, wv)
    want_y = np.zeros((2, 4, 3, 3))
    want_gw = np.zeros_like(wv)
    for i in range(3):
        for j in range(3):
            patch = xv[:, :, i:i + 3, j:j + 3]                        # (N, C, 3, 3)
            want_y[:, :, i, j] = np.einsum("ncab,ocab->no", patch, wv)
            want_gw += np.einsum("no,ncab->ocab", gv[:, :, i, j], patch)
    np.testing.assert_allclose(got_y, want_y, rtol=1e-12)
    np.testing.assert_allclose(got_gw, want_gw, rtol=1e-12)


def test_blocked_axpy_kernel_takes_a_python_scalar():
    from qiflow.ops.inplace import Axpy
    from qiflow.sym.kernels import _axpy_blocked
    x = R.uniform(-1, 1, 5 * 65536)
    y = R.uniform(-1, 1, 5 * 65536)
    want = x + y * 0.25
    _axpy_blocked(Axpy(), x, x, y, 0.25)
    np.testing.assert_array_equal(x, want)


def test_fused_kernels_pass_size_tokens_on():
    """A chain of fused kernels over a vector of unknown length: each kernel's output
    is known to have x's shape, so it is written into a dead buffer with no fallback
    (a try/except ValueError) -- and a real broadcast is still computed right."""
    x, m = T.dvector("x"), T.dmatrix("m")
    y = x
    for _ in range(6):
        y = T.tanh(y) * 0.5 + x
    f = T.function([x], y)
    assert "out=" in f.source and "except ValueError" not in f.source
    xv = np.linspace(-1, 1, 7)
    want = xv
    for _ in range(6):
        want = np.tanh(want) * 0.5 + xv
    np.testing.assert_allclose(f(xv), want, rtol=1e-12)
    z = T.tanh(T.tanh(x) * 0.5 + m) + x          # (n,) against (r, n): grows to a matrix
    g = T.function([x, m], z)
    mv = np.arange(21.0).reshape(3, 7) / 21
    np.testing.assert_allclose(g(xv, mv), np.tanh(np.tanh(xv) * 0.5 + mv) + xv, rtol=1e-12)
