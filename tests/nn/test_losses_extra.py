"""SmoothL1Loss, HuberLoss and KLDivLoss (and their functions) against PyTorch and by finite
differences."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import nn
import qiflow.nn.functional as F

from ._torchref import compare, rand, t64

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RED = ["mean", "sum", "none"]
# PyTorch's own deprecation notes ('mean' KL, size_average/reduce) are not about qiflow
pytestmark = pytest.mark.filterwarnings("ignore:.*(size_average|batchmean).*:UserWarning")


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0])
def test_smooth_l1_matches_pytorch(reduction, beta):
    x, y = rand(4, 5) * 2, rand(4, 5, seed=1) * 2
    compare(lambda x, y: F.smooth_l1_loss(x, y, reduction=reduction, beta=beta),
            lambda x, y: TF.smooth_l1_loss(x, y, reduction=reduction, beta=beta), x, y)
    compare(nn.SmoothL1Loss(reduction=reduction, beta=beta), torch.nn.SmoothL1Loss(reduction=reduction, beta=beta),
            x, y)


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("delta", [0.3, 1.0, 2.5])
def test_huber_matches_pytorch(reduction, delta):
    x, y, w = rand(4, 5) * 2, rand(4, 5, seed=1) * 2, np.abs(rand(4, 5, seed=2))
    compare(nn.HuberLoss(reduction, delta), torch.nn.HuberLoss(reduction, delta), x, y)
    compare(lambda x, y, w: F.huber_loss(x, y, reduction, delta, weight=w),
            lambda x, y, w: TF.huber_loss(x, y, reduction, delta, weight=w), x, y, w)


@pytest.mark.parametrize("reduction", RED + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_pytorch(reduction, log_target):
    logq = np.log(np.random.default_rng(0).dirichlet(np.ones(5), 4)).astype(np.float32)
    p = np.random.default_rng(1).dirichlet(np.ones(5), 4).astype(np.float32)
    target = np.log(p) if log_target else p
    qm, tm = nn.KLDivLoss(reduction=reduction, log_target=log_target), \
        torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)
    compare(qm, tm, logq, target)                    # gradients for input and target
    if not log_target:
        # a zero target contributes nothing (input gradient only: PyTorch's target gradient
        # there is NaN, qiflow's is -input, the derivative of the zero-extended term)
        p[0, 2] = 0.0
        compare(lambda x: qm(x, qf.tensor(p)), lambda x: tm(x, torch.tensor(p)), logq)
        t = qf.tensor(p, requires_grad=True)
        qm(qf.tensor(logq), t).sum().backward()
        assert np.isfinite(t.grad.numpy()).all()


def test_legacy_size_average_and_reduce_flags():
    x, y = rand(3, 4), rand(3, 4, seed=1)
    for sa, rd in [(False, None), (None, False), (True, True)]:
        compare(lambda x, y: F.smooth_l1_loss(x, y, sa, rd), lambda x, y: TF.smooth_l1_loss(x, y, sa, rd), x, y)
        compare(nn.KLDivLoss(sa, rd), torch.nn.KLDivLoss(sa, rd), x, np.abs(y))


def test_losses_gradcheck():
    x, y = t64(3, 4, scale=2), t64(3, 4, seed=1, scale=2)
    assert qf.gradcheck(lambda x, y: F.smooth_l1_loss(x, y, beta=0.7), [x, y])
    assert qf.gradcheck(lambda x, y: F.huber_loss(x, y, delta=0.9), [x, y])
    logq = qf.tensor(np.log(np.random.default_rng(0).dirichlet(np.ones(4), 3)), requires_grad=True)
    p = qf.tensor(np.random.default_rng(1).dirichlet(np.ones(4), 3), requires_grad=True)
    assert qf.gradcheck(lambda a, b: F.kl_div(a, b, reduction="batchmean"), [logq, p])
    logp = qf.tensor(np.log(p.detach().numpy()), requires_grad=True)
    assert qf.gradcheck(lambda a, b: F.kl_div(a, b, reduction="sum", log_target=True), [logq, logp])


def test_loss_errors():
    with pytest.raises(qf.QiflowError, match=r"smooth_l1_loss: input of shape \(3,\) and target of shape \(3, 1\) must have the same shape"):
        F.smooth_l1_loss(qf.ones(3), qf.ones((3, 1)))
    with pytest.raises(qf.QiflowError, match="smooth_l1_loss: beta must be >= 0, got -1"):
        F.smooth_l1_loss(qf.ones(3), qf.ones(3), beta=-1)
    with pytest.raises(qf.QiflowError, match="huber_loss: delta must be > 0"):
        F.huber_loss(qf.ones(3), qf.ones(3), delta=0)
    with pytest.raises(qf.QiflowError, match=r"kl_div: reduction must be one of \('mean', 'sum', 'none', 'batchmean'\)"):
        F.kl_div(qf.ones(3), qf.ones(3), reduction="avg")
    with pytest.raises(qf.QiflowError, match="HuberLoss: reduction must be"):
        nn.HuberLoss(reduction="batchmean")
