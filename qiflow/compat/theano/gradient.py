"""``theano.gradient``: ``grad``, ``jacobian``, ``hessian``, ``disconnected_grad``."""
from qiflow.sym import grad, jacobian, hessian  # noqa: F401
from qiflow.sym import stop_gradient as disconnected_grad  # noqa: F401
from qiflow.sym import stop_gradient as zero_grad  # noqa: F401
