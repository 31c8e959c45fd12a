"""Functions built on the primitives, under the names users look for:
``stop_gradient`` and the softmax family (primitives of ``qiflow.ops.softmax``).

>>> qf.functional.softmax(qf.tensor([0.0, 0.0])).tolist()
[0.5, 0.5]
"""
from .ops.movement import StopGradient, stop_gradient  # noqa: F401
from .ops.softmax import logsumexp, log_softmax, softmax, LogSoftmax, LogSumExp, Softmax  # noqa: F401
