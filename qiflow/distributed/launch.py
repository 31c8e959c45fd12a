"""``python -m qiflow.distributed``: mpiexec, plus the name of the rank that failed.

When a rank dies (``kill -9``, out of memory) mpiexec stops the others and
says which *process id* ended; this launcher asks each rank for its process
id at ``init_process_group`` and turns that into the rank.

    python -m qiflow.distributed -n 4 train.py --epochs 3
    python -m qiflow.distributed -n 16 --hosts a,b train.py       # 8 ranks per host
    python -m qiflow.distributed -n 16 --hostfile hosts.txt train.py

>>> find_mpiexec() is None or find_mpiexec().endswith("mpiexec")
True
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

from .faults import LAUNCHER_ENV, RANKS_MARK

_BANNER_PID = re.compile(r"PID (\d+) RUNNING AT (\S+)")
_BANNER_CODE = re.compile(r"EXIT CODE: (-?\d+)")


def find_mpiexec():
    """mpiexec next to the running Python (the MPICH wheel puts it there), else on PATH."""
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def _parser():
    p = argparse.ArgumentParser(prog="python -m qiflow.distributed",
                                description="Run a qiflow program on N MPI processes (mpiexec) and "
                                            "name the rank that fails, if one does.")
    p.add_argument("-n", "--nproc", type=int, required=True, help="number of processes (ranks)")
    p.add_argument("--hosts", help="comma-separated host names (mpiexec -hosts)")
    p.add_argument("--hostfile", help="a file with one host (optionally host:slots) per line")
    p.add_argument("--mpiexec", help="the mpiexec to use (default: next to python, else on PATH)")
    p.add_argument("program", nargs=argparse.REMAINDER, help="script.py [args], or -m module [args]")
    return p


def main(argv=None):
    args = _parser().parse_args(argv)
    if not args.program:
        print("python -m qiflow.distributed: give the program to run, e.g. train.py", file=sys.stderr)
        return 2
    mpiexec = args.mpiexec or find_mpiexec()
    if mpiexec is None:
        print("python -m qiflow.distributed: mpiexec was not found next to python or on PATH; "
              "pip install 'qiflow[mpi]'", file=sys.stderr)
        return 2
    if args.nproc < 1:
        print(f"python -m qiflow.distributed: -n must be at least 1, got {args.nproc}", file=sys.stderr)
        return 2
    program = args.program
    if program[0].endswith(".py") or program[0] == "-m":
        program = [sys.executable, *program]
    cmd = [mpiexec, "-n", str(args.nproc)]
    if args.hosts:
        cmd += ["-hosts", args.hosts]
    if args.hostfile:
        cmd += ["-f", args.hostfile]
    env = dict(os.environ, **{LAUNCHER_ENV: "1"})
    try:
        proc = subprocess.Popen(cmd + program, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, text=True, bufsize=1)
    except OSError as exc:
        print(f"python -m qiflow.distributed: cannot start {mpiexec}: {exc}", file=sys.stderr)
        return 2
    seen = {"ranks": None, "pid": None, "code": None}
    relays = [threading.Thread(target=_relay, args=(proc.stdout, sys.stdout, seen), daemon=True),
              threading.Thread(target=_relay, args=(proc.stderr, sys.stderr, seen), daemon=True)]
    for t in relays:
        t.start()
    try:
        rc = proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait()
    for t in relays:
        t.join()
    if rc != 0:
        print(_summary(rc, seen, args.nproc), file=sys.stderr)
    return rc


def _relay(src, dst, seen):
    for line in src:
        if line.startswith(RANKS_MARK):
            seen["ranks"] = json.loads(line[len(RANKS_MARK):])
            continue
        m = _BANNER_PID.search(line)
        if m:
            seen["pid"] = (int(m.group(1)), m.group(2))
        m = _BANNER_CODE.search(line)
        if m:
            seen["code"] = int(m.group(1))
        dst.write(line)
        dst.flush()


def _summary(rc, seen, n):
    head = "qiflow.distributed:"
    if seen["pid"] is None:
        return f"{head} the job of {n} ranks ended with exit code {rc}"
    pid, host = seen["pid"]
    code = seen["code"] if seen["code"] is not None else rc
    how = f"exit code {code}"
    if 0 < code < 64:
        try:
            how += f" (killed by signal {code}: {signal.Signals(code).name})"
        except ValueError:
            pass
    who = f"the process with pid {pid} on {host}"
    for r, (p, h) in enumerate(seen["ranks"] or ()):
        if p == pid:
            who = f"rank {r} of {n} (pid {pid} on {host})"
    return f"{head} {who} ended with {how}; mpiexec stopped the other ranks"
