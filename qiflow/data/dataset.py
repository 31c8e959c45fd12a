"""Datasets: ``Dataset``, ``TensorDataset``, ``Subset`` and ``random_split``.

A dataset answers ``len(ds)`` and ``ds[i]``.  Datasets that can gather a whole
batch with one fancy-indexing operation also answer ``ds.__getitems__(index)``
(``index`` a slice or an integer array); the ``DataLoader`` uses it so that no
batch is ever built by a Python loop over rows.

>>> ds = TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5))
>>> x, y = ds[np.array([4, 0])]; x.shape, y.tolist()
((2, 2), [4, 0])
"""
import numbers

import numpy as np

from ..random import _gen
from ..tensor import Tensor


class Dataset:
    """Base class: subclasses define ``__len__`` and ``__getitem__(i)``.

    Define ``__getitems__(index)`` too when a batch can be gathered at once
    (it receives a slice or an int64 array and returns the collated batch).

    >>> class Squares(Dataset):
    ...     def __len__(self): return 4
    ...     def __getitem__(self, i): return float(i * i)
    >>> len(Squares()), Squares()[3]
    (4, 9.0)
    """

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __getitems__(self, index):
        """The batch at ``index`` (slice or int array), collated.

        This generic version asks for one row at a time; datasets that can
        gather rows at once override it (``TensorDataset`` does).
        """
        from .loader import default_collate
        return default_collate(self._rows(index))

    def _rows(self, index):
        if isinstance(index, slice):
            index = range(*index.indices(len(self)))
        return [self[int(i)] for i in index]


def _as_array(t, k):
    if isinstance(t, Tensor):
        return t._data
    if isinstance(t, np.ndarray):
        return t
    arr = np.asarray(t)
    if arr.dtype == object:
        raise TypeError(f"TensorDataset: argument {k} is not array-like ({type(t).__name__})")
    return arr


class TensorDataset(Dataset):
    """Rows of equally long arrays or tensors; batches are taken by slicing.

    Items and batches come back as a tuple of qf Tensors sharing memory with
    the stored arrays whenever the index is a slice.

    >>> ds = TensorDataset(qf.zeros(6, 3), np.arange(6))
    >>> xb, yb = ds.__getitems__(slice(0, 4)); xb.shape, yb.shape
    ((4, 3), (4,))
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: give at least one array or tensor")
        arrays = tuple(_as_array(t, k) for k, t in enumerate(tensors))
        for k, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: argument {k} is a scalar; every argument needs a first axis")
        n = arrays[0].shape[0]
        bad = [(k, a.shape) for k, a in enumerate(arrays) if a.shape[0] != n]
        if bad:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"TensorDataset: all arguments need the same first dimension, got shapes {shapes}")
        self.arrays = arrays

    @property
    def tensors(self):
        return tuple(Tensor._wrap(a) for a in self.arrays)

    def __len__(self):
        return self.arrays[0].shape[0]

    def __getitem__(self, index):
        if isinstance(index, numbers.Integral) and not isinstance(index, bool):
            n = len(self)
            if not -n <= index < n:
                raise IndexError(f"TensorDataset: index {index} is out of range for {n} rows")
        return self.__getitems__(index)

    def __getitems__(self, index):
        return tuple(Tensor._wrap(a[index]) for a in self.arrays)

    def __repr__(self):
        return f"TensorDataset({', '.join(str(a.shape) + ' ' + str(a.dtype) for a in self.arrays)})"


class Subset(Dataset):
    """The rows ``indices`` of another dataset (a view: nothing is copied).

    >>> s = Subset(TensorDataset(np.arange(5)), [4, 2]); s[0][0].item()
    4
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __len__(self):
        return self.indices.shape[0]

    def __getitem__(self, index):
        return self.dataset[self._map(index)]

    def _map(self, index):
        if isinstance(index, numbers.Integral):
            return int(self.indices[index])
        return self.indices[index]

    def __getitems__(self, index):
        inner = getattr(self.dataset, "__getitems__", None)
        if inner is None:
            return Dataset.__getitems__(self, index)
        return inner(self._map(index))

    @property
    def batched(self):
        return _is_batched(self.dataset)


def _is_batched(ds):
    """True when ``ds`` gathers batches itself rather than row by row."""
    if isinstance(ds, Subset):
        return ds.batched
    f = getattr(type(ds), "__getitems__", None)
    return f is not None and f is not Dataset.__getitems__


def random_split(dataset, lengths, generator=None):
    """Split a dataset into non-overlapping random subsets.

    ``lengths`` are sizes summing to ``len(dataset)``, or fractions summing
    to 1 (the remainder is dealt one by one to the first subsets).

    >>> a, b = random_split(TensorDataset(np.arange(10)), [0.8, 0.2], qf.Generator(0))
    >>> len(a), len(b)
    (8, 2)
    """
    n = len(dataset)
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    if all(isinstance(v, numbers.Integral) for v in lengths):
        sizes = [int(v) for v in lengths]
        if any(v < 0 for v in sizes) or sum(sizes) != n:
            raise ValueError(f"random_split: lengths {sizes} must be non-negative and sum to the "
                             f"dataset's length {n}")
    else:
        fr = np.asarray(lengths, dtype=np.float64)
        if (fr < 0).any() or (fr > 1).any() or abs(fr.sum() - 1) > 1e-6:
            raise ValueError(f"random_split: fractions {lengths} must lie in [0, 1] and sum to 1")
        sizes = [int(np.floor(n * f)) for f in fr]
        for k in range(n - sum(sizes)):
            sizes[k % len(sizes)] += 1
    perm = _gen(generator).permutation(n)
    bounds = np.cumsum([0] + sizes)
    return [Subset(dataset, perm[bounds[k]:bounds[k + 1]]) for k in range(len(sizes))]
