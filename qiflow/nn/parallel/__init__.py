"""Data parallelism over MPI ranks: ``DistributedDataParallel`` and ``SyncBatchNorm``.

>>> from qiflow.nn import parallel
>>> parallel.DistributedDataParallel.__name__
'DistributedDataParallel'
"""
from .distributed import DistributedDataParallel
from .sync_batchnorm import SyncBatchNorm

DDP = DistributedDataParallel

__all__ = ["DistributedDataParallel", "DDP", "SyncBatchNorm"]
