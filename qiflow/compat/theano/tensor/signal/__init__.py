"""``theano.tensor.signal``."""
from . import pool
