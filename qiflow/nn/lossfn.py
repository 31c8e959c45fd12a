"""``F.smooth_l1_loss``, ``F.huber_loss`` and ``F.kl_div`` with PyTorch's formulas and reductions.

Composites of qiflow ops.  Input and target must have the same shape:
qiflow does not broadcast them (PyTorch warns and broadcasts).  The legacy
``size_average`` / ``reduce`` arguments map to ``reduction`` as in PyTorch.

>>> x, y = qf.tensor([0.0, 0.5, 3.0]), qf.tensor([0.0, 0.0, 0.0])
>>> qf.nn.functional.smooth_l1_loss(x, y, reduction="none").tolist()
[0.0, 0.125, 2.5]
>>> qf.nn.functional.huber_loss(x, y, reduction="sum", delta=2.0).item()
4.125
"""
import numpy as np

from .._state import QiflowError
from ..ops import elementwise as E
from ..ops import reduce as R

_REDUCTIONS = ("mean", "sum", "none")


def legacy_reduction(size_average, reduce, reduction):
    """PyTorch's mapping of the old size_average/reduce flags onto ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check(what, input, target, reduction, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise QiflowError(f"{what}: reduction must be one of {allowed}, got {reduction!r}")
    a, b = tuple(input.shape), tuple(np.shape(target) if not hasattr(target, "shape") else target.shape)
    if a != b:
        raise QiflowError(f"{what}: input of shape {a} and target of shape {b} must have the same shape "
                          "(qiflow does not broadcast them)")
    if isinstance(target, (list, tuple, float, int)) or (isinstance(target, np.ndarray) and target.dtype != input.dtype):
        target = np.asarray(target, dtype=input.dtype)
    return target


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return R.sum(loss) if reduction == "sum" else R.mean(loss)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target; beta 0 is L1)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    target = _check("smooth_l1_loss", input, target, reduction)
    if beta < 0:
        raise QiflowError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = E.abs(input - target)
    if beta == 0:
        return _reduce(d, reduction)
    loss = E.where(d < beta, (0.5 / beta) * (d * d), d - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); ``weight`` scales each element
    before the reduction (its 'mean' is the plain mean of the weighted losses, as in PyTorch)."""
    target = _check("huber_loss", input, target, reduction)
    if not delta > 0:
        raise QiflowError(f"huber_loss: delta must be > 0, got {delta}")
    d = E.abs(input - target)
    loss = E.where(d < delta, 0.5 * (d * d), delta * (d - 0.5 * delta))
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise QiflowError(f"huber_loss: weight of shape {tuple(weight.shape)} must have the input's shape "
                              f"{tuple(input.shape)}")
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL divergence target * (log target - input), ``input`` being log-probabilities.

    ``log_target`` takes the target as log-probabilities too.  'batchmean'
    divides the sum by the batch size (the true KL per sample); 'mean'
    divides by the number of elements, as PyTorch does.  A target of 0
    contributes 0; the gradient with respect to such a target is -input
    (the derivative of the zero-extended term), where PyTorch gives NaN.

    >>> p = qf.tensor([[0.5, 0.5]]); logq = qf.log(qf.tensor([[0.25, 0.75]]))
    >>> round(qf.nn.functional.kl_div(logq, p, reduction="batchmean").item(), 4)
    0.1438
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    target = _check("kl_div", input, target, reduction, _REDUCTIONS + ("batchmean",))
    if log_target:
        loss = E.exp(target) * (target - input)
    else:
        pos = E.greater(target, 0)
        # log is fed 1 where the target is 0, so neither value nor gradient becomes nan
        loss = E.where(pos, target * E.log(E.where(pos, target, 1)), 0) - target * input
    if reduction == "batchmean":
        total = R.sum(loss)
        shape = tuple(input.shape)
        return total / shape[0] if shape else total
    return _reduce(loss, reduction)
