"""The convolution and pooling kernels' fast paths give the same values as the plain ones and
as PyTorch or finite differences (float64)."""
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


def _layouts(a):
    """a in NCHW order and as conv2d returns it (batch-innermost memory)."""
    return [a, np.ascontiguousarray(a.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)]


@pytest.mark.parametrize("kernel", [(2, 2), (2, 3), (1, 1), (3, 1)])
@pytest.mark.parametrize("values", ["random", "ties", "nan"])
def test_tiled_max_pool_equals_the_tap_by_tap_path(kernel, values, monkeypatch):
    """Windows that tile the input take the one-reduction path; it gives what the
    general tap-by-tap path gives, ties (first maximum) and NaNs included."""
    from qiflow.ops.pool import MaxPool2d, MaxPool2dGrad
    r = np.random.default_rng(2)
    x = r.standard_normal((3, 2, 6, 6))
    if values == "ties":
        x = np.round(x)          # many equal maxima in a window
    elif values == "nan":
        x[0, 1, 2, 3] = np.nan
        x[1, 0, :2, :3] = -np.inf
    fw, bw = MaxPool2d(kernel, kernel, (0, 0)), MaxPool2dGrad(kernel, kernel, (0, 0))
    assert fw._tiles(x.shape)
    for xl in _layouts(x):
        y = fw.forward(xl)
        for gl in _layouts(r.standard_normal(y.shape)):
            dx = bw.forward(xl, y, gl)
            with monkeypatch.context() as m:
                m.setattr(type(fw), "_tiles", lambda self, shape: False)
                y_ref, dx_ref = fw.forward(xl), bw.forward(xl, y, gl)
            np.testing.assert_array_equal(y, y_ref)
            np.testing.assert_array_equal(dx, dx_ref)
            assert list(np.argsort(dx.strides)) == list(np.argsort(xl.strides))   # x's memory order


def test_tiled_max_pool_gradient_by_finite_differences():
    import qiflow as qf
    r = np.random.default_rng(3)
    x = qf.tensor(r.standard_normal((2, 3, 4, 6)), requires_grad=True)
    assert qf.autograd.gradcheck(lambda t: qf.nn.functional.max_pool2d(t, (2, 3)) ** 2, (x,))
    assert qf.autograd.gradgradcheck(lambda t: qf.nn.functional.max_pool2d(t, 2) ** 2, (x,))


@pytest.mark.parametrize("ones", [True, False])
def test_bias_row_of_ones_gives_bias_and_weight_gradients(ones):
    """Conv2d.forward_and_save with a row of ones (the compiled mode's bias folding)
    gives eager's output, and Conv2dWeightGrad(bias=True) the weight and bias
    gradients, with or without that row; checked against PyTorch (float64)."""
    from qiflow.ops.conv import Conv2d, Conv2dWeightGrad
    r = np.random.default_rng(4)
    x, w, b = r.standard_normal((3, 2, 7, 6)), r.standard_normal((4, 2, 3, 2)), r.standard_normal(4)
    st, pad, dil = conv_params((3, 2), 2, 1, 1)
    hold = [None]
    for _ in range(2):                     # the second call reuses the held matrix
        y, cols = Conv2d(st, pad, dil, 1).forward_and_save(x, w, b, hold, ones)
        assert cols.shape[0] == 2 * 3 * 2 + ones
        wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
        yt = torch.nn.functional.conv2d(torch.tensor(x), wt, bt, stride=2, padding=1)
        np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-12)
        g = r.standard_normal(y.shape)
        yt.backward(torch.tensor(g))
        dw, db = Conv2dWeightGrad(st, pad, dil, 1).forward(x, g, w, cols, True)
        np.testing.assert_allclose(dw, wt.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(db, bt.grad.numpy(), atol=1e-12)
        assert dw.flags.c_contiguous and dw.shape == w.shape
