"""Waiting for MPI requests with a deadline, and ``Work``, the handle that a
collective started with ``async_op=True`` returns (PyTorch's name).

>>> from qiflow.distributed.work import Work
>>> Work.__name__
'Work'
"""
import time

from ._mpi import mpi
from .group import DistributedError, seconds

_SPINS = 64           # tests before the first sleep: a short collective costs no sleep


def wait_requests(requests, group, label, timeout=None):
    """Wait until every MPI request completes, at most the group's timeout.

    MPI cannot cancel a collective, so a deadline that passes leaves the group
    unusable: the error says so, and when it is not caught the excepthook stops
    every rank.
    """
    MPI = mpi()
    limit = group.timeout if timeout is None else seconds(timeout, label)
    if limit is None:
        MPI.Request.Waitall(requests)
        return
    test = MPI.Request.Testall
    for _ in range(_SPINS):
        if test(requests):
            return
    # sleeping, not spinning: on a machine with fewer cores than ranks a spinning
    # waiter takes the core from the rank it waits for
    start = time.monotonic()
    pause = 1e-5
    while not test(requests):
        waited = time.monotonic() - start
        if waited > limit:
            raise DistributedError(
                f"{label}: rank {group.rank} of {group.size} waited {waited:.1f} s "
                f"(the timeout) for the other ranks; one of them is stuck, dead, or in a different "
                "collective. The group cannot be used any more")
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)


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
