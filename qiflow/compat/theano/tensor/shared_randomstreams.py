"""``theano.tensor.shared_randomstreams``: qiflow's symbolic random streams."""
from qiflow.sym.random import RandomStreams  # noqa: F401
