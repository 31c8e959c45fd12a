"""``theano.tensor.nnet``: qiflow.sym.nnet (``conv2d`` with Theano's signature,
``sigmoid``, ``softmax``, the cross-entropies ...)."""
from qiflow.sym.nnet import *                   # noqa: F401,F403
from qiflow.sym.nnet import (conv2d, sigmoid, softplus, relu, tanh, elu, softmax, log_softmax,
                             binary_crossentropy, sigmoid_binary_crossentropy,
                             categorical_crossentropy, logsumexp)
# Theano's fast approximations of the sigmoid are computed exactly here
from qiflow.sym.nnet import sigmoid as ultra_fast_sigmoid  # noqa: F401


def hard_sigmoid(x):
    """Theano's piecewise-linear sigmoid: clip(0.2 x + 0.5, 0, 1)."""
    from qiflow.sym import clip
    return clip(x * 0.2 + 0.5, 0.0, 1.0)
from . import conv  # noqa: E402  (Theano's older module)
