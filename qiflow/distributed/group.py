"""The process group: the processes that mpiexec started, as PyTorch's
``torch.distributed`` names them (rank, world size, a collective timeout).

``init_process_group("mpi")`` takes everything from the MPI environment; it
also happens implicitly on first use when mpiexec started the process.

>>> from qiflow import distributed as dist
>>> dist.is_initialized()
False
"""
import datetime
import os
import socket

from ._mpi import mpi, launched_by_mpiexec, INSTALL_HINT
from . import faults

#: PyTorch's default collective timeout (30 minutes).
DEFAULT_TIMEOUT = 1800.0


class DistributedError(RuntimeError):
    """A collective that cannot complete: a timeout, or ranks that disagree."""


DistributedError.__module__ = "qiflow.distributed"     # how tracebacks name it


class ProcessGroup:
    """A communicator of its own (an ``MPI.Comm.Dup``) and the settings of its collectives."""

    def __init__(self, comm, timeout, check_shapes):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.timeout = timeout
        self.check_shapes = check_shapes

    def dup(self):
        """A new group over the same processes (collective: every rank must call it)."""
        return ProcessGroup(self.comm.Dup(), self.timeout, self.check_shapes)

    def free(self):
        if self.comm is not None:
            self.comm.Free()
            self.comm = None

    def __repr__(self):
        return f"ProcessGroup(rank={self.rank}, size={self.size}, timeout={self.timeout})"


_default = None
_children = []      # groups made by dup() for DDP: freed with the default one


def seconds(timeout, what):
    """A timeout in seconds (None: the default; inf: wait forever, returned as None)."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"{what}: timeout must be a positive number of seconds or a timedelta "
                         f"(float('inf') waits forever), got {timeout!r}")
    return None if timeout == float("inf") else float(timeout)


def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1,
                       rank=-1, check_shapes=True, abort_on_error=True):
    """Set up the default process group from the MPI environment.

    Every process started by ``mpiexec -n N`` calls it (or lets the first
    collective call it); rank and world size come from MPI.  ``timeout``
    (seconds or a timedelta; None: 30 minutes, as in PyTorch; ``float('inf')``
    waits forever) bounds every wait for a collective.  ``check_shapes`` makes each collective first check that all
    ranks pass the same shape, dtype and operation (one small message).
    ``abort_on_error`` installs an excepthook: an uncaught exception on one
    rank prints the rank and the error, then stops every rank (MPI_Abort).

    >>> init_process_group("mpi")                      # doctest: +SKIP
    """
    global _default
    if _default is not None:
        raise RuntimeError("init_process_group: the default process group is already initialised "
                           "(call destroy_process_group() first)")
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"init_process_group: qiflow.distributed runs on MPI only, backend must be "
                         f"'mpi', got {backend!r}")
    if init_method not in (None, "env://"):
        raise ValueError(f"init_process_group: init_method={init_method!r} is not used by MPI, whose "
                         "processes find each other through mpiexec; leave it None")
    limit = seconds(timeout, "init_process_group")
    MPI = mpi()
    world = MPI.COMM_WORLD
    r, n = world.Get_rank(), world.Get_size()
    if world_size not in (-1, None) and world_size != n:
        raise ValueError(f"init_process_group: world_size={world_size} was given but MPI started {n} "
                         f"process(es); start the job with mpiexec -n {world_size}")
    if rank not in (-1, None) and rank != r:
        raise ValueError(f"init_process_group: rank={rank} was given but MPI says this process is "
                         f"rank {r} of {n}")
    _default = ProcessGroup(world.Dup(), limit, bool(check_shapes))
    if abort_on_error and n > 1:
        faults.install_excepthook(r, n)
    faults.announce_ranks(world)


def is_initialized():
    """True once the default process group exists."""
    return _default is not None


def destroy_process_group():
    """Forget the default group (MPI itself stays up until the process exits)."""
    global _default
    if _default is None:
        return
    for g in _children:
        g.free()
    _children.clear()
    _default.free()
    _default = None
    faults.remove_excepthook()


def default_group(group=None):
    """``group``, or the default one (set up implicitly under mpiexec)."""
    if group is not None:
        if not isinstance(group, ProcessGroup):
            raise TypeError(f"qiflow.distributed: group must be a ProcessGroup or None, "
                            f"got {type(group).__name__}")
        if group.comm is None:
            raise RuntimeError("qiflow.distributed: this process group was destroyed")
        return group
    if _default is None:
        if not launched_by_mpiexec():
            raise RuntimeError("qiflow.distributed: the default process group is not initialised; "
                               "call qiflow.distributed.init_process_group('mpi') (a single process "
                               "is a group of one) or start the program with mpiexec -n N")
        init_process_group("mpi")
    return _default


def new_group_like(group=None):
    """A private copy of ``group`` for one user (DDP's gradient buckets), freed with the default group."""
    g = default_group(group).dup()
    _children.append(g)
    return g


def get_rank(group=None):
    """This process's rank in ``group`` (0 .. world size - 1)."""
    return default_group(group).rank


def get_world_size(group=None):
    """The number of processes in ``group``."""
    return default_group(group).size


def hostname():
    return os.environ.get("PMI_HOSTNAME") or socket.gethostname()


__all__ = ["DistributedError", "ProcessGroup", "init_process_group", "is_initialized",
           "destroy_process_group", "get_rank", "get_world_size", "DEFAULT_TIMEOUT", "INSTALL_HINT"]
