"""Data-parallel training on MPI (``pip install 'qiflow[mpi]'``), with the names
of ``torch.distributed``.

Start N processes with ``mpiexec -n N python train.py``; each one calls
``init_process_group("mpi")`` (or lets the first collective do it) and then
the collectives below, on qiflow Tensors or NumPy arrays, in place.  MPI is
started only then: importing this package needs neither mpi4py nor mpiexec.

>>> from qiflow import distributed as dist
>>> dist.ReduceOp.AVG.value
'avg'
>>> dist.is_initialized()
False
"""
from ._mpi import is_available, INSTALL_HINT
from .group import (DistributedError, ProcessGroup, init_process_group, is_initialized,
                    destroy_process_group, get_rank, get_world_size, DEFAULT_TIMEOUT)
from .collectives import (ReduceOp, all_reduce, broadcast, all_gather, all_gather_into_tensor,
                          reduce_scatter, reduce_scatter_tensor, reduce, gather, scatter, barrier)
from .objects import all_gather_object, broadcast_object_list
from .work import Work
from .op import AllReduce, all_reduce_op

__all__ = ["is_available", "INSTALL_HINT", "DistributedError", "ProcessGroup", "init_process_group",
           "is_initialized", "destroy_process_group", "get_rank", "get_world_size", "DEFAULT_TIMEOUT",
           "ReduceOp", "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor",
           "reduce_scatter", "reduce_scatter_tensor", "reduce", "gather", "scatter", "barrier",
           "all_gather_object", "broadcast_object_list", "Work", "AllReduce", "all_reduce_op"]
