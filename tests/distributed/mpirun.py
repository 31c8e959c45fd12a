"""Run a worker script under ``mpiexec -n N`` and return what it printed.

mpiexec is looked for next to the running Python (where the MPICH wheel puts
it) and then on PATH.  The tests skip only when mpi4py is not installed.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKERS = Path(__file__).parent / "workers"
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None
needs_mpi = pytest.mark.skipif(not HAVE_MPI4PY,
                               reason="mpi4py is not installed (pip install 'qiflow[mpi]')")


def mpiexec():
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.fail("mpi4py is installed but no mpiexec was found next to the Python executable "
                    "or on PATH (pip install mpich)")
    return found


def env(**extra):
    e = dict(os.environ)
    # one thread per rank: two ranks share the cores
    e.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    e["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + e.get("PYTHONPATH", "")
    e.update(extra)
    return e


class Result:
    def __init__(self, proc, seconds):
        self.rc, self.out, self.err, self.seconds = proc.returncode, proc.stdout, proc.stderr, seconds

    @property
    def text(self):
        return self.out + self.err

    def __repr__(self):
        return f"rc={self.rc} after {self.seconds:.1f} s\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


def run(script, *args, n=2, timeout=120, launcher=None, extra_env=None, mpi_args=()):
    """``mpiexec -n n python workers/script args`` (or under ``launcher``, a list of argv)."""
    target = [sys.executable, str(WORKERS / script), *map(str, args)]
    if launcher is None:
        cmd = [mpiexec(), "-n", str(n), *mpi_args, *target]
    else:
        cmd = [*launcher, "-n", str(n), *target]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env(**(extra_env or {})))
    return Result(proc, time.monotonic() - t0)


def python(code, timeout=60, extra_env=None):
    """Run ``python -c code`` without mpiexec (a group of one)."""
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=env(**(extra_env or {})))
    return Result(proc, time.monotonic() - t0)
