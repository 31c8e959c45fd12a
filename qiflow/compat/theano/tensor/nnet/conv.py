"""``theano.tensor.nnet.conv``: Theano's older convolution module (its
``conv2d`` was a true convolution, filters flipped, like the newer one)."""
from qiflow.sym.nnet import conv2d as _conv2d


def conv2d(input, filters, image_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1), **kargs):
    """The old ``conv.conv2d(input, filters, image_shape, filter_shape, border_mode,
    subsample)``: 'valid' or 'full'."""
    if border_mode not in ("valid", "full"):
        raise ValueError(f"conv.conv2d: border_mode must be 'valid' or 'full', got {border_mode!r}")
    return _conv2d(input, filters, input_shape=image_shape, filter_shape=filter_shape,
                   border_mode=border_mode, subsample=subsample, filter_flip=True)
