"""Waiting for MPI requests with a deadline, and ``Work``, the handle that a
collective started with ``async_op=True`` returns (PyTorch's name).

>>> from qiflow.distributed.work import Work
>>> Work.__name__
'Work'
"""
import os
import time

from ._mpi import mpi
from .group import DistributedError, seconds

_SPIN_S = 0.5         # test and yield this long, then test every _PAUSE_S
_PAUSE_S = 2e-4


def wait_requests(requests, group, label, timeout=None):
    """Wait until every MPI request completes, at most the group's timeout.

    MPI moves a non-blocking collective on only inside MPI calls, so the wait
    tests the requests in a loop; between tests it yields the core (another
    rank may need it when there are fewer cores than ranks), and after half a
    second, when a peer is late rather than the message long, it sleeps 0.2 ms.
    MPI cannot cancel a collective, so a deadline that passes leaves the group
    unusable: the error says so, and when it is not caught the excepthook stops
    every rank.
    """
    MPI = mpi()
    limit = group.timeout if timeout is None else seconds(timeout, label)
    if limit is None:
        MPI.Request.Waitall(requests)
        return
    test, now, yield_ = MPI.Request.Testall, time.monotonic, os.sched_yield
    if test(requests):
        return
    start = now()
    spin_until = start + min(_SPIN_S, limit)
    while not test(requests):
        t = now()
        if t < spin_until:
            yield_()
            continue
        if t - start > limit:
            raise DistributedError(
                f"{label}: rank {group.rank} of {group.size} waited {t - start:.1f} s "
                f"(the timeout) for the other ranks; one of them is stuck, dead, or in a different "
                "collective. The group cannot be used any more")
        time.sleep(_PAUSE_S)


class Work:
    """A collective in flight: ``wait()`` blocks until it is done (and returns
    True), ``is_completed()`` asks without blocking."""

    __slots__ = ("_group", "_what", "_requests", "_finish", "_keep", "_done")

    def __init__(self, group, what, requests, finish=None, keep=()):
        self._group, self._what = group, what
        self._requests = list(requests)
        self._finish = finish      # copies results back into the caller's tensors
        self._keep = keep          # buffers MPI reads or writes until completion
        self._done = False

    def is_completed(self):
        if not self._done and mpi().Request.Testall(self._requests):
            self._complete()
        return self._done

    def wait(self, timeout=None):
        """Block until the collective is done; ``timeout`` (seconds) overrides the group's."""
        if not self._done:
            wait_requests(self._requests, self._group, f"qiflow.distributed.{self._what}", timeout)
            self._complete()
        return True

    def _complete(self):
        self._done = True
        finish, self._finish, self._keep = self._finish, None, ()
        if finish is not None:
            finish()

    def __repr__(self):
        return f"<Work {self._what}: {'completed' if self._done else 'in flight'}>"
