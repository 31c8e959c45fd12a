"""Collectives on picklable Python objects (PyTorch's ``all_gather_object`` and
``broadcast_object_list``): small messages such as a run's settings, a random
generator's state, or whether every rank succeeded.

Unlike the array collectives these pickle (mpi4py's lower-case calls), which
block without a deadline, so each one first meets the other ranks at a
non-blocking barrier with the group's deadline: a rank that never arrives
makes the others raise ``DistributedError`` instead of hanging.

>>> from qiflow.distributed import objects
>>> objects.all_gather_object.__name__
'all_gather_object'
"""
from .group import default_group
from .work import wait_requests


def _meet(g, what):
    if g.size > 1:
        wait_requests([g.comm.Ibarrier()], g, f"qiflow.distributed.{what}")


def all_gather_object(object_list, obj, group=None):
    """``object_list`` (a list of world-size entries) gets every rank's ``obj``, in rank order.

    >>> out = [None] * dist.get_world_size()      # doctest: +SKIP
    >>> dist.all_gather_object(out, {"rank": dist.get_rank()})    # doctest: +SKIP
    """
    g = default_group(group)
    if not isinstance(object_list, list) or len(object_list) != g.size:
        raise ValueError(f"qiflow.distributed.all_gather_object: object_list must be a list of "
                         f"{g.size} entries (the world size), got "
                         f"{type(object_list).__name__} of length {len(object_list) if hasattr(object_list, '__len__') else '?'}")
    if g.size == 1:
        object_list[0] = obj
        return
    _meet(g, "all_gather_object")
    object_list[:] = g.comm.allgather(obj)


def broadcast_object_list(object_list, src=0, group=None):
    """Every rank's ``object_list`` (same length everywhere) gets rank ``src``'s entries."""
    g = default_group(group)
    if not isinstance(object_list, list):
        raise ValueError("qiflow.distributed.broadcast_object_list: object_list must be a list, got "
                         f"{type(object_list).__name__}")
    if not (isinstance(src, int) and 0 <= src < g.size):
        raise ValueError(f"qiflow.distributed.broadcast_object_list: src must be a rank in "
                         f"0..{g.size - 1}, got {src!r}")
    if g.size == 1:
        return
    _meet(g, "broadcast_object_list")
    got = g.comm.bcast(list(object_list) if g.rank == src else None, root=src)
    if len(got) != len(object_list):
        raise ValueError(f"qiflow.distributed.broadcast_object_list: rank {src} sent {len(got)} "
                         f"objects but rank {g.rank}'s list has {len(object_list)} entries")
    object_list[:] = got
