"""``theano.tensor.signal``."""
from . import pool
from . import downsample  # noqa: E402  (Theano's older module)
