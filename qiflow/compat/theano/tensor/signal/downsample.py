"""``theano.tensor.signal.downsample``: Theano's older pooling module."""
from qiflow.sym.signal.pool import pool_2d


def max_pool_2d(input, ds, ignore_border=None, st=None, padding=(0, 0), mode="max"):
    """The old ``downsample.max_pool_2d(input, ds, ignore_border, st, padding, mode)``."""
    return pool_2d(input, ws=ds, ignore_border=ignore_border, stride=st, pad=padding, mode=mode)
