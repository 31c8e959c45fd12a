"""DDP inside qf.compile beyond the plain step: no_sync() traces again (it
changes the graph), find_unused_parameters and broadcast buffers are clear
errors (strict) or an eager fallback with a warning, and broadcast_buffers=False
compiles."""
import warnings

import numpy as np

import qiflow as qf
import qiflow.nn.functional as F
from qiflow import distributed as dist
from qiflow.nn.parallel import DistributedDataParallel as DDP
from qiflow.trace import TraceError

from common import B, mlp, dataset, params_of, assert_close, same_on_every_rank, raises

qf.set_default_dtype("float64")
dist.init_process_group("mpi", timeout=60)
r, n = dist.get_rank(), dist.get_world_size()
X, Y = dataset(n * B * 3 * 4)


def rows(step, micro):
    k = 3 * step + micro
    return np.arange(k * n * B + r * B, k * n * B + (r + 1) * B)


def all_reduces(fn):
    return sorted(sum(isinstance(nd.op, dist.AllReduce) for nd in e.fn.fgraph.toposort())
                  for vs in fn.variants.values() for e in vs if not e.eager)


# --- no_sync: two micro-batches accumulated locally, a third one synchronised,
# compiled and eager give the same weights; the synchronised call must not reuse
# the graph traced inside no_sync (same shapes, same .grad state)
def accumulate(ddp, net, compiled):
    opt = qf.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    def micro(x, y):
        F.cross_entropy(ddp(x), y).backward()
    run = qf.compile(micro, strict=True) if compiled else micro
    for step in range(4):
        opt.zero_grad()
        for m in range(3):
            args = qf.tensor(X[rows(step, m)]), qf.tensor(Y[rows(step, m)])
            if m < 2:
                with ddp.no_sync():
                    run(*args)
            else:
                run(*args)
        opt.step()
    return run


net_e, net_c = mlp(seed=3), mlp(seed=3)
ddp_e, ddp_c = DDP(net_e), DDP(net_c)
accumulate(ddp_e, net_e, compiled=False)
run = accumulate(ddp_c, net_c, compiled=True)
# (no_sync, .grad None), (no_sync, .grad set), (synchronised, .grad set)
assert run.traces == 3 and all_reduces(run) == [0, 0, 1], (run.traces, all_reduces(run))
same_on_every_rank(params_of(net_c), "compiled no_sync parameters")
assert_close(params_of(net_c), params_of(net_e), 1e-12, "compiled no_sync against eager")


# --- find_unused_parameters=True: not compiled yet (a clear error, or eager with a warning)
class TwoHeads(qf.nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.spare = qf.nn.Linear(12, 4), qf.nn.Linear(12, 4)

    def forward(self, x):
        return self.body(x)


qf.manual_seed(0)
heads = DDP(TwoHeads(), find_unused_parameters=True)


def head_step(x, y):
    F.cross_entropy(heads(x), y).backward()


x0, y0 = qf.tensor(X[rows(0, 0)]), qf.tensor(Y[rows(0, 0)])
raises(TraceError, ["find_unused_parameters=True", "qf.compile"],
       lambda: qf.compile(head_step, strict=True)(x0, y0))
heads.module.zero_grad()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    qf.compile(head_step)(x0, y0)              # falls back to eager DDP: still data-parallel
assert any("running it eagerly" in str(w.message) for w in caught), [str(w.message) for w in caught]
same_on_every_rank([heads.module.body.weight.grad.numpy()], "eager-fallback gradients")
assert heads.module.spare.weight.grad is None

# --- a model with buffers: broadcast_buffers=True is not compiled yet; False compiles
qf.manual_seed(0)
bn = qf.nn.Sequential(qf.nn.Linear(12, 6), qf.nn.BatchNorm1d(6), qf.nn.Linear(6, 4))
for flag in (True, False):
    ddp = DDP(bn, broadcast_buffers=flag)

    def bn_step(x, y):
        F.cross_entropy(ddp(x), y).backward()
    if flag:
        raises(TraceError, ["broadcast_buffers=True", "broadcast_buffers=False"],
               lambda: qf.compile(bn_step, strict=True)(x0, y0))
        bn.zero_grad()
    else:
        c = qf.compile(bn_step, strict=True)
        c(x0, y0)
        assert all_reduces(c) == [1], all_reduces(c)
        same_on_every_rank([p.grad.numpy() for p in bn.parameters()], "compiled BatchNorm gradients")
print(f"ddp compiled ok on rank {r}")
