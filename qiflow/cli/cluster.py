"""``qiflow train`` under ``mpiexec -n N``: one training process per rank.

The command notices that an MPI launcher started it (``mpiexec``, ``mpirun``,
``srun``: their environment variables, no flag needed) and then joins the
process group; with one rank it runs exactly as without MPI.  With N > 1 ranks:

* ``--batch-size`` is the batch of a whole step (the effective batch), split evenly over the
  ranks, and the learning rate is used as given: the same settings make the same run, up to
  the order of the data, on any number of ranks;
* rank 0 alone claims the run folder (and holds its lock), prints, and writes
  ``history.json``, ``curves.png`` and the checkpoints; the other ranks are quiet;
* every step of the decision (the plan of the run, the claim, loading the data,
  restoring a checkpoint) ends with the ranks comparing their outcomes, so an
  error on any rank is the same error on all, printed once by rank 0;
* once training runs, an error on one rank stops the whole group, naming the
  rank (``qiflow.distributed.faults.abort``); the other ranks never wait for it.

>>> per_rank_batch(Group(0, 4), {"batch_size": 128})
32
"""
from .errors import CliError

#: every wait for the other ranks ends after this long (a stuck or dead rank)
TIMEOUT_S = 600.0


class Group:
    """This process's place in the job: ``rank`` of ``size`` (``size`` > 1)."""

    def __init__(self, rank, size):
        self.rank, self.size = rank, size

    @property
    def root(self):
        return self.rank == 0


def join():
    """The :class:`Group` when an MPI launcher started this process with several ranks, else None."""
    from ..distributed import _mpi
    if not _mpi.launched_by_mpiexec():
        return None
    if not _mpi.is_available():
        raise CliError(f"started by an MPI launcher, but mpi4py is not installed: {_mpi.INSTALL_HINT}")
    from .. import distributed as dist
    if not dist.is_initialized():
        dist.init_process_group("mpi", timeout=TIMEOUT_S)
    if dist.get_world_size() == 1:
        return None
    return Group(dist.get_rank(), dist.get_world_size())


def agree(group, step, what):
    """Run ``step()`` on every rank and compare: the results when every rank succeeded,
    else the same :class:`CliError` on every rank (the first failing rank's message)."""
    from .. import distributed as dist
    try:
        result, failure = step(), None
    except CliError as exc:
        result, failure = None, str(exc)
    outcomes = [None] * group.size
    dist.all_gather_object(outcomes, failure)
    for r, f in enumerate(outcomes):
        if f is not None:
            raise CliError(f if group.size == 1 or r == 0 else f"(rank {r} of {group.size}, {what}) {f}")
    return result


def share(group, value):
    """Rank 0's ``value``, on every rank."""
    from .. import distributed as dist
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def stop_group(group, exc):
    """An error on this rank while the group trains: say so and stop every rank."""
    from ..distributed import faults
    why = exc.name if isinstance(exc, KeyboardInterrupt) and hasattr(exc, "name") else \
        f"{type(exc).__name__}: {exc}"
    faults.abort(group.rank, group.size, f"failed with {why}", prefix="qiflow train")


def per_rank_batch(group, run):
    """Each rank's share of the run's batch: ``--batch-size`` is the global batch, split evenly."""
    b, n = run["batch_size"], group.size
    if b % n:
        raise CliError(f"--batch-size {b} cannot be split evenly over {n} ranks (it is the batch of a "
                       f"whole step, every rank taking an equal share); choose a multiple of {n}, "
                       f"e.g. {b - b % n or n}")
    return b // n


def banner_line(group, run):
    """The line of the banner that describes the group."""
    n = group.size
    return (f"distributed: {n} ranks x batch {run['batch_size'] // n} = effective batch "
            f"{run['batch_size']}, lr {run['lr']:g} (as for one process with batch {run['batch_size']})")
