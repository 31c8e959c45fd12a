"""One named test per autodiff bug class that users of micrograd, MyGrad, tinygrad,
Theano and PyTorch have reported over the years.  Each test states the exact
expected numbers (derived by hand or by an independent oracle), so a regression
cannot pass silently.
"""
import gc
import sys
import weakref

import numpy as np
import pytest

import qiflow as qf
from qiflow import losses

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def t64(values, grad=True):
    return qf.tensor(np.asarray(values, dtype=np.float64), requires_grad=grad)


# ------------------------------------------------------------ graph topology
def test_tensor_used_twice_accumulates():
    # micrograd's original bug: self.grad = ... instead of += on reuse
    a = t64(3.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0
    a2 = t64(3.0)
    (a2 * a2).backward()                    # d(a^2)/da = 2a
    assert a2.grad.item() == 6.0
    a3 = t64(2.0)
    (a3 * a3 * a3 + a3).backward()          # 3a^2 + 1
    assert a3.grad.item() == 13.0


def test_diamond_graph():
    # x -> (sin x, exp x) -> product: both paths meet again
    x = t64([0.3, -1.2, 2.0])
    y = (qf.sin(x) * qf.exp(x)).sum()
    y.backward()
    v = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(v) * (np.cos(v) + np.sin(v)), rtol=1e-14)


def test_diamond_with_paths_of_different_depth():
    # a skip connection: the short path must not be processed before the long one finishes
    x = t64(0.5)
    _skip(x).backward()
    assert x.grad.item() == pytest.approx(_numeric(_skip, 0.5), rel=1e-8)
    assert qf.gradcheck(_skip, [t64(0.5)])


def _skip(x):
    h = x * 2.0
    deep = h
    for _ in range(10):
        deep = qf.tanh(deep) + 0.1
    return deep * h + h


def _numeric(f, x0, eps=1e-6):
    return (f(t64(x0 + eps, False)).item() - f(t64(x0 - eps, False)).item()) / (2 * eps)


def test_chain_of_100000_ops_backward_without_recursion_error():
    limit = sys.getrecursionlimit()
    x = t64(1.0)
    y = x
    for i in range(100_000):
        y = y * 1.00001 if i % 2 else y + 0.5
    y.backward()
    assert sys.getrecursionlimit() == limit           # not "fixed" by raising the limit
    assert x.grad.item() == pytest.approx(1.00001 ** 50_000, rel=1e-12)
    # grad() on the same kind of chain, and dropping a chain that was never differentiated
    z = x
    for _ in range(100_000):
        z = z + 1.0
    assert qf.grad(z, x)[0].item() == 1.0
    w = x
    for _ in range(100_000):
        w = w - 1.0
    del w                                              # deallocation must not recurse either


# ------------------------------------------------------------- broadcasting
def test_broadcast_gradients_are_summed_not_averaged():
    a = t64(np.arange(3.0).reshape(3, 1))
    b = t64(np.arange(4.0))
    (a * 1.0 + b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((3, 1), 4.0))
    np.testing.assert_array_equal(b.grad.numpy(), np.full(4, 3.0))


def test_broadcast_gradient_into_0d_and_size1_inputs():
    s = t64(2.0)                       # 0-d
    one = t64([[1.5]])                 # (1, 1)
    x = t64(np.arange(6.0).reshape(2, 3))
    y = (s * x + one * x).sum()
    y.backward()
    assert s.grad.shape == () and s.grad.item() == 15.0
    assert one.grad.shape == (1, 1) and one.grad.item() == 15.0
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 3.5))
    # a 0-d tensor against a 3-d one, with a weighting so averaging would differ from summing
    s2 = t64(1.0)
    w = np.arange(24.0).reshape(2, 3, 4)
    (s2 * qf.tensor(w)).sum().backward()
    assert s2.grad.item() == w.sum()


def test_broadcast_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    shapes = [((2, 1, 4), (3, 1)), ((), (2, 3)), ((1,), (5, 1, 1)), ((4, 1), (1, 4))]
    for sa, sb in shapes:
        va, vb = rng.standard_normal(sa), rng.standard_normal(sb)
        a, b = t64(va), t64(vb)
        ta = torch.tensor(va, requires_grad=True)
        tb = torch.tensor(vb, requires_grad=True)
        w = rng.standard_normal(np.broadcast_shapes(sa, sb))
        ((a * b + a / (b * b + 1)) * w).sum().backward()
        ((ta * tb + ta / (tb * tb + 1)) * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-12)


# ------------------------------------------------------------ backward twice
def test_backward_twice_without_retain_graph_is_a_clear_error():
    x = t64([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    first = x.grad.numpy().copy()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first)       # the failed call added nothing


def test_backward_twice_with_retain_graph_accumulates():
    x = t64([1.0, 2.0])
    y = (qf.exp(x) * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    v = np.array([1.0, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(v) * (1 + v), rtol=1e-14)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()                                  # the second call did not retain


# ------------------------------------------------------------------ numerics
BIG = np.array([[1e3, -1e3, 0.0], [1e3, 1e3, 1e3], [-1e3, -1e3, -1e3 + 1.0],
                [0.0, -np.inf, 1.0], [-np.inf, 2.0, -np.inf]])


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family_large_logits_and_neg_inf(fn):
    torch = pytest.importorskip("torch")
    x = t64(BIG)
    tx = torch.tensor(BIG, requires_grad=True)
    f = {"softmax": (lambda a: qf.softmax(a, -1), lambda a: torch.softmax(a, -1)),
         "log_softmax": (lambda a: qf.log_softmax(a, -1), lambda a: torch.log_softmax(a, -1)),
         "logsumexp": (lambda a: qf.logsumexp(a, -1), lambda a: torch.logsumexp(a, -1))}[fn]
    y, ty = f[0](x), f[1](tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    assert not np.isnan(y.detach().numpy()).any()
    w = np.arange(y.numel(), dtype=np.float64).reshape(y.shape) - 3
    finite = np.isfinite(y.detach().numpy())
    (qf.where(finite, y, 0.0) * w).sum().backward()
    (torch.where(torch.tensor(finite), ty, 0.0) * torch.tensor(w)).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_softmax_row_of_all_neg_inf_stays_in_its_row():
    x = t64([[-np.inf, -np.inf], [0.0, 1.0]])
    assert qf.logsumexp(x, 1).detach().numpy()[0] == -np.inf
    p = qf.softmax(x, -1)
    np.testing.assert_allclose(p.detach().numpy()[1], [1 / (1 + np.e), np.e / (1 + np.e)], rtol=1e-15)
    p[1].sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[1], [0.0, 0.0], atol=1e-16)


def test_cross_entropy_large_logits_and_masked_classes():
    torch = pytest.importorskip("torch")
    # 0 * -inf = NaN used to leak from a masked (-inf) class that is not the target
    logits = np.array([[1e3, -1e3, 0.0], [0.0, -np.inf, 1.0], [-1e3, 1e3, -np.inf], [5.0, 5.0, 5.0]])
    target = np.array([1, 2, 1, 0])
    for red in ("none", "mean", "sum"):
        x = t64(logits)
        tx = torch.tensor(logits, requires_grad=True)
        y = losses.cross_entropy(x, target, reduction=red)
        ty = torch.nn.functional.cross_entropy(tx, torch.tensor(target), reduction=red)
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
        assert np.isfinite(y.detach().numpy()).all()
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-300)
    # the fused primitive behind nn.functional.cross_entropy / CrossEntropyLoss, in float32 too
    ty = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(target))
    for fn in (qf.nn.functional.cross_entropy, qf.nn.CrossEntropyLoss(),
               lambda a, t: qf.nn.functional.nll_loss(qf.log_softmax(a, -1), t)):
        for dtype, tol in (("float64", 1e-12), ("float32", 1e-6)):
            x = qf.tensor(logits.astype(dtype), requires_grad=True)
            tx = torch.tensor(logits, requires_grad=True)
            y = fn(x, target)
            y.backward()
            torch.nn.functional.cross_entropy(tx, torch.tensor(target)).backward()
            assert y.dtype == dtype and np.isfinite(y.item())
            assert y.item() == pytest.approx(ty.item(), rel=tol)
            np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    lp = t64(np.log([[0.5, 0.0, 0.5]]))                     # nll_loss on log-probs with a -inf
    assert losses.nll_loss(lp, np.array([0])).item() == pytest.approx(np.log(2))
    assert losses.cross_entropy(t64([[1e3, 0.0]]), np.array([1])).item() == 1e3


# -------------------------------------------------------------- where leaks
def test_where_nan_leak_from_unselected_branch_and_safe_pattern():
    """Documented (qiflow.ops.elementwise.Where): the unselected branch is still
    computed, so its NaN/inf slope times the zero gradient it receives is NaN.
    The safe pattern feeds the unsafe op a harmless value where it is not used."""
    x = t64([0.0, 4.0])
    qf.where(x > 0, qf.sqrt(x), 0.0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])                          # the leak, as in PyTorch and JAX
    assert x.grad.numpy()[1] == 0.25
    x.grad = None
    safe = qf.where(x > 0, qf.sqrt(qf.where(x > 0, x, 1.0)), 0.0)
    np.testing.assert_array_equal(safe.detach().numpy(), [0.0, 2.0])
    safe.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.25])
    torch = pytest.importorskip("torch")
    tx = torch.tensor([0.0, 4.0], dtype=torch.float64, requires_grad=True)
    torch.where(tx > 0, torch.sqrt(tx), 0.0).sum().backward()
    assert np.isnan(tx.grad.numpy()[0])                         # same semantics as the oracle


def test_where_log_at_negative_input_safe_pattern():
    x = t64([-1.0, 0.0, 2.0])
    y = qf.where(x > 0, qf.log(qf.where(x > 0, x, 1.0)), 0.0)
    assert np.isfinite(y.detach().numpy()).all()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.5])


# ----------------------------------------------------- int and bool tensors
def test_integer_and_bool_tensors_in_graphs():
    with pytest.raises(TypeError, match="floating"):
        qf.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        qf.tensor([True]).requires_grad_()
    x = qf.tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True)
    k = qf.tensor(np.array([2, 3, 4], np.int64))
    m = qf.tensor(np.array([True, False, True]))
    y = x * k + x * m + x // 1.0 + (x > 1.5) * x
    assert not (x > 1.5).requires_grad and not (x // 1.0).requires_grad
    y.sum().backward()
    # d/dx: k + m + 0 (floor divide has no gradient) + (x > 1.5)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0, 6.0])
    assert x.grad.dtype == np.float32                 # int64 promotion must not leak into .grad
    assert k.grad is None and m.grad is None
    r = x.astype("int64")                             # a cast to int ends the graph
    assert not r.requires_grad
    assert not (r * 2).requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        (r * 2).sum().backward()


# ----------------------------------------------------------------- indexing
def test_repeated_indices_scatter_add():
    x = t64(np.arange(5.0))
    idx = np.array([0, 0, 3, 0, 4, 3])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    (x[idx] * w).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 0.0, 0.0, 9.0, 5.0])
    # 2-d fancy indexing with repeated (row, col) pairs, and through a Tensor index
    m = t64(np.zeros((3, 3)))
    rows = qf.tensor(np.array([1, 1, 2, 1]))
    cols = np.array([0, 0, 2, 0])
    m[rows, cols].sum().backward()
    want = np.zeros((3, 3))
    want[1, 0], want[2, 2] = 3.0, 1.0
    np.testing.assert_array_equal(m.grad.numpy(), want)
    # take_along_axis (used by gather-style losses) with repeats
    z = t64(np.arange(6.0).reshape(2, 3))
    qf.take_along_axis(z, np.array([[2, 2, 2], [0, 1, 0]]), 1).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [[0.0, 0.0, 3.0], [2.0, 1.0, 0.0]])


# --------------------------------------------------------------------- ties
def test_ties_in_max_and_min_share_the_gradient_evenly():
    x = t64([3.0, 1.0, 3.0, 3.0])
    x.max().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 / 3, 0.0, 1 / 3, 1 / 3], rtol=1e-15)
    assert x.grad.numpy().sum() == pytest.approx(1.0, abs=1e-15)
    m = t64([[2.0, 2.0, 1.0], [0.0, 5.0, 0.0]])
    m.min(axis=1).values.sum().backward()   # PyTorch's (values, indices)
    np.testing.assert_array_equal(m.grad.numpy(), [[0.0, 0.0, 1.0], [0.5, 0.0, 0.5]])
    np.testing.assert_allclose(m.grad.numpy().sum(axis=1), [1.0, 1.0])
    a, b = t64([1.0, 2.0, 3.0]), t64([1.0, 5.0, 0.0])
    qf.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1.0, 0.0])
    torch = pytest.importorskip("torch")
    tm = torch.tensor([[2.0, 2.0, 1.0], [0.0, 5.0, 0.0]], dtype=torch.float64, requires_grad=True)
    torch.amin(tm, 1).sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), tm.grad.numpy())


# ----------------------------------------------------------------- reflected
def test_reflected_operators():
    x = t64([0.5, 2.0])
    ys = {"rsub": 2 - x, "rdiv": 2 / x, "rpow": 2 ** x, "radd": 2 + x, "rmul": 2 * x,
          "ndarray_rsub": np.array([1.0, 1.0]) - x}
    v = np.array([0.5, 2.0])
    want_val = {"rsub": 2 - v, "rdiv": 2 / v, "rpow": 2 ** v, "radd": 2 + v, "rmul": 2 * v,
                "ndarray_rsub": 1 - v}
    want_grad = {"rsub": -np.ones(2), "rdiv": -2 / v ** 2, "rpow": 2 ** v * np.log(2),
                 "radd": np.ones(2), "rmul": 2 * np.ones(2), "ndarray_rsub": -np.ones(2)}
    for k, y in ys.items():
        assert isinstance(y, qf.Tensor), k
        np.testing.assert_allclose(y.detach().numpy(), want_val[k], rtol=1e-15, err_msg=k)
        (g,) = qf.grad(y.sum(), x)
        np.testing.assert_allclose(g.detach().numpy(), want_grad[k], rtol=1e-15, err_msg=k)


# ------------------------------------------------- in-place after saving
def test_modifying_a_tensor_saved_for_backward_raises():
    w = t64([1.0, 2.0])
    x = t64([3.0, 4.0])
    y = (x * w).sum()                     # Multiply saved w
    with qf.no_grad():
        w.mul_(10)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
    # an op that saved its *output* (exp uses y in its vjp)
    a = t64([0.0, 1.0])
    e = qf.exp(a)
    s = e.sum()
    with qf.no_grad():
        e.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        s.backward()
    # modifying a tensor that is *not* saved by anyone is fine
    b = t64([1.0, 2.0])
    c = b + 1.0                           # Add saves nothing it needs, but c's consumers might
    d = (b * 3.0).sum()
    with qf.no_grad():
        c.add_(5.0)
    d.backward()
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 3.0])


# ------------------------------------------------------- graphs are freed
def _step(w, x):
    h = qf.tanh(x @ w)                   # the activation we watch
    loss = (h * h).mean()
    return loss, weakref.ref(h)


def test_graph_freed_after_backward_loss_kept_in_a_list():
    w = qf.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    x = qf.tensor(np.ones((2, 4)))
    history, watch = [], []
    was = gc.isenabled()
    gc.disable()                          # freed by reference counting alone: no cycles
    try:
        for _ in range(3):
            loss, ref = _step(w, x)
            loss.backward()
            history.append(loss)          # the classic leak: keeping the loss tensor
            watch.append(ref)
        assert all(r() is None for r in watch), "activations kept alive by a stored loss"
        assert all(l._inputs is None for l in history)
        # positive control: with retain_graph the activation is (correctly) kept
        loss, ref = _step(w, x)
        loss.backward(retain_graph=True)
        history.append(loss)
        assert ref() is not None
    finally:
        if was:
            gc.enable()
    gc.collect()


def test_graph_freed_when_dropped_without_backward():
    w = qf.tensor(np.ones((4, 3)), requires_grad=True)
    loss, ref = _step(w, qf.tensor(np.ones((2, 4))))
    was = gc.isenabled()
    gc.disable()
    try:
        del loss
        assert ref() is None
    finally:
        if was:
            gc.enable()


# ------------------------------------------------------- higher order
def test_second_order_gradients():
    x = t64([0.7, -1.3])
    y = (x ** 3 + qf.sin(x) * x).sum()
    (g,) = qf.grad(y, x, create_graph=True)
    v = x.detach().numpy()
    np.testing.assert_allclose(g.detach().numpy(), 3 * v ** 2 + np.cos(v) * v + np.sin(v), rtol=1e-14)
    (h,) = qf.grad(g.sum(), x)
    np.testing.assert_allclose(h.detach().numpy(), 6 * v - np.sin(v) * v + 2 * np.cos(v), rtol=1e-14)
    # mixed partials: d/dy (d/dx (x^2 y^3)) = 6 x y^2
    a, b = t64(1.5), t64(-2.0)
    (ga,) = qf.grad(a * a * b ** 3, a, create_graph=True)
    (gab,) = qf.grad(ga, b)
    assert gab.item() == pytest.approx(6 * 1.5 * 4.0, rel=1e-15)
    # backward(create_graph=True) then differentiating .grad (the PyTorch idiom)
    z = t64(2.0)
    (z ** 4).backward(create_graph=True)
    gz = z.grad
    z.grad = None
    gz.backward()
    assert z.grad.item() == 12 * 4.0
    assert qf.gradgradcheck(lambda u: qf.log_softmax(u * u, -1), [t64([[0.3, -0.2, 1.1]])])


def test_second_order_through_max_ties_and_softmax_matches_pytorch():
    torch = pytest.importorskip("torch")
    v = np.array([[0.3, 1.2, -0.4], [2.0, 2.0, 0.1]])
    x, tx = t64(v), torch.tensor(v, requires_grad=True)
    f = lambda s, amax, sm: (sm(s * s) * s).sum() + amax(s * s)  # noqa: E731
    y = f(x, lambda s: s.max(axis=1).values.sum(), lambda s: qf.softmax(s, -1))
    ty = f(tx, lambda s: torch.amax(s, 1).sum(), lambda s: torch.softmax(s, -1))
    (g,) = qf.grad(y, x, create_graph=True)
    (tg,) = torch.autograd.grad(ty, tx, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=1e-12)
    (h,) = qf.grad((g * g).sum(), x)
    (th,) = torch.autograd.grad((tg * tg).sum(), tx)
    np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy(), rtol=1e-11)


# ------------------------------------------------------------ BatchNorm
def test_batchnorm_running_statistics():
    rng = np.random.default_rng(0)
    bn = qf.nn.BatchNorm1d(3, momentum=0.1, dtype="float64")
    batches = [rng.normal([1.0, -2.0, 5.0], [0.5, 2.0, 3.0], size=(8, 3)) for _ in range(5)]
    rm, rv = np.zeros(3), np.ones(3)
    for b in batches:
        y = bn(qf.tensor(b))
        # training normalises with the batch's *biased* variance ...
        np.testing.assert_allclose(y.detach().numpy(), (b - b.mean(0)) / np.sqrt(b.var(0) + 1e-5), rtol=1e-12)
        # ... and keeps the *unbiased* one in the running average (PyTorch's momentum convention)
        rm = 0.9 * rm + 0.1 * b.mean(0)
        rv = 0.9 * rv + 0.1 * b.var(0, ddof=1)
    np.testing.assert_allclose(bn.running_mean.detach().numpy(), rm, rtol=1e-13)
    np.testing.assert_allclose(bn.running_var.detach().numpy(), rv, rtol=1e-13)
    assert int(bn.num_batches_tracked.item()) == 5
    # the buffers hold values, never a graph
    for buf in (bn.running_mean, bn.running_var):
        assert not buf.requires_grad and buf._op is None
    # eval uses (and does not update) the running statistics, with or without grad
    bn.eval()
    x = rng.standard_normal((4, 3))
    want = (x - rm) / np.sqrt(rv + 1e-5)
    np.testing.assert_allclose(bn(qf.tensor(x)).detach().numpy(), want, rtol=1e-12)
    with qf.no_grad():
        bn(qf.tensor(x))
    np.testing.assert_allclose(bn.running_mean.detach().numpy(), rm, rtol=1e-13)
    assert int(bn.num_batches_tracked.item()) == 5
    # a fresh layer loaded from the state dict behaves identically
    other = qf.nn.BatchNorm1d(3, dtype="float64")
    other.load_state_dict(bn.state_dict())
    other.eval()
    np.testing.assert_array_equal(other(qf.tensor(x)).detach().numpy(), bn(qf.tensor(x)).detach().numpy())


def test_batchnorm_cumulative_average_and_2d_counts():
    rng = np.random.default_rng(1)
    bn = qf.nn.BatchNorm1d(2, momentum=None, dtype="float64")
    batches = [rng.standard_normal((5, 2)) + k for k in range(4)]
    for b in batches:
        bn(qf.tensor(b))
    np.testing.assert_allclose(bn.running_mean.detach().numpy(), np.mean([b.mean(0) for b in batches], 0), rtol=1e-13)
    np.testing.assert_allclose(bn.running_var.detach().numpy(), np.mean([b.var(0, ddof=1) for b in batches], 0),
                               rtol=1e-13)
    # 2-d: statistics per channel over N, H and W; the unbiased correction uses N*H*W
    bn2 = qf.nn.BatchNorm2d(3, momentum=1.0, dtype="float64")
    x = rng.standard_normal((2, 3, 4, 5))
    bn2(qf.tensor(x))
    np.testing.assert_allclose(bn2.running_var.detach().numpy(), x.var((0, 2, 3), ddof=1), rtol=1e-13)
    torch = pytest.importorskip("torch")
    tbn = torch.nn.BatchNorm2d(3, momentum=0.3).double()
    qbn = qf.nn.BatchNorm2d(3, momentum=0.3, dtype="float64")
    for _ in range(3):
        v = rng.standard_normal((2, 3, 4, 5))
        tv = torch.tensor(v, requires_grad=True)
        qv = qf.tensor(v, requires_grad=True)
        w = rng.standard_normal(v.shape)
        (tbn(tv) * torch.tensor(w)).sum().backward()
        (qbn(qv) * w).sum().backward()
        np.testing.assert_allclose(qv.grad.numpy(), tv.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(qbn.running_mean.detach().numpy(), tbn.running_mean.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(qbn.running_var.detach().numpy(), tbn.running_var.detach().numpy(), rtol=1e-13)


# ------------------------------------------------------- early stopping
def _es_run(epochs, valid=True, early_stopping=None):
    from qiflow.data import DataLoader, TensorDataset
    qf.manual_seed(0)
    model = qf.nn.Sequential(qf.nn.Linear(3, 4), qf.nn.BatchNorm1d(4), qf.nn.Linear(4, 1))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3)).astype(np.float32)
    t = (X @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 1.0).astype(np.float32)
    train_loader = DataLoader(TensorDataset(X, t), batch_size=8, shuffle=True)
    # validation targets are half the training targets: the validation loss falls, then rises
    valid_loader = DataLoader(TensorDataset(X, t * 0.5), batch_size=20) if valid else None
    trainer = qf.train.Trainer(model, qf.optim.SGD(model.parameters(), lr=0.005), qf.nn.MSELoss(),
                               early_stopping=early_stopping, progress=False)
    history = trainer.fit(train_loader, valid_loader, epochs=epochs)
    return model, history, trainer, valid_loader


def _weights(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def test_early_stopping_restores_best_weights_when_the_epoch_limit_ends_training():
    model, history, trainer, valid = _es_run(12)
    assert not history.stopped_early and history.epochs == 12     # ended by the epoch limit
    losses = history["valid_loss"]
    best = int(np.argmin(losses)) + 1
    assert 1 < best < 12, losses                                   # the best is in the middle
    assert history.best["epoch"] == best
    # the independent oracle: the same run stopped after `best` epochs, without validation
    ref, _, _, _ = _es_run(best, valid=False)
    last, _, _, _ = _es_run(12, valid=False)
    got, want = _weights(model), _weights(ref)
    assert list(got) == list(want)
    for k in got:                                                  # BatchNorm buffers included
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    assert any(not np.array_equal(got[k], v) for k, v in _weights(last).items())
    assert trainer.evaluate(valid)["loss"] == pytest.approx(min(losses), rel=1e-6)


def test_early_stopping_by_patience_also_restores_best_weights():
    es = qf.train.EarlyStopping(patience=10, patience_increase=2, validation_frequency=5)
    model, history, trainer, valid = _es_run(50, early_stopping=es)
    assert history.stopped_early and history.epochs < 50
    assert trainer.evaluate(valid)["loss"] == pytest.approx(min(history["valid_loss"]), rel=1e-6)


def test_reusing_a_tensor_whose_graph_was_freed_is_explained():
    x = t64([0.5])
    h = x * 2.0
    h.sum().backward()                        # frees the graph behind h
    with pytest.raises(RuntimeError, match="second time.*retain_graph"):
        (h * 3.0).sum().backward()
    with pytest.raises(RuntimeError, match="freed by an earlier backward.*retain_graph"):
        qf.grad((h * 3.0).sum(), x)
    x2 = t64([0.5])
    h2 = x2 * 2.0
    h2.sum().backward(retain_graph=True)      # kept: reuse works and accumulates correctly
    assert qf.grad((h2 * 3.0).sum(), x2)[0].item() == 6.0


def test_grads_never_alias_each_other_or_the_callers_array():
    # Add hands both inputs the same gradient array, reshape/transpose hand out views:
    # modifying one leaf's .grad in place (clipping, zero_grad) must not touch another's
    a, b = t64([1.0, 2.0]), t64([3.0, 4.0])
    g = np.array([1.0, 1.0])
    (a + b).backward(g)
    with qf.no_grad():
        a.grad.mul_(10.0)
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(g, [1.0, 1.0])
    m = t64(np.ones((2, 3)))
    n = t64(np.ones((3, 2)))
    (m.reshape(3, 2) + n + m.T.reshape(3, 2)).sum().backward()
    with qf.no_grad():
        n.grad.add_(100.0)
    np.testing.assert_array_equal(m.grad.numpy(), np.full((2, 3), 2.0))
    # the same leaf reached twice in one sweep through pass-through vjps (add of the same g)
    x = t64([1.0, 2.0])
    (x + x + x.reshape(2)).backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(g, [1.0, 1.0])
