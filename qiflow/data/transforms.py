"""Batch transforms for data augmentation, vectorised over the whole batch.

>>> x = np.arange(2 * 16, dtype=np.float32).reshape(2, 16)       # two 4x4 images as rows
>>> random_shift(x, 1, image_shape=(4, 4), generator=qf.Generator(0)).shape
(2, 16)
"""
import numpy as np

from ..random import default_generator
from ..tensor import Tensor


def random_shift(images, max_shift=2, image_shape=None, generator=None, fill=0.0):
    """Translate every image by its own random offset in ``[-max_shift, max_shift]``
    pixels along each axis (uncovered pixels get ``fill``).

    ``images`` is an array or tensor of shape (N, H, W), (N, C, H, W), or
    (N, H*W) rows with ``image_shape=(H, W)``; the result has the same shape
    and type.  One gather for the whole batch — no loop over images.
    """
    is_tensor = isinstance(images, Tensor)
    x = images._data if is_tensor else np.asarray(images)
    shape = x.shape
    if image_shape is not None:
        h, w = image_shape
        if x.shape[-1] != h * w:
            raise ValueError(f"random_shift: rows of length {x.shape[-1]} are not {h}x{w} images")
        x = x.reshape(shape[0], 1, h, w)
    elif x.ndim == 3:
        x = x[:, None]
    elif x.ndim != 4:
        raise ValueError(f"random_shift: expected (N, H, W), (N, C, H, W) or rows with image_shape, "
                         f"got shape {shape}")
    if max_shift <= 0:
        return images
    n, _, h, w = x.shape
    s = int(max_shift)
    gen = generator if generator is not None else default_generator()
    padded = np.pad(x, ((0, 0), (0, 0), (s, s), (s, s)), constant_values=fill)
    dy, dx = gen.integers(0, 2 * s + 1, n), gen.integers(0, 2 * s + 1, n)
    rows = (dy[:, None] + np.arange(h))[:, None, :, None]
    cols = (dx[:, None] + np.arange(w))[:, None, None, :]
    out = padded[np.arange(n)[:, None, None, None], np.arange(x.shape[1])[None, :, None, None], rows, cols]
    out = out.reshape(shape)
    return Tensor._wrap(out) if is_tensor else out
