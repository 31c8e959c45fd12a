"""random_shift: each image translated by its own offset, vectorised."""
import numpy as np
import pytest

import qiflow as qf
from qiflow.data import random_shift


def _reference(img, dy, dx):
    h, w = img.shape
    out = np.zeros_like(img)
    for r in range(h):
        for c in range(w):
            sr, sc = r + dy, c + dx
            if 0 <= sr < h and 0 <= sc < w:
                out[r, c] = img[sr, sc]
    return out


def test_matches_per_image_translation():
    rng = np.random.default_rng(0)
    x = rng.random((6, 5 * 7)).astype(np.float32)
    got = random_shift(x, 2, image_shape=(5, 7), generator=qf.Generator(3))
    g = qf.Generator(3)
    dy, dx = g.integers(0, 5, 6) - 2, g.integers(0, 5, 6) - 2
    for k in range(6):
        np.testing.assert_array_equal(got[k].reshape(5, 7), _reference(x[k].reshape(5, 7), dy[k], dx[k]))
    assert got.dtype == np.float32 and got.shape == x.shape


def test_layouts_and_types():
    x = qf.rand(3, 1, 8, 8)
    y = random_shift(x, 1, generator=qf.Generator(0))
    assert isinstance(y, qf.Tensor) and y.shape == (3, 1, 8, 8)
    z = random_shift(x.detach().numpy()[:, 0], 1, generator=qf.Generator(0))
    np.testing.assert_array_equal(z, y.detach().numpy()[:, 0])
    assert random_shift(x, 0) is x
    with pytest.raises(ValueError, match="not 4x4"):
        random_shift(np.zeros((2, 15)), 1, image_shape=(4, 4))
