"""Collating samples into a batch (used by datasets and the loader alike).

>>> xb, yb = default_collate([(np.ones(2), 0), (np.zeros(2), 1)])
>>> xb.shape, yb.tolist()
((2, 2), [0, 1])
"""
import numpy as np

from ..backend import get_default_dtype
from ..tensor import Tensor


def default_collate(samples):
    """Stack a list of samples into a batch (tuples, lists and dicts are
    collated field by field; numbers become arrays).

    >>> xb, yb = default_collate([(np.ones(2), 0), (np.zeros(2), 1)])
    >>> xb.shape, yb.tolist()
    ((2, 2), [0, 1])
    """
    if not samples:
        raise ValueError("default_collate: empty batch")
    first = samples[0]
    if isinstance(first, tuple):
        return tuple(default_collate([s[k] for s in samples]) for k in range(len(first)))
    if isinstance(first, list):
        return [default_collate([s[k] for s in samples]) for k in range(len(first))]
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (str, bytes)):
        return list(samples)
    arrays = [s._data if isinstance(s, Tensor) else s for s in samples]
    out = np.stack([np.asarray(a) for a in arrays])
    if out.dtype == np.float64 and all(isinstance(a, float) for a in arrays):
        out = out.astype(get_default_dtype())
    return Tensor._wrap(out)
