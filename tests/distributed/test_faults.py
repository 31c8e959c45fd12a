"""A rank that raises, dies or hangs stops the whole group within seconds, with an
error naming it; a checkpoint on disk is never half-written."""
import sys

import numpy as np

import qiflow as qf

from .mpirun import needs_mpi, run

pytestmark = needs_mpi
LAUNCHER = [sys.executable, "-m", "qiflow.distributed"]


def test_a_rank_that_raises_stops_the_group_naming_the_rank_and_the_error():
    res = run("faults.py", "raise", timeout=90)
    assert res.rc != 0 and res.seconds < 60, res
    assert "qiflow.distributed: rank 1 of 2 failed with ValueError: bad batch on purpose" in res.err, res
    assert "did not stop the group" not in res.out, res


def test_a_killed_rank_ends_the_group_in_seconds():
    res = run("faults.py", "kill", timeout=90)
    assert res.rc != 0 and res.seconds < 60, res
    assert "did not stop the group" not in res.out
    assert "Killed (signal 9)" in res.text, res           # mpiexec's own report (names the pid)


def test_under_the_launcher_a_killed_rank_is_named():
    res = run("faults.py", "kill", timeout=90, launcher=LAUNCHER)
    assert res.rc != 0 and res.seconds < 60, res
    assert "qiflow.distributed: rank 1 of 2 (pid " in res.err and "SIGKILL" in res.err, res
    assert "@qiflow.distributed.ranks" not in res.out      # the launcher's own line is hidden


def test_a_hanging_rank_makes_the_others_time_out():
    res = run("faults.py", "hang", 3, timeout=90)
    assert res.rc != 0 and res.seconds < 30, res
    assert "rank 0 of 2 waited 3.0 s (the timeout)" in res.err, res
    assert "qiflow.distributed: rank 0 of 2 failed with DistributedError" in res.err, res


def test_a_dying_group_never_leaves_a_half_written_checkpoint(tmp_path):
    path = tmp_path / "model.npz"
    res = run("checkpoint.py", path, timeout=90)
    assert res.rc != 0 and "saved 1" in res.out and "did not stop" not in res.out, res
    ckpt = qf.load(path)                                   # a complete, readable file ...
    assert ckpt["step"] in (1, 2)
    np.testing.assert_array_equal(ckpt["weights"], np.full(4_000_000, float(ckpt["step"])))
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    if leftovers:
        # ... the write of step 2 was cut off: only its temporary file is left, beside step 1
        assert ckpt["step"] == 1, (ckpt["step"], leftovers)


def test_the_launcher_reports_usage_errors_without_a_traceback():
    import subprocess
    for args, needle in (([], "-n/--nproc"), (["-n", "2"], "give the program to run"),
                         (["-n", "0", "x.py"], "-n must be at least 1"),
                         (["-n", "2", "--mpiexec", "/nonexistent/mpiexec", "x.py"], "cannot start")):
        p = subprocess.run(LAUNCHER + args, capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and needle in p.stderr and "Traceback" not in p.stderr, (args, p.stderr)
