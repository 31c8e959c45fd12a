"""DDP on N ranks x batch B == one process with batch N*B, step for step.

usage: ddp_equivalence.py sgd|adam mlp|conv [bucket_cap_mb|default] [eager|compiled]

``compiled``: the DDP step (zero_grad, forward, backward, opt.step) runs through
``qf.compile(strict=True)``, whose graph must hold one all-reduce per bucket; the
reference is the eager one-process run.
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
cap = float(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] != "default" else None
compiled = len(sys.argv) > 4 and sys.argv[4] == "compiled"
qf.set_default_dtype("float64")
dist.init_process_group("mpi", timeout=60)
r, n = dist.get_rank(), dist.get_world_size()
make = mlp if model_name == "mlp" else small_convnet
X, Y = dataset(n * B * STEPS, (12,) if model_name == "mlp" else (1, 8, 8))


def optimizer(params):
    if opt_name == "sgd":
        return qf.optim.SGD(params, lr=0.1, momentum=0.9)
    return qf.optim.Adam(params, lr=0.01)


def train(model, steps, compile_it=False):
    opt = optimizer(model.parameters())

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    run = qf.compile(step, strict=True) if compile_it else step
    for idx in steps:
        run(qf.tensor(X[idx]), qf.tensor(Y[idx]))
    return run


def all_reduce_nodes(run):
    """The all-reduce nodes of each compiled variant of the step."""
    return [sum(isinstance(nd.op, dist.AllReduce) for nd in e.fn.fgraph.toposort())
            for vs in run.variants.values() for e in vs]


# every rank starts from different weights: the wrap must broadcast rank 0's
net = make(seed=100 + r)
ddp = DDP(net, bucket_cap_mb=cap)
run = train(ddp, batches(len(X), n, r), compile_it=compiled)
if compiled:
    counts = all_reduce_nodes(run)
    # one trace (the first call, .grad None after zero_grad), one all-reduce per bucket
    assert run.traces == 1 and counts == [len(ddp.buckets)], (run.traces, counts, ddp.buckets)
same_on_every_rank(params_of(net), "parameters after training")
if r == 0:
    ref = make(seed=100)
    train(ref, global_batches(len(X), n))
    tol = 1e-10 if opt_name == "sgd" else 1e-8
    worst = assert_close(params_of(net), params_of(ref), tol, f"DDP {opt_name} {model_name}")
    moved = max(float(np.abs(a - b).max()) for a, b in zip(params_of(ref), params_of(make(seed=100))))
    assert moved > 1e-2, "training did not move the weights: the comparison would prove nothing"
    mode = "compiled" if compiled else "eager"
    print(f"equivalent: {opt_name} {model_name} {mode} buckets={len(ddp.buckets)} worst={worst:.2e}")
