"""``theano.tensor.signal.pool``: qiflow.sym.signal.pool."""
from qiflow.sym.signal.pool import pool_2d, max_pool_2d_same_size, MODES  # noqa: F401
