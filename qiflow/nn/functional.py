"""Stateless neural-network functions, PyTorch's ``torch.nn.functional``.

Losses come from :mod:`qiflow.losses`, activations from the elementwise ops,
convolution and pooling from :mod:`qiflow.ops.conv` / :mod:`qiflow.ops.pool`;
the normalisations, dropout and embedding are composites defined here.
Padding, transposed and 1-D convolution, adaptive pooling, interpolation,
group norm and normalize, channel dropout, the smooth L1 / Huber / KL
losses and attention have modules of their own (``padding``, ``convfn``,
``adaptive``, ``interpolate``, ``normfn``, ``dropoutfn``, ``lossfn``,
``attentionfn``) and are re-exported here.

>>> import qiflow.nn.functional as F
>>> F.relu(qf.tensor([-1.0, 2.0])).tolist()
[0.0, 2.0]
"""
import numpy as np

from .._state import QiflowError
from ..tensor import Tensor
from ..random import _gen
from ..ops import elementwise as E
from ..ops import reduce as R
from ..ops.movement import reshape, flatten
from ..ops.indexing import getitem
from ..ops.base import Symbolic as _Symbolic
from ..ops.conv import conv2d
from ..ops.pool import max_pool2d, avg_pool2d
from ..ops.dense import linear as _linear
from ..ops.elementwise import (relu, sigmoid, tanh, softplus, gelu, leaky_relu, elu)
from .. import functional as _core
from ..functional import logsumexp, stop_gradient
from .. import losses as _losses
from ..losses import (nll_loss, binary_cross_entropy, binary_cross_entropy_with_logits, mse_loss,
                      l1_loss)
from ..ops.xent import softmax_cross_entropy
# PyTorch's functions added for issue 12, each defined in its own module
from .padding import pad
from .convfn import conv1d, conv_transpose1d, conv_transpose2d
from .adaptive import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d, adaptive_max_pool2d
from .interpolate import interpolate
from .normfn import group_norm, normalize
from .dropoutfn import dropout1d, dropout2d
from .lossfn import smooth_l1_loss, huber_loss, kl_div
from .attentionfn import scaled_dot_product_attention, multi_head_attention_forward

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "linear", "relu", "sigmoid", "tanh", "softplus",
           "gelu", "leaky_relu", "elu", "softmax", "log_softmax", "logsumexp", "cross_entropy",
           "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss",
           "l1_loss", "dropout", "batch_norm", "layer_norm", "embedding", "one_hot", "flatten",
           "logistic", "relu6", "hardtanh", "silu"]
__all__ += ["pad", "conv1d", "conv_transpose1d", "conv_transpose2d", "adaptive_avg_pool1d",
            "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "interpolate", "group_norm",
            "normalize", "dropout1d", "dropout2d", "smooth_l1_loss", "huber_loss", "kl_div",
            "scaled_dot_product_attention", "multi_head_attention_forward"]

logistic = sigmoid


def softmax(x, dim=-1, axis=None):
    """exp(x) / sum(exp(x)) along ``dim`` (PyTorch's name; ``axis`` works too)."""
    return _core.softmax(x, dim if axis is None else axis)


def log_softmax(x, dim=-1, axis=None):
    """x - logsumexp(x) along ``dim`` (PyTorch's name; ``axis`` works too).

    >>> [round(v, 4) for v in qf.nn.functional.log_softmax(qf.tensor([0.0, 0.0]), dim=0).tolist()]
    [-0.6931, -0.6931]
    """
    return _core.log_softmax(x, dim if axis is None else axis)


def _dtype_of(x):
    d = getattr(x, "dtype", None)
    try:
        return None if d is None else np.dtype(d)
    except TypeError:
        return None


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` with PyTorch's weight layout (out_features, in_features).

    As in PyTorch, the input must have the weight's dtype: an int64 or float64
    input into float32 weights is an error, not a silent promotion.

    >>> F = qf.nn.functional
    >>> F.linear(qf.ones((5, 3)), qf.ones((2, 3))).tolist()[0]
    [3.0, 3.0]
    >>> F.linear(qf.ones((5, 3), dtype="int64"), qf.ones((2, 3)))
    Traceback (most recent call last):
      ...
    qiflow._state.QiflowError: linear: the input has dtype int64 but the weight has dtype float32; ...
    """
    wd, xd = _dtype_of(weight), _dtype_of(input)
    if wd is not None and xd is not None and xd != wd:
        cast = {"float32": "x.float()", "float64": "x.double()"}.get(str(wd))
        if not isinstance(input, Tensor) or cast is None:
            cast = f"x.astype({str(wd)!r})"
        hint = f"cast it with {cast}" if xd.kind in "biuf" else ""
        raise QiflowError(f"linear: the input has dtype {xd} but the weight has dtype {wd}; like "
                          f"PyTorch, linear needs them equal and does not promote (input of shape "
                          f"{tuple(input.shape)}, weight {tuple(weight.shape)}){': ' + hint if hint else ''}")
    bd = _dtype_of(bias)
    if bd is not None and wd is not None and bd != wd:
        raise QiflowError(f"linear: the bias has dtype {bd} but the weight has dtype {wd}; they must be equal")
    return _linear(input, weight, bias)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy from logits, :func:`qiflow.losses.cross_entropy`'s semantics.

    The common case (logits (N, C), integer targets, no class weights, no
    label smoothing, no ignored target) runs as one fused primitive, which is
    several times faster on small batches; every other case is passed on.

    >>> x = qf.tensor([[2.0, 0.5, -1.0]])
    >>> round(qf.nn.functional.cross_entropy(x, qf.tensor([0])).item(), 4)
    0.2413
    """
    t = target._data if isinstance(target, Tensor) else target
    if (weight is None and not label_smoothing and isinstance(t, np.ndarray) and t.ndim == 1
            and t.dtype.kind in "iu" and len(getattr(input, "shape", ())) == 2
            and reduction in ("mean", "sum", "none") and not (t == ignore_index).any()):
        loss = softmax_cross_entropy(input, t)
        if reduction == "mean":
            return R.mean(loss)
        return R.sum(loss) if reduction == "sum" else loss
    return _losses.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def relu6(x):
    """min(max(x, 0), 6); gradient 0 at both kinks, as in PyTorch."""
    return hardtanh(x, 0.0, 6.0)


def hardtanh(x, min_val=-1.0, max_val=1.0):
    """x clipped to [min_val, max_val]; gradient 1 strictly inside, 0 at and beyond the
    bounds (PyTorch's rule; ``clip`` counts the bounds as inside): one primitive."""
    return E.hardtanh(x, min_val, max_val)


def silu(x):
    """x * sigmoid(x) (a.k.a. swish)."""
    return x * sigmoid(x)


def dropout(x, p=0.5, training=True, generator=None):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p).

    The mask comes from ``generator`` or the global generator (``qf.manual_seed``).

    >>> y = qf.nn.functional.dropout(qf.ones(1000), 0.5, generator=qf.Generator(0))
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    """
    if not 0.0 <= p <= 1.0:
        raise QiflowError(f"dropout: probability p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if isinstance(x, _Symbolic):
        # a symbolic x: a mask drawn here would be a constant of the graph, the same on every
        # call; draw it from a symbolic stream (seeded by the generator) instead
        from ..sym.random import RandomStreams, dropout as _sym_dropout
        return _sym_dropout(x, p, RandomStreams(seed=int(_gen(generator).integers(2 ** 31))))
    dtype = x.dtype
    if p == 1.0:
        return x * np.zeros(x.shape, dtype)
    keep = _gen(generator).random(x.shape, dtype=np.float32 if dtype == np.float32 else np.float64)
    mask = np.greater_equal(keep, p, out=np.empty(x.shape, bool))
    scale = np.multiply(mask, np.asarray(1.0 / (1.0 - p), dtype), dtype=dtype)
    return x * scale


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5, num_batches_tracked=None):
    """Normalise over every axis except axis 1 (the channels), PyTorch's rule.

    In training the batch statistics are used (biased variance) and the running
    statistics, when given, are updated in place: the mean and the *unbiased*
    variance blended with ``momentum`` (None: a cumulative average over
    ``num_batches_tracked``).  Otherwise the running statistics are used.
    """
    shape = x.shape
    if len(shape) < 2:
        raise QiflowError(f"batch_norm: expected input (N, C) or (N, C, ...), got {tuple(shape)}")
    C = shape[1]
    axes = (0,) + tuple(range(2, len(shape)))
    bshape = (1, C) + (1,) * (len(shape) - 2)
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            raise QiflowError(f"batch_norm: input {tuple(shape)} has {C} channels but {name} has shape "
                              f"{tuple(t.shape)}")
    if training:
        n = int(np.prod([shape[a] for a in axes]))
        if n <= 1:
            raise QiflowError(f"batch_norm: expected more than 1 value per channel when training, "
                              f"got input of shape {tuple(shape)}")
        mean = R.mean(x, axis=axes, keepdims=True)
        d = x - mean
        var = R.mean(d * d, axis=axes, keepdims=True)
        y = d * (1.0 / E.sqrt(var + eps))
        if running_mean is not None and running_var is not None:
            _update_running(running_mean, running_var, reshape(mean, (C,)), reshape(var, (C,)),
                            n, momentum, num_batches_tracked)
    else:
        if running_mean is None or running_var is None:
            raise QiflowError("batch_norm: running_mean and running_var are needed when not training")
        rm, rv = reshape(running_mean, bshape), reshape(running_var, bshape)
        y = (x - rm) * (1.0 / E.sqrt(rv + eps))
    if weight is not None:
        y = y * reshape(weight, bshape)
    if bias is not None:
        y = y + reshape(bias, bshape)
    return y


def _data(t):
    return t._data if isinstance(t, Tensor) else np.asarray(t)


def _update_running(running_mean, running_var, mean, var, n, momentum, num_batches_tracked):
    """The running statistics blended in place (PyTorch's rule, unbiased variance)."""
    from ..autodiff import no_grad
    if momentum is None:
        count = int(num_batches_tracked) if num_batches_tracked is not None else 1
        m = 1.0 / max(count, 1)
    else:
        m = float(momentum)
    with no_grad():
        for run, new in ((running_mean, mean * m), (running_var, (var * (n / (n - 1))) * m)):
            if not isinstance(run, Tensor):          # a bare array: updated in place too
                run = Tensor._wrap(run)
            run.mul_(1 - m).add_(new)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing ``normalized_shape`` axes (biased variance)."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    shape = tuple(x.shape)
    if shape[len(shape) - len(ns):] != ns:
        raise QiflowError(f"layer_norm: input of shape {shape} does not end with normalized_shape {ns}")
    axes = tuple(range(len(shape) - len(ns), len(shape)))
    mean = R.mean(x, axis=axes, keepdims=True)
    d = x - mean
    var = R.mean(d * d, axis=axes, keepdims=True)
    y = d * (1.0 / E.sqrt(var + eps))
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def embedding(indices, weight, padding_idx=None):
    """Rows of ``weight`` picked by integer ``indices`` (any shape).

    The row at ``padding_idx`` gets no gradient.

    >>> w = qf.arange(6.0).reshape(3, 2)
    >>> qf.nn.functional.embedding(qf.tensor([2, 0]), w).tolist()
    [[4.0, 5.0], [0.0, 1.0]]
    """
    idx = _data(indices)
    if idx.dtype.kind not in "iu":
        raise QiflowError(f"embedding: indices must be integers, got {idx.dtype}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx[(idx < 0) | (idx >= n)].flat[0]
        raise QiflowError(f"embedding: index {bad} is out of range for {n} embeddings "
                          f"(valid indices are 0..{n - 1})")
    out = getitem(weight, idx)
    if padding_idx is not None:
        keep = np.expand_dims(idx != padding_idx, -1)
        out = E.where(keep, out, stop_gradient(out))
    return out


def one_hot(indices, num_classes=-1, dtype="int64"):
    """Integer class indices -> one-hot vectors on a new last axis (no gradient).

    >>> qf.nn.functional.one_hot(qf.tensor([0, 2]), 3).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    idx = _data(indices)
    if idx.dtype.kind not in "iu":
        raise QiflowError(f"one_hot: indices must be integers, got {idx.dtype}")
    if num_classes < 0:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise QiflowError(f"one_hot: indices must be in [0, {num_classes}), got values in "
                          f"[{idx.min()}, {idx.max()}]")
    return Tensor(np.equal.outer(idx, np.arange(num_classes)).astype(dtype))
