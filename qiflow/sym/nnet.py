"""``T.nnet``: the neural-network helpers a Theano user reaches for, as thin
wrappers over qiflow's own functions (no op of their own).

>>> from qiflow import sym as T
>>> p = T.nnet.softmax(T.dmatrix('x')); p.ndim
2
"""
from ..ops import elementwise as E
from ..ops import reduce as R
from .. import functional as F

sigmoid = E.sigmoid
softplus = E.softplus
relu = E.relu
tanh = E.tanh
elu = E.elu
logsumexp = F.logsumexp


def softmax(x, axis=-1):
    """Softmax along the last axis (rows of a matrix), stable for large inputs."""
    return F.softmax(x, axis)


def log_softmax(x, axis=-1):
    """log(softmax(x)) computed as x - logsumexp(x)."""
    return F.log_softmax(x, axis)


def binary_crossentropy(output, target):
    """Elementwise -(t log o + (1 - t) log(1 - o)) for probabilities ``output``
    (the compiler turns log(sigmoid z) into softplus forms)."""
    return -(target * E.log(output) + (1 - target) * E.log(1 - output))


def sigmoid_binary_crossentropy(logits, target):
    """Binary cross-entropy from logits, stable: softplus(z) - t z."""
    return E.softplus(logits) - target * logits


def categorical_crossentropy(coding_dist, true_dist):
    """-sum(true * log(coding)) over the last axis; ``true_dist`` may also be an
    integer vector of class indices (then -log(coding[i, true[i]]))."""
    if true_dist.dtype.kind in "iu":
        from ..ops.dynamic import arange
        n = coding_dist.shape[0]
        return -E.log(coding_dist[arange(n), true_dist])
    return -R.sum(true_dist * E.log(coding_dist), axis=-1)


def lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh=None):
    """An LSTM layer written with scan (see ``qiflow.sym.recurrent``): (hs, cs)."""
    from .recurrent import lstm as _lstm
    return _lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh)


def gru(x, h0, w_ih, w_hh, b_ih, b_hh):
    """A GRU layer written with scan (see ``qiflow.sym.recurrent``): hs."""
    from .recurrent import gru as _gru
    return _gru(x, h0, w_ih, w_hh, b_ih, b_hh)
