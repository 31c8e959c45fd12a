"""Adaptive pooling, F.interpolate and Upsample against PyTorch (outputs, indices, gradients),
by finite differences, and their errors."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import nn
import qiflow.nn.functional as F

from ._torchref import compare, rand, t64

torch = pytest.importorskip("torch")
TF = torch.nn.functional

SIZES_2D = [(3, 2), 1, (7, 5), (4, 3), (7, 1), (2, None), (5, 4), (6, 3)]


@pytest.mark.parametrize("size", SIZES_2D)
@pytest.mark.parametrize("kind", ["avg", "max"])
def test_adaptive_pool2d_matches_pytorch(kind, size):
    q, t = getattr(F, f"adaptive_{kind}_pool2d"), getattr(TF, f"adaptive_{kind}_pool2d")
    compare(lambda x: q(x, size), lambda x: t(x, size), rand(2, 3, 7, 5))


@pytest.mark.parametrize("size", [(3, 2), (2, 2), (4, 5)])
def test_adaptive_max_pool2d_indices_match_pytorch(size):
    x = rand(2, 3, 7, 5)
    qy, qi = F.adaptive_max_pool2d(qf.tensor(x), size, return_indices=True)
    ty, ti = TF.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(qi.detach().numpy(), ti.detach().numpy())
    np.testing.assert_allclose(qy.detach().numpy(), ty.detach().numpy())


def test_adaptive_max_gradient_goes_to_the_first_maximum_like_pytorch():
    # all-zero windows (a ReLU's output): PyTorch gives the whole gradient to the first position
    x = np.maximum(rand(1, 2, 6, 7), 0)
    x[:, :, :3] = 0
    for size in [(2, 3), (4, 5), (3, 7)]:
        compare(lambda x: F.adaptive_max_pool2d(x, size), lambda x: TF.adaptive_max_pool2d(x, size), x)


@pytest.mark.parametrize("kind", ["avg", "max"])
def test_adaptive_pool1d_and_unbatched_match_pytorch(kind):
    q, t = getattr(F, f"adaptive_{kind}_pool1d"), getattr(TF, f"adaptive_{kind}_pool1d")
    for size in [1, 3, 4, 9]:
        compare(lambda x: q(x, size), lambda x: t(x, size), rand(2, 3, 9))
        compare(lambda x: q(x, size), lambda x: t(x, size), rand(3, 9))
    q2, t2 = getattr(F, f"adaptive_{kind}_pool2d"), getattr(TF, f"adaptive_{kind}_pool2d")
    compare(lambda x: q2(x, (3, 2)), lambda x: t2(x, (3, 2)), rand(3, 7, 5))


def test_adaptive_pool_layers_and_gradcheck():
    for q, t in [(nn.AdaptiveAvgPool2d((3, None)), torch.nn.AdaptiveAvgPool2d((3, None))),
                 (nn.AdaptiveMaxPool2d(3), torch.nn.AdaptiveMaxPool2d(3)),
                 (nn.AdaptiveAvgPool1d(4), torch.nn.AdaptiveAvgPool1d(4)),
                 (nn.AdaptiveMaxPool1d(4), torch.nn.AdaptiveMaxPool1d(4))]:
        compare(q, t, rand(2, 3, 7) if "1d" in type(q).__name__ else rand(2, 3, 7, 5))
    x = t64(1, 2, 5, 7)
    assert qf.gradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 4)), [x])
    assert qf.gradcheck(lambda x: F.adaptive_max_pool2d(x, (3, 4)), [x])
    assert qf.gradgradcheck(lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [x])


def test_adaptive_pool_errors():
    with pytest.raises(qf.QiflowError, match=r"adaptive_avg_pool2d: expected input \(N, C, H, W\) or \(C, H, W\), got shape \(5, 5\)"):
        F.adaptive_avg_pool2d(qf.ones((5, 5)), 2)
    with pytest.raises(qf.QiflowError, match=r"adaptive_max_pool2d: output_size must be an int or a 2-tuple of ints"):
        F.adaptive_max_pool2d(qf.ones((1, 1, 5, 5)), (1, 2, 3))
    with pytest.raises(qf.QiflowError, match=r"output_size \(0, 2\) .* must be >= 1"):
        F.adaptive_avg_pool2d(qf.ones((1, 1, 5, 5)), (0, 2))
    with pytest.raises(qf.QiflowError, match="adaptive_avg_pool2d: output_size must be an int or a 2-tuple of ints"):
        F.adaptive_avg_pool2d(qf.ones((1, 1, 5, 5)), 2.5)


# ------------------------------------------------------------------- interpolate
INTERP = [
    ((2, 3, 5), dict(scale_factor=2, mode="nearest")),
    ((2, 3, 5), dict(size=7, mode="nearest")),
    ((2, 3, 5), dict(scale_factor=1.7, mode="nearest-exact")),
    ((2, 3, 5), dict(size=8, mode="linear", align_corners=False)),
    ((2, 3, 5), dict(size=3, mode="linear", align_corners=True)),
    ((2, 3, 4, 5), dict(scale_factor=(2, 3), mode="nearest")),
    ((2, 3, 4, 5), dict(size=(7, 3), mode="nearest")),
    ((2, 3, 4, 5), dict(scale_factor=1.5, mode="bilinear", align_corners=False)),
    ((2, 3, 4, 5), dict(scale_factor=2.5, mode="bilinear", align_corners=False, recompute_scale_factor=True)),
    ((2, 3, 4, 5), dict(size=(9, 2), mode="bilinear", align_corners=True)),
    ((2, 3, 4, 5), dict(size=(1, 1), mode="bilinear", align_corners=True)),
    ((2, 3, 4, 5), dict(size=(3, 7), mode="nearest-exact")),
    ((2, 3, 8, 6), dict(size=(3, 4), mode="area")),
    ((1, 2, 3, 4, 5), dict(scale_factor=2, mode="trilinear")),
    ((1, 2, 3, 4, 5), dict(size=(2, 5, 8), mode="nearest")),
    ((1, 2, 150, 3), dict(size=(301, 5), mode="bilinear")),     # a long axis: gathers and a blend
]


@pytest.mark.parametrize("shape,kw", INTERP)
def test_interpolate_matches_pytorch(shape, kw):
    compare(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), rand(*shape))


def test_interpolate_float64_tight_and_gradcheck():
    x = rand(1, 2, 4, 5, dtype=np.float64)
    for kw in [dict(scale_factor=1.5, mode="bilinear"), dict(size=(7, 9), mode="bilinear", align_corners=True)]:
        compare(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), x, rtol=1e-12, atol=1e-12)
    x = t64(1, 2, 3, 4)
    assert qf.gradcheck(lambda x: F.interpolate(x, size=(5, 6), mode="bilinear"), [x])
    assert qf.gradcheck(lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), [x])
    assert qf.gradcheck(lambda x: F.interpolate(x, size=(4, 7), mode="nearest"), [x])
    big = t64(1, 1, 2, 140)
    assert qf.gradcheck(lambda x: F.interpolate(x, size=(2, 200), mode="bilinear"), [big])


def test_upsample_layers_match_pytorch():
    for q, t in [(nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
                 (nn.Upsample(size=(5, 9), mode="bilinear", align_corners=False),
                  torch.nn.Upsample(size=(5, 9), mode="bilinear", align_corners=False)),
                 (nn.UpsamplingNearest2d(scale_factor=3), torch.nn.UpsamplingNearest2d(scale_factor=3)),
                 (nn.UpsamplingBilinear2d(size=(6, 6)), torch.nn.UpsamplingBilinear2d(size=(6, 6)))]:
        compare(q, t, rand(2, 3, 4, 5))


def test_interpolate_errors():
    x = qf.ones((1, 1, 4, 4))
    with pytest.raises(qf.QiflowError, match="give exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(qf.QiflowError, match="align_corners can only be set with the interpolating modes"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(qf.QiflowError, match=r"mode 'linear' needs a 3-D input, got shape \(1, 1, 4, 4\)"):
        F.interpolate(x, scale_factor=2, mode="linear")
    with pytest.raises(qf.QiflowError, match="qiflow has no bicubic yet"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(qf.QiflowError, match=r"size \(3,\) must give 2 sizes"):
        F.interpolate(x, size=(3,))
    with pytest.raises(qf.QiflowError, match=r"size must be an int or a tuple of ints, got \(2.5, 3\)"):
        F.interpolate(x, size=(2.5, 3))
    with pytest.raises(qf.QiflowError, match=r"expected a 3-D, 4-D or 5-D input"):
        F.interpolate(qf.ones((4, 4)), scale_factor=2)
