"""``T.nnet``: the neural-network helpers a Theano user reaches for, as thin
wrappers over qiflow's own functions (no op of their own), ``conv2d`` with
Theano's signature among them.

>>> from qiflow import sym as T
>>> p = T.nnet.softmax(T.dmatrix('x')); p.ndim
2
"""
import numpy as np

from .._state import QiflowError
from ..ops import elementwise as E
from ..ops import reduce as R
from ..ops import conv as _conv
from .. import functional as F

sigmoid = E.sigmoid
softplus = E.softplus


def relu(x, alpha=0):
    """Theano's relu: max(x, 0), or ``alpha * x`` for negative x when ``alpha`` is given."""
    if alpha == 0:
        return E.relu(x)
    return E.where(x > 0, x, x * alpha)


tanh = E.tanh
elu = E.elu
logsumexp = F.logsumexp


def _rows(what, x):
    # Theano's softmax is row-wise: a vector is read as one row, (n,) -> (1, n)
    if getattr(x, "ndim", 2) == 1:
        return x.dimshuffle("x", 0)
    return x


def softmax(x, axis=-1):
    """Softmax along the last axis (rows of a matrix), stable for large inputs.
    As in Theano, a vector is one row: its softmax is a (1, n) matrix."""
    return F.softmax(_rows("softmax", x), axis)


def log_softmax(x, axis=-1):
    """log(softmax(x)) computed as x - logsumexp(x) (a vector is one row, as softmax)."""
    return F.log_softmax(_rows("log_softmax", x), axis)


logsoftmax = log_softmax


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


# ------------------------------------------------------------- convolution
def _pair2(what, v):
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"conv2d: {what} must be an int or a pair, got {v}")
    return v


def _check_hint(what, var, hint):
    if hint is None:
        return
    hint = tuple(hint)
    if len(hint) != var.ndim:
        raise QiflowError(f"conv2d: {what} {hint} has {len(hint)} entries, the variable is "
                          f"{var.type}")
    for h, s in zip(hint, var.type.shape):
        if h is not None and s is not None and int(h) != s:
            raise QiflowError(f"conv2d: {what} {hint} does not match the variable's shape "
                              f"{var.type.shape}")


def conv2d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1), filter_flip=True, image_shape=None, filter_dilation=(1, 1),
           num_groups=1, unshared=False, **kwargs):
    """Theano's ``T.nnet.conv2d``: a 2-D convolution of a (N, C, H, W) batch by
    (O, C, kh, kw) filters.  ``filter_flip=True`` (the default) flips the filters,
    a true convolution; False is cross-correlation (qiflow's eager conv2d).

    ``border_mode``: 'valid' (no padding), 'full' (kh - 1, kw - 1), 'half'
    (kh // 2, kw // 2), an int or a pair.  ``subsample`` is the stride.
    ``input_shape`` / ``filter_shape`` are optional hints (None entries allowed),
    checked against the variables' static shapes; 'full' and 'half' need the
    filter size from one of them when the filters' shape is unknown.

    >>> x = T.dtensor4('x'); w = T.shared(np.ones((2, 1, 3, 3)))
    >>> y = conv2d(x, w, filter_shape=(2, 1, 3, 3), border_mode='half')
    >>> T.function([x], y)(np.ones((1, 1, 4, 4))).shape
    (1, 2, 4, 4)
    """
    if kwargs:
        raise TypeError(f"conv2d: unexpected arguments {sorted(kwargs)}")
    if unshared:
        raise QiflowError("conv2d: unshared=True (locally connected filters) is not supported "
                          "by qiflow")
    input_shape = input_shape if input_shape is not None else image_shape
    if getattr(input, "ndim", 4) != 4 or getattr(filters, "ndim", 4) != 4:
        raise QiflowError(f"conv2d: qiflow convolves 4-D input (N, C, H, W) with 4-D filters "
                          f"(O, C, kh, kw); got ndim {input.ndim} and {filters.ndim}")
    _check_hint("input_shape", input, input_shape)
    _check_hint("filter_shape", filters, filter_shape)
    kh, kw = filters.type.shape[2:]
    if filter_shape is not None:
        kh = kh if kh is not None else filter_shape[2]
        kw = kw if kw is not None else filter_shape[3]
    dh, dw = _pair2("filter_dilation", filter_dilation)
    if isinstance(border_mode, str):
        if border_mode == "valid":
            pad = (0, 0)
        elif border_mode in ("full", "half"):
            if kh is None or kw is None:
                raise QiflowError(f"conv2d: border_mode={border_mode!r} needs the filter size; the "
                                  "filters' shape is unknown, so give filter_shape=")
            pad = ((dh * (kh - 1), dw * (kw - 1)) if border_mode == "full"
                   else (dh * (kh // 2), dw * (kw // 2)))
        else:
            raise ValueError(f"conv2d: border_mode must be 'valid', 'full', 'half', an int or a "
                             f"pair, got {border_mode!r}")
    else:
        pad = _pair2("border_mode", border_mode)
    w = filters[:, :, ::-1, ::-1] if filter_flip else filters
    return _conv.conv2d(input, w, None, _pair2("subsample", subsample), pad, (dh, dw),
                        int(num_groups))


def lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh=None):
    """An LSTM layer written with scan (see ``qiflow.sym.recurrent``): (hs, cs)."""
    from .recurrent import lstm as _lstm
    return _lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh)


def gru(x, h0, w_ih, w_hh, b_ih, b_hh):
    """A GRU layer written with scan (see ``qiflow.sym.recurrent``): hs."""
    from .recurrent import gru as _gru
    return _gru(x, h0, w_ih, w_hh, b_ih, b_hh)
