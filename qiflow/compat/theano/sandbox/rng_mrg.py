"""``theano.sandbox.rng_mrg``: qiflow's MRG_RandomStreams (Philox inside: the
signatures are MRG's, the numbers are qiflow's)."""
from qiflow.sym.random import MRG_RandomStreams  # noqa: F401
