"""``qiflow.utils.data``: PyTorch's ``torch.utils.data`` path onto :mod:`qiflow.data`.

The datasets, ``random_split``, ``default_collate`` and ``DistributedSampler``
are qiflow.data's own (re-exported, not copied); ``DataLoader`` is qiflow.data's
loader with PyTorch's signature (see :mod:`qiflow.utils.data.dataloader`).
Names of ``torch.utils.data`` that qiflow does not have yet raise an
AttributeError saying so.

>>> from qiflow.utils.data import TensorDataset, DataLoader
>>> loader = DataLoader(TensorDataset(qf.arange(10.0)), batch_size=4, num_workers=2)
>>> [len(b[0]) for b in loader]
[4, 4, 2]
"""
from ...data import Dataset, TensorDataset, Subset, random_split, default_collate
from ...data.distributed import DistributedSampler
from .dataloader import DataLoader
from .sampler import (Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler,
                      WeightedRandomSampler, BatchSampler)
from . import distributed

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "default_collate", "DataLoader",
           "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DistributedSampler", "distributed"]

_NOT_YET = ("IterableDataset", "ConcatDataset", "ChainDataset", "StackDataset", "get_worker_info",
            "default_convert")


def __getattr__(name):
    if name in _NOT_YET:
        raise AttributeError(f"qiflow.utils.data.{name}: torch.utils.data.{name} is not supported by "
                             f"qiflow yet (it has {', '.join(__all__[:-1])})")
    raise AttributeError(f"module 'qiflow.utils.data' has no attribute {name!r}")
