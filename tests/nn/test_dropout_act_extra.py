"""Dropout1d/2d (whole channels), ReLU6 and Hardtanh."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import nn
import qiflow.nn.functional as F

from ._torchref import compare, rand

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("cls,shape", [(nn.Dropout2d, (8, 50, 3, 4)), (nn.Dropout2d, (50, 3, 4)),
                                       (nn.Dropout1d, (8, 50, 6)), (nn.Dropout1d, (50, 6))])
def test_channel_dropout_zeroes_whole_channels(cls, shape):
    m = cls(0.3, generator=qf.Generator(1))
    x = qf.tensor(np.abs(rand(*shape)) + 0.1, requires_grad=True)
    y = m(x)
    lead = 2 if len(shape) in (3, 4) and shape[0] == 8 else 1
    ratio = (y.detach().numpy() / x.detach().numpy()).reshape(int(np.prod(shape[:lead])), -1)
    # every channel is all dropped (0) or all kept and scaled by 1/(1-p)
    assert np.allclose(ratio.std(1), 0, atol=1e-6)
    kept = ratio[:, 0] != 0
    np.testing.assert_allclose(ratio[kept, 0], 1 / 0.7, rtol=1e-6)
    assert 0.15 < (ratio[:, 0] == 0).mean() < 0.45
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy() / x.detach().numpy(), rtol=1e-6)   # the gradient is the mask
    assert m.eval()(x) is x


def test_channel_dropout_edges_and_reproducibility():
    x = qf.ones((2, 3, 4, 4))
    assert (F.dropout2d(x, 1.0).detach().numpy() == 0).all()
    assert F.dropout2d(x, 0.0) is x
    assert F.dropout2d(x, 0.5, training=False) is x
    a = F.dropout2d(x, 0.5, generator=qf.Generator(3)).detach().numpy()
    assert (a == F.dropout2d(x, 0.5, generator=qf.Generator(3)).detach().numpy()).all()
    with pytest.raises(qf.QiflowError, match="dropout2d: expected a 3-D \\(unbatched\\) or 4-D \\(batched\\) input"):
        F.dropout2d(qf.ones((2, 3)))
    with pytest.raises(qf.QiflowError, match="Dropout1d: probability p must be in \\[0, 1\\], got 1.5"):
        nn.Dropout1d(1.5)


def test_relu6_and_hardtanh_match_pytorch():
    x = rand(5, 6) * 5
    x[0] = [6.0, -1.0, 0.0, 3.0, -2.0, 1.0]     # values on the kinks: PyTorch's gradient there is 0
    compare(nn.ReLU6(), torch.nn.ReLU6(), x)
    compare(nn.Hardtanh(-2.0, 3.0), torch.nn.Hardtanh(-2.0, 3.0), x)
    compare(nn.Hardtanh(), torch.nn.Hardtanh(), x)
    compare(F.relu6, torch.nn.functional.relu6, x)
    compare(lambda x: F.hardtanh(x, -2.0, 3.0), lambda x: torch.nn.functional.hardtanh(x, -2.0, 3.0), x)
    with pytest.raises(qf.QiflowError, match="Hardtanh: max_val -2 must be greater than min_val 1"):
        nn.Hardtanh(1, -2)
