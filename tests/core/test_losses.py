"""Losses (qiflow.losses): values and gradients against NumPy and PyTorch,
gradcheck in float64, numerical stability at extreme inputs, and errors."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import losses as L
from qiflow._state import QiflowError

RNG = np.random.default_rng(7)
X = RNG.standard_normal((4, 5))
T = np.array([0, 3, 4, 1])
W = RNG.uniform(0.5, 1.5, 5)
P = RNG.random((4, 5))
P /= P.sum(1, keepdims=True)
X3 = RNG.standard_normal((2, 4, 3))
T3 = RNG.integers(0, 4, (2, 3))
PR = RNG.uniform(0.05, 0.95, (3, 4))
TB = RNG.random((3, 4))
WB = RNG.uniform(0.5, 1.5, (3, 4))
PW = np.array([1.0, 2.0, 0.5, 3.0])
REDUCTIONS = ["mean", "sum", "none"]


def _np_log_softmax(x, axis):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


# (name, qiflow fn on tensors, torch fn on tensors or None, float64 inputs)
def _cases():
    c = []
    for red in REDUCTIONS:
        c += [
            (f"ce-{red}", lambda x, r=red: L.cross_entropy(x, T, reduction=r),
             lambda F, t, x, r=red: F.cross_entropy(x, t(T), reduction=r), [X]),
            (f"ce-weight-{red}", lambda x, r=red: L.cross_entropy(x, T, weight=W, reduction=r),
             lambda F, t, x, r=red: F.cross_entropy(x, t(T), weight=t(W), reduction=r), [X]),
            (f"ce-ignore-{red}", lambda x, r=red: L.cross_entropy(x, T, ignore_index=3, reduction=r),
             lambda F, t, x, r=red: F.cross_entropy(x, t(T), ignore_index=3, reduction=r), [X]),
            (f"ce-smooth-{red}", lambda x, r=red: L.cross_entropy(x, T, label_smoothing=0.2, reduction=r),
             lambda F, t, x, r=red: F.cross_entropy(x, t(T), label_smoothing=0.2, reduction=r), [X]),
            (f"ce-all-{red}", lambda x, r=red: L.cross_entropy(x, T, weight=W, ignore_index=0,
                                                               label_smoothing=0.3, reduction=r),
             lambda F, t, x, r=red: F.cross_entropy(x, t(T), weight=t(W), ignore_index=0,
                                                    label_smoothing=0.3, reduction=r), [X]),
            (f"ce-prob-{red}", lambda x, p, r=red: L.cross_entropy(x, p, reduction=r),
             lambda F, t, x, p, r=red: F.cross_entropy(x, p, reduction=r), [X, P]),
            (f"ce-prob-weight-smooth-{red}",
             lambda x, p, r=red: L.cross_entropy(x, p, weight=W, label_smoothing=0.1, reduction=r),
             lambda F, t, x, p, r=red: F.cross_entropy(x, p, weight=t(W), label_smoothing=0.1, reduction=r),
             [X, P]),
            (f"ce-3d-{red}", lambda x, r=red: L.cross_entropy(x, T3, reduction=r),
             lambda F, t, x, r=red: F.cross_entropy(x, t(T3), reduction=r), [X3]),
            (f"nll-weight-{red}", lambda x, r=red: L.nll_loss(x, T, weight=W, reduction=r),
             lambda F, t, x, r=red: F.nll_loss(x, t(T), weight=t(W), reduction=r), [X]),
            (f"bce-{red}", lambda p, y, r=red: L.binary_cross_entropy(p, y, reduction=r),
             lambda F, t, p, y, r=red: F.binary_cross_entropy(p, y, reduction=r), [PR, TB]),
            (f"bce-weight-{red}", lambda p, y, r=red: L.binary_cross_entropy(p, y, weight=WB, reduction=r),
             lambda F, t, p, y, r=red: F.binary_cross_entropy(p, y, weight=t(WB), reduction=r), [PR, TB]),
            (f"bcel-{red}", lambda x, y, r=red: L.binary_cross_entropy_with_logits(x, y, reduction=r),
             lambda F, t, x, y, r=red: F.binary_cross_entropy_with_logits(x, y, reduction=r),
             [X[:3, :4], TB]),
            (f"bcel-posw-{red}",
             lambda x, y, r=red: L.binary_cross_entropy_with_logits(x, y, weight=WB, pos_weight=PW, reduction=r),
             lambda F, t, x, y, r=red: F.binary_cross_entropy_with_logits(
                 x, y, weight=t(WB), pos_weight=t(PW), reduction=r), [X[:3, :4], TB]),
            (f"mse-{red}", lambda a, b, r=red: L.mse_loss(a, b, reduction=r),
             lambda F, t, a, b, r=red: F.mse_loss(a, b, reduction=r), [X, P]),
            (f"l1-{red}", lambda a, b, r=red: L.l1_loss(a, b, reduction=r),
             lambda F, t, a, b, r=red: F.l1_loss(a, b, reduction=r), [X, P]),
        ]
    c.append(("ce-1d-row", lambda x: L.cross_entropy(x, np.array(2)),
              lambda F, t, x: F.cross_entropy(x, t(np.array(2))), [X[0]]))
    return c


CASES = _cases()
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,fn,tfn,arrays", CASES, ids=IDS)
def test_against_pytorch(name, fn, tfn, arrays):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    xs = [qf.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = fn(*xs), tfn(F, torch.tensor, *ts)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = np.random.default_rng(1).standard_normal(y.shape)
    (y * w).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,fn,tfn,arrays", [c for c in CASES if not c[0].endswith("-sum")],
                         ids=[i for i in IDS if not i.endswith("-sum")])
def test_gradcheck(name, fn, tfn, arrays):
    xs = [qf.tensor(a, requires_grad=True) for a in arrays]
    assert qf.gradcheck(fn, xs)


def test_cross_entropy_matches_numpy_without_torch():
    x = qf.tensor(X, requires_grad=True)
    want = -_np_log_softmax(X, 1)[np.arange(4), T]
    np.testing.assert_allclose(L.cross_entropy(x, T, reduction="none").detach().numpy(), want, rtol=1e-12)
    loss = L.cross_entropy(x, T)
    np.testing.assert_allclose(loss.item(), want.mean(), rtol=1e-12)
    loss.backward()
    onehot = np.eye(5)[T]
    sm = np.exp(_np_log_softmax(X, 1))
    np.testing.assert_allclose(x.grad.numpy(), (sm - onehot) / 4, rtol=1e-10, atol=1e-14)


def test_uniform_logits_give_log_num_classes():
    loss = L.cross_entropy(qf.zeros((3, 7)), np.array([0, 6, 2]))
    assert loss.item() == pytest.approx(np.log(7), rel=1e-6)


def test_bce_and_mse_match_numpy_without_torch():
    p, y = qf.tensor(PR), qf.tensor(TB)
    want = -(TB * np.log(PR) + (1 - TB) * np.log(1 - PR))
    np.testing.assert_allclose(L.binary_cross_entropy(p, y, reduction="none").detach().numpy(), want, rtol=1e-12)
    np.testing.assert_allclose(L.binary_cross_entropy_with_logits(qf.tensor(X[:3, :4]), y).item(),
                               np.mean(np.logaddexp(0, X[:3, :4]) - TB * X[:3, :4]), rtol=1e-12)
    assert L.mse_loss(qf.tensor(X), qf.tensor(P), reduction="sum").item() == pytest.approx(((X - P) ** 2).sum())
    assert L.l1_loss(qf.tensor(X), qf.tensor(P)).item() == pytest.approx(np.abs(X - P).mean())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_logits_stay_finite(dtype):
    x = qf.tensor(np.array([[1e3, -1e3, 0.0], [-1e3, 1e3, 5.0]], dtype=dtype), requires_grad=True)
    loss = L.cross_entropy(x, np.array([1, 1]))
    loss.backward()
    assert loss.dtype == np.dtype(dtype)
    assert loss.item() == pytest.approx(1000.0, rel=1e-6)   # row 0: 2000, row 1: ~0
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy()[0], [0.5, -0.5, 0.0], atol=1e-6)

    z = qf.tensor(np.array([1e3, -1e3, 1e3, -1e3], dtype=dtype), requires_grad=True)
    t = qf.tensor(np.array([0.0, 1.0, 1.0, 0.0], dtype=dtype))
    b = L.binary_cross_entropy_with_logits(z, t, reduction="none")
    b.sum().backward()
    np.testing.assert_allclose(b.detach().numpy(), [1e3, 1e3, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(z.grad.numpy(), [1.0, -1.0, 0.0, 0.0], atol=1e-6)

    s = qf.tensor(np.array([[1e3, -1e3]], dtype=dtype), requires_grad=True)
    soft = L.cross_entropy(s, qf.tensor(np.array([[0.0, 1.0]], dtype=dtype)))
    soft.backward()
    assert soft.item() == pytest.approx(2000.0) and np.isfinite(s.grad.numpy()).all()


def test_bce_is_clamped_never_inf_or_nan():
    p = qf.tensor([0.0, 1.0, 0.0, 1.0, 0.5], requires_grad=True)
    y = qf.tensor([1.0, 0.0, 0.0, 1.0, 1.0])
    loss = L.binary_cross_entropy(p, y, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [100.0, 100.0, 0.0, 0.0, np.log(2)], rtol=1e-6)
    loss.sum().backward()
    assert np.isfinite(p.grad.numpy()).all()
    assert p.grad.numpy()[4] == pytest.approx(-2.0)


def test_integer_targets_as_tensor_ndarray_or_list():
    x = qf.tensor(X)
    a = L.cross_entropy(x, qf.tensor(T)).item()
    b = L.cross_entropy(x, T).item()
    c = L.cross_entropy(x, T.tolist()).item()
    d = L.cross_entropy(x, T.astype(np.int32)).item()
    assert a == b == c == d


def test_float32_stays_float32():
    x = qf.tensor(X.astype(np.float32), requires_grad=True)
    for loss in (L.cross_entropy(x, T), L.cross_entropy(x, P.astype(np.float32), label_smoothing=0.1),
                 L.mse_loss(x, qf.tensor(P.astype(np.float32))), L.nll_loss(x, T)):
        assert loss.dtype == np.float32
        x.grad = None
        loss.backward()
        assert x.grad.dtype == np.float32
    # float64 NumPy targets and weights take the input's dtype
    p = qf.sigmoid(x)
    for loss in (L.cross_entropy(x, P, weight=W), L.cross_entropy(x, T, weight=W, label_smoothing=0.1),
                 L.binary_cross_entropy(p, P, weight=P), L.mse_loss(x, P), L.l1_loss(x, P),
                 L.binary_cross_entropy_with_logits(x, P, weight=P, pos_weight=W)):
        assert loss.dtype == np.float32


@pytest.mark.parametrize("bad", [5, 9, -1])
def test_class_index_out_of_range_names_op_index_and_classes(bad):
    t = T.copy()
    t[2] = bad
    with pytest.raises(QiflowError) as e:
        L.cross_entropy(qf.tensor(X), t)
    msg = str(e.value)
    assert "cross_entropy" in msg and str(bad) in msg and "5 classes" in msg
    with pytest.raises(QiflowError, match=r"nll_loss.*index 9.*3 classes"):
        L.nll_loss(qf.tensor(X[:, :3]), qf.tensor(np.array([0, 1, 9, 2])))


def test_ignore_index_is_not_out_of_range():
    t = np.array([0, -100, 4, 1])
    full = L.cross_entropy(qf.tensor(X), t, reduction="none").detach().numpy()
    assert full[1] == 0.0
    assert L.cross_entropy(qf.tensor(X), t).item() == pytest.approx(full.sum() / 3)


def test_bad_inputs_give_clear_errors():
    x = qf.tensor(X)
    with pytest.raises(QiflowError, match="reduction"):
        L.mse_loss(x, x, reduction="avg")
    with pytest.raises(QiflowError, match=r"cross_entropy.*\(4, 5\).*\(4,\).*\(3,\)"):
        L.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(QiflowError, match=r"cross_entropy.*\(4, 5\).*\(4, 4\)"):
        L.cross_entropy(x, np.zeros((4, 4)))
    with pytest.raises(QiflowError, match=r"mse_loss.*\(4, 5\).*\(4, 1\)"):
        L.mse_loss(x, qf.zeros((4, 1), dtype="float64"))
    with pytest.raises(QiflowError, match=r"binary_cross_entropy.*\[0, 1\]"):
        L.binary_cross_entropy(qf.tensor([0.5, 1.5]), qf.tensor([1.0, 0.0]))
    with pytest.raises(QiflowError, match="label_smoothing"):
        L.cross_entropy(x, T, label_smoothing=1.5)
