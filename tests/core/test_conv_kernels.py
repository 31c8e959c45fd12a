"""The convolution kernels' blocked paths give the same values as the plain ones and
as PyTorch (float64), whatever the block size."""
import itertools

import numpy as np
import pytest

import qiflow.ops.conv as C
from qiflow.ops.conv import Conv2dInputGrad, conv_params

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("block", [1, 3000, 8 << 20])
def test_input_grad_in_row_blocks_matches_pytorch(block, monkeypatch):
    monkeypatch.setattr(C, "_BLOCK_BYTES", block)
    r = np.random.default_rng(1)
    for s, p, d, g in itertools.product((1, 2), (0, (1, 2)), (1, 2), (1, 2)):
        x = r.standard_normal((3, 4, 9, 8))
        w = r.standard_normal((6, 4 // g, 3, 2))
        xt = torch.tensor(x, requires_grad=True)
        y = torch.nn.functional.conv2d(xt, torch.tensor(w), stride=s, padding=p, dilation=d, groups=g)
        gy = r.standard_normal(tuple(y.shape))
        y.backward(torch.tensor(gy))
        st, pad, dil = conv_params((3, 2), s, p, d)
        out = Conv2dInputGrad(st, pad, dil, g).forward(gy, w, x)
        np.testing.assert_allclose(out, xt.grad.numpy(), atol=1e-10, err_msg=str((s, p, d, g)))
