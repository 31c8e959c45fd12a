"""SyncBatchNorm on N ranks x batch B == BatchNorm in one process on the global
batch: outputs, gradients, running statistics, after several SGD steps; plain
BatchNorm under DDP keeps per-rank statistics (and so differs)."""
import numpy as np

import qiflow as qf
from qiflow import distributed as dist
from qiflow.nn.parallel import DistributedDataParallel as DDP

from common import B, params_of, assert_close, same_on_every_rank

qf.set_default_dtype("float64")
dist.init_process_group("mpi", timeout=60)
r, n = dist.get_rank(), dist.get_world_size()
rng = np.random.default_rng(3)
STEPS = 5
X = rng.standard_normal((STEPS, n * B, 2, 5, 5)) * 2 + 1
T = rng.standard_normal((STEPS, n * B, 3))


def net(seed):
    qf.manual_seed(seed)
    return qf.nn.Sequential(qf.nn.Conv2d(2, 4, 3), qf.nn.BatchNorm2d(4), qf.nn.Tanh(), qf.nn.Flatten(),
                            qf.nn.Linear(4 * 3 * 3, 6), qf.nn.BatchNorm1d(6), qf.nn.Linear(6, 3))


def run(model, rows, steps=STEPS):
    opt = qf.optim.SGD(model.parameters(), lr=0.1)
    outs = []
    for s in range(steps):
        opt.zero_grad()
        out = model(qf.tensor(X[s][rows]))
        ((out - qf.tensor(T[s][rows])) ** 2).mean().backward()
        outs.append(out.detach().numpy().copy())
        opt.step()
    return outs


mine = np.arange(r * B, (r + 1) * B)
model = qf.nn.SyncBatchNorm.convert_sync_batchnorm(net(seed=0))
assert sum(isinstance(m, qf.nn.SyncBatchNorm) for m in model.modules()) == 2
synced = DDP(model)
outs = run(synced, mine)
stats = [b.detach().numpy().copy() for _, b in model.named_buffers()]
same_on_every_rank(params_of(model) + stats, "parameters and statistics with SyncBatchNorm")

per_rank = net(seed=0)
run(DDP(per_rank), mine)

if r == 0:
    ref = net(seed=0)
    ref_outs = run(ref, np.arange(n * B))
    assert_close([o for o in outs], [o[:B] for o in ref_outs], 1e-10, "SyncBatchNorm forward (rank 0's rows)")
    assert_close(params_of(model), params_of(ref), 1e-10, "parameters after SGD steps")
    assert_close(stats, [b.detach().numpy() for _, b in ref.named_buffers()], 1e-10, "running statistics")
    gap = max(float(np.abs(a - b).max()) for a, b in zip(params_of(per_rank), params_of(ref)))
    assert gap > 1e-6, "plain BatchNorm under DDP should use per-rank statistics"
    model.eval(); ref.eval()
    np.testing.assert_allclose(model(qf.tensor(X[0])).detach().numpy(), ref(qf.tensor(X[0])).detach().numpy(), rtol=1e-10)
    print(f"sync batchnorm ok (per-rank BatchNorm differs by {gap:.2e})")
