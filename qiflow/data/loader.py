"""``DataLoader``: minibatches by slicing or fancy indexing, shuffled by a seeded generator.

>>> ds = qf.data.TensorDataset(np.arange(10.0).reshape(10, 1), np.arange(10))
>>> loader = DataLoader(ds, batch_size=4, shuffle=True, generator=qf.Generator(0))
>>> [len(yb) for xb, yb in loader]
[4, 4, 2]
"""
import numbers

import numpy as np

from ..random import default_generator
from ..tensor import Tensor
from .dataset import _is_batched


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
        from ..backend import get_default_dtype
        out = out.astype(get_default_dtype())
    return Tensor._wrap(out)


class DataLoader:
    """Iterate over a dataset in minibatches.

    Arguments: ``batch_size`` (rows per batch), ``shuffle`` (a new permutation
    every epoch, drawn from ``generator`` — a ``qf.Generator`` — or else from
    qiflow's global generator seeded by ``qf.manual_seed``), ``drop_last``
    (skip a last short batch), ``sampler`` (an iterable of indices with a length,
    such as ``DistributedSampler``, read once per epoch; excludes ``shuffle``),
    ``collate_fn`` (applied to each batch: it gets
    the gathered batch for datasets that batch themselves, such as
    ``TensorDataset``, and the list of rows otherwise, as in PyTorch).

    Batches come from one slice (no shuffle) or one fancy-indexing call
    (shuffle) per array, never from a Python loop over rows.

    >>> loader = DataLoader(qf.data.TensorDataset(np.arange(6)), batch_size=4, drop_last=True)
    >>> len(loader), [b[0].tolist() for b in loader]
    (1, [[0, 1, 2, 3]])
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None,
                 generator=None, sampler=None):
        if not (isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool)
                and batch_size >= 1):
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: {type(dataset).__name__} is not a dataset "
                            "(it needs __len__ and __getitem__)")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError("DataLoader: collate_fn must be callable")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError("DataLoader: generator must be a qf.Generator (numpy.random.Generator), "
                            f"got {type(generator).__name__}")
        if sampler is not None and (shuffle or not hasattr(sampler, "__len__")):
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle" if shuffle
                             else "DataLoader: the sampler must have a length (__len__)")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.generator = generator
        self._batched = _is_batched(dataset)

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if self.sampler is not None:
            return np.fromiter(self.sampler, dtype=np.int64)
        if not self.shuffle:
            return None
        gen = self.generator if self.generator is not None else default_generator()
        return gen.permutation(n)

    def _fetch(self, index):
        if self._batched:
            batch = self.dataset.__getitems__(index)
            return batch if self.collate_fn is None else self.collate_fn(batch)
        if isinstance(index, slice):
            index = range(*index.indices(len(self.dataset)))
        rows = [self.dataset[int(i)] for i in index]
        return (self.collate_fn or default_collate)(rows)

    def __iter__(self):
        order = self._order()
        n, b = len(self.dataset) if order is None else len(order), self.batch_size
        stop = (n // b) * b if self.drop_last else n
        for start in range(0, stop, b):
            end = min(start + b, n)
            yield self._fetch(slice(start, end) if order is None else order[start:end])

    def __repr__(self):
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size="
                f"{self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last})")
