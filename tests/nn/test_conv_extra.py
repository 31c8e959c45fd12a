"""Conv1d, ConvTranspose1d/2d, F.conv_transpose2d and F.pad against PyTorch from the same
weights (outputs and gradients), by finite differences, and their errors."""
import math

import numpy as np
import pytest

import qiflow as qf
from qiflow import nn
import qiflow.nn.functional as F

from ._torchref import compare, copy_weights, rand, t64

torch = pytest.importorskip("torch")
TF = torch.nn.functional


TRANSPOSED = [
    dict(stride=1, padding=0),
    dict(stride=2, padding=1, output_padding=1),          # output_padding within the padding
    dict(stride=(2, 3), padding=0, output_padding=(1, 2)),  # output_padding beyond it: zero rows + bias
    dict(stride=1, padding=2, dilation=2),
    dict(stride=3, padding=(1, 0), output_padding=(2, 1), dilation=(1, 2)),
    dict(stride=2, padding=1, groups=2),
    dict(stride=1, padding=(0, 1), output_padding=1, dilation=2),   # output_padding >= stride (< dilation)
]


@pytest.mark.parametrize("cfg", TRANSPOSED)
def test_conv_transpose2d_matches_pytorch(cfg):
    groups = cfg.get("groups", 1)
    x, w, b = rand(2, 4, 5, 6), rand(4, 6 // groups, 3, 2, seed=1), rand(6, seed=2)
    compare(lambda x, w, b: F.conv_transpose2d(x, w, b, **cfg), lambda x, w, b: TF.conv_transpose2d(x, w, b, **cfg),
            x, w, b)


def test_conv_transpose2d_unbatched_and_no_bias():
    x, w = rand(3, 4, 4), rand(3, 2, 2, 2, seed=1)
    compare(lambda x, w: F.conv_transpose2d(x, w, stride=2), lambda x, w: TF.conv_transpose2d(x, w, stride=2), x, w)


@pytest.mark.parametrize("cfg", [TRANSPOSED[1], TRANSPOSED[2], TRANSPOSED[5], TRANSPOSED[6]])
def test_conv_transpose2d_first_and_second_order(cfg):
    groups = cfg.get("groups", 1)
    x, w, b = t64(1, 2, 3, 3), t64(2, 4 // groups, 3, 2, seed=1), t64(4, seed=2)

    def f(x, w, b):
        return F.conv_transpose2d(x, w, b, **cfg)
    assert qf.gradcheck(f, [x, w, b])
    assert qf.gradgradcheck(f, [x, w, b])


def test_conv_transpose_is_the_adjoint_of_conv():
    # <conv(x), y> == <x, conv_transpose(y)> for the same weight: the defining property
    x, w, y = t64(2, 3, 7, 6), t64(4, 3, 3, 3, seed=1), t64(2, 4, 4, 3, seed=2)
    lhs = (F.conv2d(x, w, stride=2, padding=1) * y).sum().item()
    rhs = (x * F.conv_transpose2d(y, w, stride=2, padding=1, output_padding=(0, 1))).sum().item()
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1),
                                dict(stride=1, padding=0, bias=False)])
def test_conv_transpose2d_layer_matches_pytorch(kw):
    tm, qm = torch.nn.ConvTranspose2d(4, 6, 3, **kw), nn.ConvTranspose2d(4, 6, 3, **kw)
    assert [(n, tuple(p.shape)) for n, p in qm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    copy_weights(qm, tm)
    compare(qm, tm, rand(2, 4, 5, 5), qm=qm, tm=tm)


def test_conv_transpose2d_output_size_picks_output_padding():
    tm, qm = torch.nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1), nn.ConvTranspose2d(2, 3, 3, stride=3, padding=1)
    copy_weights(qm, tm)
    x = rand(1, 2, 4, 4)
    for size in [(10, 10), (11, 12), (1, 3, 12, 10)]:
        compare(lambda x: qm(x, output_size=size), lambda x: tm(x, output_size=size), x)
    with pytest.raises(qf.QiflowError, match=r"requested output size \(13, 10\) is not possible .* \[10, 12\]"):
        qm(qf.tensor(x), output_size=(13, 10))


@pytest.mark.parametrize("cls,args,fan_in", [("Conv1d", (4, 6, 5), 4 * 5), ("ConvTranspose2d", (4, 6, (3, 2)), 6 * 6),
                                             ("ConvTranspose1d", (4, 6, 3), 6 * 3)])
def test_initialisation_bounds_are_pytorchs(cls, args, fan_in):
    # kaiming_uniform(a=sqrt 5) and the bias rule both give U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    # with fan_in = weight.shape[1] * kernel area (also for transposed layers)
    m, ref = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
    bound = 1 / math.sqrt(fan_in)
    for name, p in m.named_parameters():
        v = p.detach().numpy()
        tv = dict(ref.named_parameters())[name].detach().numpy()
        assert v.shape == tv.shape
        assert np.abs(v).max() <= bound and np.abs(tv).max() <= bound
        assert np.abs(v).max() > 0.5 * bound and v.std() > 0.3 * bound


CONV1D = [dict(stride=1, padding=0), dict(stride=2, padding=2, dilation=2), dict(padding="same", dilation=2),
          dict(padding="valid", groups=2), dict(padding=1, padding_mode="reflect"),
          dict(padding="same", padding_mode="replicate"), dict(padding=2, padding_mode="circular", stride=2)]


@pytest.mark.parametrize("kw", CONV1D)
def test_conv1d_layer_matches_pytorch(kw):
    tm, qm = torch.nn.Conv1d(4, 6, 4, **kw), nn.Conv1d(4, 6, 4, **kw)
    copy_weights(qm, tm)
    compare(qm, tm, rand(3, 4, 11), qm=qm, tm=tm)


def test_conv1d_unbatched_and_gradcheck():
    tm, qm = torch.nn.Conv1d(2, 3, 3), nn.Conv1d(2, 3, 3)
    copy_weights(qm, tm)
    compare(qm, tm, rand(2, 7))
    x, w, b = t64(2, 4, 6), t64(6, 2, 3, seed=1), t64(6, seed=2)
    assert qf.gradcheck(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, groups=2), [x, w, b])


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1, output_padding=1), dict(groups=2, dilation=2)])
def test_conv_transpose1d_layer_matches_pytorch(kw):
    tm, qm = torch.nn.ConvTranspose1d(4, 6, 3, **kw), nn.ConvTranspose1d(4, 6, 3, **kw)
    copy_weights(qm, tm)
    compare(qm, tm, rand(2, 4, 7), qm=qm, tm=tm)


def test_conv_errors_name_the_layer_and_shapes():
    with pytest.raises(qf.QiflowError, match=r"Conv1d\(4, 6.*expected input of shape \(N, 4, L\) or \(4, L\), got \(2, 3, 5\)"):
        nn.Conv1d(4, 6, 3)(qf.ones((2, 3, 5)))
    with pytest.raises(qf.QiflowError, match=r"ConvTranspose2d: padding_mode must be one of \('zeros',\)"):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(qf.QiflowError, match=r"output_padding \(2, 2\) must be smaller than either stride"):
        F.conv_transpose2d(qf.ones((1, 2, 3, 3)), qf.ones((2, 2, 3, 3)), stride=2, output_padding=2)
    with pytest.raises(qf.QiflowError, match=r"conv_transpose2d: input \(1, 3, 3, 3\) has 3 channels but weight"):
        F.conv_transpose2d(qf.ones((1, 3, 3, 3)), qf.ones((2, 2, 3, 3)))
    with pytest.raises(qf.QiflowError, match="Conv1d: in_channels 3 and out_channels 4 must be divisible by groups 2"):
        nn.Conv1d(3, 4, 3, groups=2)
    with pytest.raises(qf.QiflowError, match="padding='same' needs stride 1"):
        nn.Conv1d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(qf.QiflowError, match="conv_transpose2d: padding must be an int or a 2-tuple of ints, got 'same'"):
        F.conv_transpose2d(qf.ones((1, 2, 3, 3)), qf.ones((2, 2, 3, 3)), padding="same")
    with pytest.raises(qf.QiflowError, match=r"conv1d: stride must be an int or a 1-tuple of ints, got \(1, 2\)"):
        F.conv1d(qf.ones((1, 2, 5)), qf.ones((2, 2, 3)), stride=(1, 2))
    with pytest.raises(qf.QiflowError, match="conv1d: padding must be an int, 'valid' or 'same', got 'full'"):
        F.conv1d(qf.ones((1, 2, 5)), qf.ones((2, 2, 3)), padding="full")


# ------------------------------------------------------------------------- F.pad
PADS = [((1, 2), "constant", 3, (2, 3, 4)), ((1, -2, 0, 3), "constant", None, (2, 3, 4)),
        ((0, 1, 2, 0, 1, 1), "constant", -1.5, (2, 3, 4)), ((2, 1), "reflect", None, (2, 3, 4)),
        ((1, 2, 2, 0), "reflect", None, (1, 2, 3, 4)), ((3, 1), "replicate", None, (3, 5)),
        ((1, 2, 3, 0, 0, 1), "replicate", None, (1, 2, 2, 3, 4)), ((2, 3, 1, 1), "circular", None, (2, 3, 4)),
        ((1, 1, 1, 1, 1, 1), "circular", None, (1, 1, 2, 3, 4))]


@pytest.mark.parametrize("widths,mode,value,shape", PADS)
def test_pad_matches_pytorch(widths, mode, value, shape):
    kw = {} if value is None else dict(value=value)
    compare(lambda x: F.pad(x, widths, mode=mode, **kw), lambda x: TF.pad(x, widths, mode=mode, **kw), rand(*shape))


def test_pad_gradcheck():
    x = t64(2, 3, 4)
    assert qf.gradcheck(lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"), [x])
    assert qf.gradcheck(lambda x: F.pad(x, (-1, 2, 1, 0), value=0.5), [x])
    assert qf.gradcheck(lambda x: F.pad(x, (2, 2), mode="circular"), [x])


def test_pad_errors():
    with pytest.raises(qf.QiflowError, match=r"pad: pad \(1, 2, 3\) must have an even length"):
        F.pad(qf.ones((2, 3)), (1, 2, 3))
    with pytest.raises(qf.QiflowError, match=r"reflect widths \(3, 0\) must be smaller than the size 3"):
        F.pad(qf.ones((1, 2, 3)), (3, 0), mode="reflect")
    with pytest.raises(qf.QiflowError, match="mode 'replicate' pads the last 1, 2 or 3 dimensions"):
        F.pad(qf.ones((3,)), (1, 1), mode="replicate")
    with pytest.raises(qf.QiflowError, match="would have negative size -1"):
        F.pad(qf.ones((2, 3)), (-2, -2))
    with pytest.raises(qf.QiflowError, match="mode 'reflect' takes no value"):
        F.pad(qf.ones((1, 3)), (1, 1), mode="reflect", value=2.0)
    with pytest.raises(qf.QiflowError, match=r"pad: pad must be a tuple of ints, got \(1.5, 1\)"):
        F.pad(qf.ones((1, 3)), (1.5, 1))
    with pytest.raises(qf.QiflowError, match="mode must be 'constant', 'reflect'"):
        F.pad(qf.ones((1, 3)), (1, 1), mode="edge")
