"""Sampling with PyTorch's meaning: ``multinomial``, ``bernoulli`` and the random
in-place fills (``normal_``, ``uniform_``, ``bernoulli_``, ``exponential_``,
``random_``), all drawing from ``qf.manual_seed``'s generator or ``generator=``.

>>> _ = qf.manual_seed(0); qf.multinomial(qf.tensor([0.0, 1.0, 0.0]), 2, replacement=True).tolist()
[1, 1]
"""
import numpy as np

from ..random import _gen
from ..ops import inplace as I
from .._state import QiflowError
from .args import is_tensor


def _values(x):
    return x._read() if is_tensor(x) else np.asarray(x)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """``num_samples`` category indices per row of non-negative weights ``input``
    (1-d or 2-d; rows need not sum to 1); without replacement no index repeats."""
    from ..ops.base import Tensor
    p = _values(input).astype(np.float64)
    if p.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {p.shape}")
    rows = p.reshape(-1, p.shape[-1])
    if (rows < 0).any() or not np.isfinite(rows).all():
        raise RuntimeError("multinomial: probability tensor contains either inf, nan or element < 0")
    totals = rows.sum(1)
    if (totals <= 0).any():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
    n = rows.shape[1]
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample={num_samples} > prob_dist.size(-1)={n} "
                           f"samples without replacement")
    if not replacement and num_samples > np.count_nonzero(rows, 1).min():
        raise RuntimeError("multinomial: invalid multinomial distribution (with replacement=False, "
                           "not enough non-negative category to sample)")
    rng = _gen(generator)
    out = np.empty((rows.shape[0], num_samples), np.int64)
    for r, (w, s) in enumerate(zip(rows, totals)):
        out[r] = rng.choice(n, size=num_samples, replace=bool(replacement), p=w / s)
    return Tensor(out.reshape(p.shape[:-1] + (num_samples,)))


def bernoulli(input, p=None, *, generator=None):
    """0/1 samples, 1 with probability ``input`` (or ``p``), in input's dtype."""
    from ..ops.base import Tensor
    probs = _values(input) if p is None else np.broadcast_to(p, np.shape(_values(input)))
    u = _gen(generator).random(np.shape(probs))
    return Tensor((u < probs).astype(_values(input).dtype))


def _fill(t, array):
    return I.fill_(t, np.asarray(array).astype(t.dtype, copy=False))


def _floating(opname, t):
    if t.dtype.kind != "f":
        raise QiflowError(f"{opname}: needs a floating-point tensor, got {t.dtype}")


def normal_(t, mean=0.0, std=1.0, *, generator=None):
    """Fill ``t`` in place with normal samples."""
    _floating("normal_", t)
    return _fill(t, _gen(generator).normal(mean, std, t.shape))


def uniform_(t, a=0.0, b=1.0, *, generator=None):
    """Fill ``t`` in place with uniform samples in [a, b)."""
    _floating("uniform_", t)
    return _fill(t, _gen(generator).uniform(a, b, t.shape))


def bernoulli_(t, p=0.5, *, generator=None):
    """Fill ``t`` in place with 0/1 samples, 1 with probability ``p``."""
    return _fill(t, _gen(generator).random(t.shape) < _values(p))


def exponential_(t, lambd=1.0, *, generator=None):
    _floating("exponential_", t)
    return _fill(t, _gen(generator).exponential(1.0 / lambd, t.shape))


def random_(t, low=0, high=None, *, generator=None):
    """Fill with integers in [low, high) (``random_(high)``: [0, high))."""
    if high is None:
        if low == 0:
            raise QiflowError("random_: give an upper bound (random_(high) or random_(low, high))")
        low, high = 0, low
    return _fill(t, _gen(generator).integers(low, high, t.shape))
