"""What happens when one rank fails: the others must not wait forever.

* An uncaught exception on a rank: the excepthook installed by
  ``init_process_group`` prints the rank and the error, then calls
  ``MPI.COMM_WORLD.Abort``; mpiexec then stops every rank.
* A rank that dies (``kill -9``): mpiexec notices and stops the others;
  under ``python -m qiflow.distributed`` the launcher names the rank.
* A rank that hangs: every wait for a collective has a deadline (the group's
  timeout) and raises ``DistributedError`` when it passes.

>>> from qiflow.distributed import faults
>>> faults.installed()
False
"""
import json
import os
import socket
import sys
import time

from ._mpi import mpi

#: set by the launcher (``python -m qiflow.distributed``): rank 0 then prints
#: one line mapping ranks to processes, which the launcher reads and hides
LAUNCHER_ENV = "QIFLOW_DISTRIBUTED_LAUNCHER"
RANKS_MARK = "@qiflow.distributed.ranks "

_previous = None
_FORWARD_S = 0.25


def installed():
    return _previous is not None


def install_excepthook(rank, size):
    """Make an uncaught exception on this rank stop the whole group, naming the rank."""
    global _previous
    if _previous is not None:
        return
    _previous = sys.excepthook

    def abort_group(etype, value, tb):
        try:
            _previous(etype, value, tb)
        finally:
            abort(rank, size, f"failed with {etype.__name__}: {value}")

    sys.excepthook = abort_group


def abort(rank, size, what, prefix="qiflow.distributed"):
    """Say which rank failed and why, then stop every rank of the job (MPI_Abort)."""
    try:
        sys.stderr.write(f"{prefix}: rank {rank} of {size} {what}\n{prefix}: stopping all {size} "
                         f"ranks (MPI_Abort from rank {rank})\n")
        sys.stderr.flush()
        sys.stdout.flush()
        # mpiexec's proxy forwards output asynchronously and stops at the abort: without a
        # moment's pause the message was sometimes lost
        time.sleep(_FORWARD_S)
    finally:
        mpi().COMM_WORLD.Abort(1)


def remove_excepthook():
    global _previous
    if _previous is not None:
        sys.excepthook = _previous
        _previous = None


def announce_ranks(world):
    """Under the launcher, tell it which pid on which host is which rank."""
    if not os.environ.get(LAUNCHER_ENV):
        return
    table = world.allgather((os.getpid(), hostname()))
    if world.Get_rank() == 0:
        sys.stdout.write(RANKS_MARK + json.dumps(table) + "\n")
        sys.stdout.flush()


def hostname():
    return os.environ.get("PMI_HOSTNAME") or socket.gethostname()
