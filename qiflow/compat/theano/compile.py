"""``theano.compile``: ``function``, ``In``, ``Out``, ``Mode``, ``shared``."""
from qiflow.sym import function, In, Out, Mode, shared, SharedVariable  # noqa: F401
