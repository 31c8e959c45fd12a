"""mpi4py, imported on first use, and how to tell that mpiexec started us.

Importing ``mpi4py.MPI`` initialises MPI, so it happens only when a process
group is set up, never at ``import qiflow.distributed``.
"""
import importlib.util
import os

INSTALL_HINT = "pip install 'qiflow[mpi]'   (mpi4py and the MPICH wheel)"

# set by the launchers of MPICH/Intel MPI (Hydra), Open MPI, PMIx and Slurm's PMI
_LAUNCH_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")


def is_available():
    """True when mpi4py can be imported (MPI itself is not started).

    >>> isinstance(is_available(), bool)
    True
    """
    return importlib.util.find_spec("mpi4py") is not None


_MPI = None


def mpi():
    """The ``mpi4py.MPI`` module, or an ImportError that says what to install."""
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except ImportError as exc:
            raise ImportError(f"qiflow.distributed needs mpi4py and an MPI library: {INSTALL_HINT}; "
                              f"importing mpi4py failed: {exc}") from exc
        _MPI = MPI
    return _MPI


def launched_by_mpiexec():
    """True when an MPI launcher (mpiexec, mpirun, srun) started this process."""
    return any(v in os.environ for v in _LAUNCH_VARS)


# the rank each launcher gives a process: MPICH/Intel MPI (Hydra), Open MPI, PMIx, Slurm
_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "SLURM_PROCID")


def launcher_rank():
    """This process's rank as the launcher's environment says (without starting MPI),
    or None when no launcher started it or its variables are not known here.

    >>> launcher_rank() is None or launcher_rank() >= 0
    True
    """
    if not launched_by_mpiexec():
        return None
    for v in _RANK_VARS:
        value = os.environ.get(v, "")
        if value.isdigit():
            return int(value)
    return None
