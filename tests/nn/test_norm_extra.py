"""GroupNorm / F.group_norm and F.normalize against PyTorch and by finite differences."""
import pytest

import qiflow as qf
from qiflow import nn
import qiflow.nn.functional as F

from ._torchref import compare, copy_weights, rand, t64

torch = pytest.importorskip("torch")
TF = torch.nn.functional


@pytest.mark.parametrize("groups,shape", [(1, (3, 6, 4)), (2, (3, 6, 4, 5)), (3, (2, 6)), (6, (2, 6, 3, 2, 2))])
def test_group_norm_layer_matches_pytorch(groups, shape):
    tm, qm = torch.nn.GroupNorm(groups, 6), nn.GroupNorm(groups, 6)
    with torch.no_grad():     # non-trivial affine parameters
        tm.weight.copy_(torch.tensor(rand(6, seed=5)))
        tm.bias.copy_(torch.tensor(rand(6, seed=6)))
    copy_weights(qm, tm)
    compare(qm, tm, rand(*shape) * 3 + 1, qm=qm, tm=tm)


def test_group_norm_init_no_affine_and_no_bias():
    assert (nn.GroupNorm(2, 4).weight.detach().numpy() == 1).all() and (nn.GroupNorm(2, 4).bias.detach().numpy() == 0).all()
    tm, qm = torch.nn.GroupNorm(2, 4, affine=False), nn.GroupNorm(2, 4, affine=False)
    assert list(qm.state_dict()) == list(tm.state_dict()) == []
    compare(qm, tm, rand(2, 4, 3))
    tm, qm = torch.nn.GroupNorm(2, 4, bias=False), nn.GroupNorm(2, 4, bias=False)
    assert list(qm.state_dict()) == list(tm.state_dict()) == ["weight"]
    compare(qm, tm, rand(2, 4, 3), qm=qm, tm=tm)


def test_group_norm_gradcheck():
    x, w, b = t64(2, 4, 3), t64(4, seed=1), t64(4, seed=2)
    assert qf.gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), [x, w, b])
    assert qf.gradgradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), [x, w, b])


def test_group_norm_errors():
    with pytest.raises(qf.QiflowError, match="GroupNorm: num_channels 6 must be divisible by num_groups 4"):
        nn.GroupNorm(4, 6)
    with pytest.raises(qf.QiflowError, match=r"GroupNorm\(2, 6.*expected input \(N, 6, \*\), got shape \(2, 5, 3\)"):
        nn.GroupNorm(2, 6)(qf.ones((2, 5, 3)))
    with pytest.raises(qf.QiflowError, match=r"group_norm: 5 channels .* cannot be split into 2 groups"):
        F.group_norm(qf.ones((2, 5)), 2)


@pytest.mark.parametrize("p,dim", [(2, 1), (1, -1), (3, 0), (float("inf"), 1), (2.5, 2)])
def test_normalize_matches_pytorch(p, dim):
    compare(lambda x: F.normalize(x, p, dim), lambda x: TF.normalize(x, p, dim), rand(3, 4, 5))


def test_normalize_zero_vector_has_zero_gradient_like_pytorch():
    x = rand(3, 4)
    x[1] = 0
    compare(lambda x: F.normalize(x), lambda x: TF.normalize(x), x)
    compare(lambda x: F.normalize(x, p=1, eps=1e-3), lambda x: TF.normalize(x, p=1, eps=1e-3), x * 1e-4)


def test_normalize_gradcheck_and_errors():
    x = t64(3, 4)
    assert qf.gradcheck(lambda x: F.normalize(x, dim=0), [x])
    assert qf.gradcheck(lambda x: F.normalize(x, p=3, dim=1), [x])
    with pytest.raises(qf.QiflowError, match=r"normalize: dim 2 is out of range for input of shape \(3, 4\)"):
        F.normalize(qf.ones((3, 4)), dim=2)
    with pytest.raises(qf.QiflowError, match="normalize: p must be > 0"):
        F.normalize(qf.ones((3, 4)), p=0)
