"""Finite-difference checks (float64) of the new layers not covered in their own files."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import nn
import qiflow.nn.functional as F

from ._torchref import t64


def test_conv_transpose1d_and_conv1d_layer_gradcheck():
    x, w, b = t64(2, 4, 5), t64(4, 3, 3, seed=1), t64(6, seed=2)
    assert qf.gradcheck(lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1,
                                                           groups=2), [x, w, b])
    m = nn.Conv1d(4, 2, 3, padding=2, padding_mode="reflect").double()
    assert qf.gradcheck(m, [x])


@pytest.mark.parametrize("kw", [dict(size=(3, 4, 7), mode="trilinear"), dict(size=6, mode="linear", align_corners=True),
                                dict(scale_factor=1.5, mode="nearest-exact"), dict(size=(2, 3), mode="area")])
def test_interpolate_modes_gradcheck(kw):
    shape = {"trilinear": (1, 1, 2, 3, 4), "linear": (1, 2, 4)}.get(kw["mode"], (1, 2, 4, 5))
    x = t64(*shape)
    assert qf.gradcheck(lambda x: F.interpolate(x, **kw), [x])


def test_pad_replicate_and_1d_pooling_gradcheck():
    x = t64(1, 2, 3, 4)
    assert qf.gradcheck(lambda x: F.pad(x, (2, 1, 0, 3), mode="replicate"), [x])
    y = t64(2, 3, 7)
    assert qf.gradcheck(lambda y: F.adaptive_avg_pool1d(y, 3), [y])
    assert qf.gradcheck(lambda y: F.adaptive_max_pool1d(y, 4), [y])


def test_hardtanh_relu6_and_channel_dropout_gradcheck():
    x = qf.tensor(np.array([-2.5, -0.5, 0.3, 0.8, 3.0, 5.5, 6.7]), requires_grad=True)   # away from the kinks
    assert qf.gradcheck(nn.Hardtanh(-1.0, 2.0), [x])
    assert qf.gradcheck(nn.ReLU6(), [x])
    z = t64(2, 3, 4, 2)

    def drop(z):      # the same channel mask on every call: the function is then deterministic
        return F.dropout2d(z, 0.5, generator=qf.Generator(5))
    assert qf.gradcheck(drop, [z])


def test_small_transformer_gradcheck():
    m = nn.Transformer(d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=6,
                       dropout=0.0, batch_first=True).double()
    src, tgt = t64(1, 3, 4), t64(1, 2, 4, seed=1)
    mask = nn.Transformer.generate_square_subsequent_mask(2, dtype="float64")
    assert qf.gradcheck(lambda s, t: m(s, t, tgt_mask=mask), [src, tgt])
