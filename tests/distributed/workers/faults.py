"""A DDP training loop in which rank 1 fails at step 3.

usage: faults.py raise|kill|hang [timeout]
"""
import os
import signal
import sys
import time

import qiflow as qf
import qiflow.nn.functional as F
from qiflow import distributed as dist
from qiflow.nn.parallel import DistributedDataParallel as DDP

from common import mlp, dataset

mode = sys.argv[1]
qf.set_default_dtype("float64")       # the data are float64 (linear does not promote, as in PyTorch)
dist.init_process_group("mpi", timeout=float(sys.argv[2]) if len(sys.argv) > 2 else 60)
r = dist.get_rank()
X, Y = dataset(64)
model = DDP(mlp(seed=0))
opt = qf.optim.SGD(model.parameters(), lr=0.1)
for step in range(1000):
    if r == 1 and step == 3:
        print(f"rank 1 fails now ({mode})", flush=True)
        if mode == "raise":
            raise ValueError("bad batch on purpose")
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "hang":
            time.sleep(120)
    opt.zero_grad()
    F.cross_entropy(model(qf.tensor(X[:8])), qf.tensor(Y[:8])).backward()
    opt.step()
print(f"rank {r} finished: the failure did not stop the group", flush=True)
