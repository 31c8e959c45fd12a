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
import sys

from ._mpi import mpi

#: set by the launcher (``python -m qiflow.distributed``): rank 0 then prints
#: one line mapping ranks to processes, which the launcher reads and hides
LAUNCHER_ENV = "QIFLOW_DISTRIBUTED_LAUNCHER"
RANKS_MARK = "@qiflow.distributed.ranks "

_previous = None


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
            sys.stderr.write(f"qiflow.distributed: rank {rank} of {size} failed with "
                             f"{etype.__name__}: {value}\nqiflow.distributed: stopping all {size} "
                             f"ranks (MPI_Abort from rank {rank})\n")
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            mpi().COMM_WORLD.Abort(1)

    sys.excepthook = abort_group


def remove_excepthook():
    global _previous
    if _previous is not None:
        sys.excepthook = _previous
        _previous = None


def announce_ranks(world):
    """Under the launcher, tell it which pid on which host is which rank."""
    if not os.environ.get(LAUNCHER_ENV):
        return
    from .group import hostname
    table = world.allgather((os.getpid(), hostname()))
    if world.Get_rank() == 0:
        sys.stdout.write(RANKS_MARK + json.dumps(table) + "\n")
        sys.stdout.flush()
