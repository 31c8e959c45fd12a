"""benchmarks/distributed.py runs and prints a table that parses (never a timed test)."""
import subprocess
import sys
from pathlib import Path

from .mpirun import needs_mpi, env

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "distributed.py"


@needs_mpi
def test_the_all_reduce_sweep_prints_one_row_per_size():
    p = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--part", "allreduce"],
                       capture_output=True, text=True, timeout=300, env=env())
    assert p.returncode == 0, p.stderr[-2000:]
    rows = [line.split() for line in p.stdout.splitlines() if line.strip().endswith(tuple("0123456789"))
            and line.split()[1] in ("KB", "MB")]
    assert [" ".join(r[:2]) for r in rows] == ["1 KB", "4 KB", "16 KB", "64 KB", "256 KB", "1 MB",
                                               "4 MB", "16 MB", "64 MB"], p.stdout
    for r in rows:
        assert all(float(v) > 0 for v in r[2:6]), r
    assert "load average before" in p.stdout and "load average after" in p.stdout
