"""``theano.sandbox``."""
from . import rng_mrg
