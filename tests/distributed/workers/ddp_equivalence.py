"""DDP on N ranks x batch B == one process with batch N*B, step for step.

usage: ddp_equivalence.py sgd|adam mlp|conv [bucket_cap_mb]
"""
import sys

import numpy as np

import qiflow as qf
import qiflow.nn.functional as F
from qiflow import distributed as dist
from qiflow.nn.parallel import DistributedDataParallel as DDP

from common import (STEPS, B, mlp, small_convnet, dataset, batches, global_batches, params_of,
                    same_on_every_rank, assert_close)

opt_name, model_name = sys.argv[1], sys.argv[2]
cap = float(sys.argv[3]) if len(sys.argv) > 3 else None
qf.set_default_dtype("float64")
dist.init_process_group("mpi", timeout=60)
r, n = dist.get_rank(), dist.get_world_size()
make = mlp if model_name == "mlp" else small_convnet
X, Y = dataset(n * B * STEPS, (12,) if model_name == "mlp" else (1, 8, 8))


def optimizer(params):
    if opt_name == "sgd":
        return qf.optim.SGD(params, lr=0.1, momentum=0.9)
    return qf.optim.Adam(params, lr=0.01)


def train(model, steps):
    opt = optimizer(model.parameters())
    for idx in steps:
        opt.zero_grad()
        F.cross_entropy(model(qf.tensor(X[idx])), qf.tensor(Y[idx])).backward()
        opt.step()


# every rank starts from different weights: the wrap must broadcast rank 0's
net = make(seed=100 + r)
ddp = DDP(net, bucket_cap_mb=cap)
train(ddp, batches(len(X), n, r))
same_on_every_rank(params_of(net), "parameters after training")
if r == 0:
    ref = make(seed=100)
    train(ref, global_batches(len(X), n))
    tol = 1e-10 if opt_name == "sgd" else 1e-8
    worst = assert_close(params_of(net), params_of(ref), tol, f"DDP {opt_name} {model_name}")
    moved = max(float(np.abs(a - b).max()) for a, b in zip(params_of(ref), params_of(make(seed=100))))
    assert moved > 1e-2, "training did not move the weights: the comparison would prove nothing"
    print(f"equivalent: {opt_name} {model_name} buckets={len(ddp.buckets)} worst={worst:.2e}")
