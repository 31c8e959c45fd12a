"""Loss functions, all composites of primitives (no gradient rules of their own).

Each takes ``reduction='mean' | 'sum' | 'none'``.  The class axis of
``cross_entropy``/``nll_loss`` is axis 1 (PyTorch's layout: ``(N, C)`` or
``(N, C, d1, ...)``; a single ``(C,)`` row is allowed too).  Integer targets may
be Tensors or ndarrays; an index outside ``[0, C)`` is an error naming the op.
Targets and weights given as NumPy arrays or lists take the input's float dtype
(a float64 array never upcasts a float32 loss).

>>> logits = qf.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
>>> loss = qf.losses.cross_entropy(logits, qf.tensor([0]))
>>> round(loss.item(), 4)
0.2413
"""
import numpy as np

from ._state import QiflowError
from .ops.base import Symbolic
from .tensor import Tensor
from .ops import elementwise as E
from .ops import reduce as R
from .functional import log_softmax

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(op, loss, reduction, denom=None):
    if reduction == "none":
        return loss
    total = R.sum(loss)
    if reduction == "sum":
        return total
    return total / denom if denom is not None else R.mean(loss)


def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise QiflowError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _shape(x):
    t = getattr(x, "type", None)
    if t is not None and hasattr(t, "shape"):
        return tuple(t.shape)
    return tuple(np.shape(x))


def _same_shape(op, a, b, what="target"):
    sa, sb = _shape(a), _shape(b)
    if len(sa) != len(sb) or any(x is not None and y is not None and x != y for x, y in zip(sa, sb)):
        raise QiflowError(f"{op}: input of shape {sa} and {what} of shape {sb} must have the same shape")


def _concrete(x):
    """The ndarray behind x, or None when x is symbolic."""
    if isinstance(x, Symbolic):
        return None
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def _as_input_dtype(v, x):
    """Plain arrays, lists and numbers (targets, weights) take the input's float
    dtype, so a float64 NumPy target never upcasts a float32 loss; Tensors and
    symbolic values are left as they are."""
    if v is None or isinstance(v, (Tensor, Symbolic)) or not hasattr(x, "dtype"):
        return v
    a = np.asarray(v)
    if np.dtype(x.dtype).kind != "f" or a.dtype.kind not in "biuf":
        return a
    return a.astype(x.dtype, copy=False)


def _is_float(x):
    return np.dtype(x.dtype).kind == "f" if hasattr(x, "dtype") else isinstance(x, float)


# --------------------------------------------------------------- class losses
def _class_mask(op, x, target, weight, ignore_index):
    """Per-element weights of each class slot: ``w[c]`` where the target is c
    (and not ignored), else 0; shaped like ``x`` with classes on axis 1."""
    shape = _shape(x)
    cax = 1 if len(shape) >= 2 else 0
    n_classes = shape[cax]
    if n_classes is None:
        raise QiflowError(f"{op}: the number of classes (axis {cax} of {shape}) must be known")
    t = _concrete(target)
    expect = shape[:cax] + shape[cax + 1:]
    tshape = _shape(target)
    if len(tshape) != len(expect) or any(
            a is not None and b is not None and a != b for a, b in zip(tshape, expect)):
        raise QiflowError(f"{op}: input of shape {shape} needs class targets of shape {expect}, "
                          f"got {tshape}")
    classes = np.arange(n_classes).reshape((n_classes,) + (1,) * (len(shape) - cax - 1))
    if t is not None:
        if t.dtype.kind not in "iu":
            raise QiflowError(f"{op}: class targets must be integers, got {t.dtype}")
        valid = t != ignore_index
        bad = valid & ((t < 0) | (t >= n_classes))
        if bad.any():
            idx = int(t[bad].flat[0])
            raise QiflowError(f"{op}: target class index {idx} is out of range for {n_classes} classes "
                              f"(valid indices are 0..{n_classes - 1})")
        mask = (np.expand_dims(t, cax) == classes) & np.expand_dims(valid, cax)
        dtype = x.dtype
        mask = mask.astype(dtype)
        if weight is not None:
            mask = mask * _concrete(weight).astype(dtype, copy=False).reshape(classes.shape)
        return mask, cax
    from .ops.movement import expand_dims, reshape
    tt = expand_dims(target, cax)
    mask = E.logical_and(E.equal(tt, classes), E.not_equal(tt, ignore_index))
    mask = E.cast(mask, x.dtype)
    if weight is not None:
        mask = mask * reshape(weight, classes.shape)
    return mask, cax


def _pick(logp, mask):
    """logp * mask, where a slot with weight 0 counts 0 even if logp is -inf
    (a masked-out class): 0 * -inf would make the loss NaN."""
    nz = mask != 0 if isinstance(mask, np.ndarray) else E.not_equal(mask, 0)
    return E.where(nz, logp, 0) * mask


def _total(mask):
    return mask.sum() if isinstance(mask, np.ndarray) else R.sum(mask)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of integer class targets given log-probabilities.

    With class weights ``weight``, 'mean' divides by the summed weights of the
    targets (PyTorch's rule); targets equal to ``ignore_index`` count for nothing.

    >>> logp = qf.log_softmax(qf.tensor([[0.0, 0.0]]), dim=1)
    >>> round(qf.losses.nll_loss(logp, [1]).item(), 4)
    0.6931
    """
    _check_reduction("nll_loss", reduction)
    target = np.asarray(target) if isinstance(target, list) else target
    mask, cax = _class_mask("nll_loss", input, target, weight, ignore_index)
    loss = -R.sum(_pick(input, mask), axis=cax)
    return _reduce("nll_loss", loss, reduction, _total(mask) if reduction == "mean" else None)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy from logits (classes on axis 1), stable for large logits.

    ``target`` holds integer class indices (shape of input without the class
    axis) or class probabilities (the shape of input).  ``label_smoothing``
    mixes the target with the uniform distribution, as in PyTorch.

    >>> x = qf.tensor([[1000.0, -1000.0]], requires_grad=True)
    >>> qf.losses.cross_entropy(x, [1]).item()
    2000.0
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise QiflowError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    target = np.asarray(target) if isinstance(target, list) else target
    shape = _shape(input)
    if len(shape) == 0:
        raise QiflowError("cross_entropy: input must have a class axis, got a 0-d tensor")
    cax = 1 if len(shape) >= 2 else 0
    n_classes = shape[cax]
    logp = log_softmax(input, axis=cax)
    if _is_float(target):
        _check_probability_target(input, target)
        p = _as_input_dtype(target, input)
        if label_smoothing:
            p = p * (1 - label_smoothing) + label_smoothing / n_classes
        term = logp * p
        if weight is not None:
            term = term * _class_weights(weight, shape, cax, input)
        return _reduce("cross_entropy", -R.sum(term, axis=cax), reduction)
    mask, cax = _class_mask("cross_entropy", input, target, weight, ignore_index)
    nll = -R.sum(_pick(logp, mask), axis=cax)
    denom = _total(mask) if reduction == "mean" else None
    loss = _reduce("cross_entropy", nll, reduction, denom)
    if not label_smoothing:
        return loss
    # PyTorch's rule: (1 - eps) * nll + eps / C * (-sum_c w_c logp_c), same
    # normalisation as nll, ignored targets contributing nothing.
    w = _class_weights(weight, shape, cax, input) if weight is not None else 1.0
    valid = _valid(target, ignore_index, cax)
    smooth = -R.sum(E.where(valid, logp * w, 0), axis=cax)
    smooth = _reduce("cross_entropy", smooth, reduction, denom)
    return loss * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)


def _check_probability_target(input, target):
    """Float targets are class probabilities, shaped like the input (PyTorch's rule); float
    class labels are the usual mistake, so the error says how to fix either way."""
    sx, st = _shape(input), _shape(target)
    if len(sx) == len(st) and all(a is None or b is None or a == b for a, b in zip(sx, st)):
        return
    dtype = getattr(target, "dtype", type(target).__name__)
    cax = 1 if len(sx) >= 2 else 0
    if len(st) == len(sx) - 1:
        raise QiflowError(f"cross_entropy: the target has dtype {dtype} and shape {st}, which looks like "
                          f"class labels stored as floats; class-index targets must be integers: cast "
                          f"them with target.long() (or .astype('int64')); or pass class probabilities "
                          f"of the input's shape {sx}")
    raise QiflowError(f"cross_entropy: a float target holds class probabilities and must have the "
                      f"input's shape {sx} (classes on axis {cax}), got shape {st}; for class labels "
                      f"pass int64 class indices of shape {sx[:cax] + sx[cax + 1:]}")


def _class_weights(weight, shape, cax, x):
    w = _as_input_dtype(weight, x)
    from .ops.movement import reshape
    return reshape(w, (-1,) + (1,) * (len(shape) - cax - 1))


def _valid(target, ignore_index, cax):
    t = _concrete(target)
    if t is not None:
        return np.expand_dims(t != ignore_index, cax)
    from .ops.movement import expand_dims
    return expand_dims(E.not_equal(target, ignore_index), cax)


# -------------------------------------------------------------- binary losses
def _weighted(loss, weight, x):
    return loss if weight is None else loss * _as_input_dtype(weight, x)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """BCE of probabilities in [0, 1]; each log is clamped at -100 (as PyTorch
    does) so the loss and its gradient are never inf or nan.

    >>> qf.losses.binary_cross_entropy(qf.tensor([0.0, 1.0]), qf.tensor([1.0, 0.0])).item()
    100.0
    """
    _check_reduction("binary_cross_entropy", reduction)
    _same_shape("binary_cross_entropy", input, target)
    x = _concrete(input)
    if x is not None and x.size and (not (x.min() >= 0) or not (x.max() <= 1)):
        raise QiflowError(f"binary_cross_entropy: input must be probabilities in [0, 1], got values in "
                          f"[{x.min()}, {x.max()}] (use binary_cross_entropy_with_logits for logits)")
    target = _as_input_dtype(target, input)
    loss = -(target * _clamped_log(input) + (1 - target) * _clamped_log(1 - input))
    return _reduce("binary_cross_entropy", _weighted(loss, weight, input), reduction)


def _clamped_log(p):
    # The where() feeds log a safe 1 at p == 0, so the unused branch cannot
    # send 0 * inf = nan into the gradient.
    pos = p > 0
    return E.where(pos, E.clip(E.log(E.where(pos, p, 1)), -100.0, None), -100.0)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction="mean"):
    """BCE on logits, ``softplus(x) - t*x`` without overflow (``pos_weight``
    scales the positive term, as in PyTorch).

    >>> qf.losses.binary_cross_entropy_with_logits(qf.tensor([1000.0]), qf.tensor([0.0])).item()
    1000.0
    """
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    _same_shape("binary_cross_entropy_with_logits", input, target)
    target = _as_input_dtype(target, input)
    if pos_weight is None:
        loss = E.softplus(input) - target * input
    else:
        pw = _as_input_dtype(pos_weight, input)
        loss = (1 - target) * input + (1 + (pw - 1) * target) * E.softplus(-input)
    return _reduce("binary_cross_entropy_with_logits", _weighted(loss, weight, input), reduction)


# ----------------------------------------------------------- regression losses
def mse_loss(input, target, reduction="mean"):
    """Mean squared error. Shapes must match (no silent broadcasting).

    >>> qf.losses.mse_loss(qf.tensor([1.0, 3.0]), qf.tensor([0.0, 0.0])).item()
    5.0
    """
    _check_reduction("mse_loss", reduction)
    _same_shape("mse_loss", input, target)
    d = input - _as_input_dtype(target, input)
    return _reduce("mse_loss", d * d, reduction)


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error. Shapes must match (no silent broadcasting).

    >>> qf.losses.l1_loss(qf.tensor([1.0, -3.0]), qf.tensor([0.0, 0.0])).item()
    2.0
    """
    _check_reduction("l1_loss", reduction)
    _same_shape("l1_loss", input, target)
    return _reduce("l1_loss", E.abs(input - _as_input_dtype(target, input)), reduction)
