"""The fused softmax cross-entropy primitive: values, gradients (two orders), errors, fallbacks."""
import numpy as np
import pytest

import qiflow as qf
import qiflow.nn.functional as F
from qiflow import losses
from qiflow.ops.xent import softmax_cross_entropy


def test_matches_composite_and_is_stable():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5)).astype(np.float32) * 4
    x[0, 2] = 1e4
    t = rng.integers(0, 5, 7)
    a = qf.tensor(x, requires_grad=True)
    b = qf.tensor(x, requires_grad=True)
    la = softmax_cross_entropy(a, t)
    lb = -qf.take_along_axis(qf.log_softmax(b, axis=1), t[:, None], 1)[:, 0]
    np.testing.assert_allclose(la.detach().numpy(), lb.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert np.isfinite(la.detach().numpy()).all()
    g = rng.standard_normal(7).astype(np.float32)
    la.backward(qf.tensor(g))
    lb.backward(qf.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert la.dtype == np.float32 and a.grad.dtype == np.float32


def test_gradcheck_first_and_second_order():
    x = qf.tensor(np.random.default_rng(1).standard_normal((4, 3)), requires_grad=True)
    t = np.array([0, 2, 1, 2])
    assert qf.gradcheck(lambda x: softmax_cross_entropy(x, t), [x])
    assert qf.gradgradcheck(lambda x: softmax_cross_entropy(x, t), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_functional_cross_entropy_fast_path_equals_losses(reduction):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    t = rng.integers(0, 4, 6)
    a, b = qf.tensor(x, requires_grad=True), qf.tensor(x, requires_grad=True)
    la, lb = F.cross_entropy(a, qf.tensor(t), reduction=reduction), losses.cross_entropy(b, t, reduction=reduction)
    np.testing.assert_allclose(la.detach().numpy(), lb.detach().numpy(), rtol=1e-6, atol=1e-6)
    la.sum().backward(), lb.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_ignore_index_and_errors():
    x = qf.tensor([[1.0, 2.0], [3.0, 0.0]])
    # an ignored target takes the general path and counts for nothing
    assert F.cross_entropy(x, qf.tensor([1, -100])).item() == pytest.approx(
        F.cross_entropy(x[:1], qf.tensor([1])).item())
    with pytest.raises(qf.QiflowError, match="target class index 2 is out of range for 2 classes"):
        F.cross_entropy(x, qf.tensor([0, 2]))
    with pytest.raises(qf.QiflowError, match=r"need class targets of shape \(2,\), got \(3,\)"):
        softmax_cross_entropy(x, np.array([0, 1, 1]))
    with pytest.raises(qf.QiflowError, match="integers"):
        softmax_cross_entropy(x, np.array([0.0, 1.0]))
