"""Rank 0 saves a 32 MB checkpoint (qf.save: temp file + rename), then starts
saving the next one; meanwhile rank 1 kills itself, and mpiexec stops rank 0
in the middle of that write.

usage: checkpoint.py PATH
"""
import os
import signal
import sys
import time

import numpy as np

import qiflow as qf
from qiflow import distributed as dist

path = sys.argv[1]
dist.init_process_group("mpi", timeout=60)
r = dist.get_rank()


def checkpoint(step):
    if r == 0:                                # only rank 0 writes
        qf.save({"step": step, "weights": np.full(4_000_000, float(step))}, path)
        print(f"saved {step}", flush=True)


checkpoint(1)
dist.barrier()
if r == 1:
    time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGKILL)
checkpoint(2)
dist.barrier()
print(f"rank {r} finished: the failure did not stop the group", flush=True)
