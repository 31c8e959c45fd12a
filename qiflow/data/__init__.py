"""Datasets and minibatch loading.

>>> import qiflow as qf
>>> from qiflow.data import TensorDataset, DataLoader
>>> loader = DataLoader(TensorDataset(qf.randn(100, 3), qf.arange(100)), batch_size=32, shuffle=True)
>>> len(loader)
4
"""
from .dataset import Dataset, TensorDataset, Subset, random_split
from .loader import DataLoader, default_collate
from .transforms import random_shift
from .distributed import DistributedSampler

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "default_collate", "random_shift",
           "DistributedSampler"]
