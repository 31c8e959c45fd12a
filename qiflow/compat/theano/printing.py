"""``theano.printing``: ``pp``, ``debugprint``, ``Print``, ``pydotprint``."""
from qiflow.sym.printing import pp, debugprint, Print, pydotprint  # noqa: F401
