"""``T.signal``: Theano's signal-processing namespace (``T.signal.pool.pool_2d``)."""
from . import pool
