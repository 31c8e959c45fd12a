"""DDP's behaviour beyond the plain step: wrap checks, state_dict, no_sync,
unused parameters, buffers, bucket order, and a second wrap."""
import numpy as np

import qiflow as qf
import qiflow.nn.functional as F
from qiflow import distributed as dist
from qiflow.nn.parallel import DistributedDataParallel as DDP

from common import B, mlp, dataset, params_of, assert_close, same_on_every_rank, raises

qf.set_default_dtype("float64")
dist.init_process_group("mpi", timeout=60)
r, n = dist.get_rank(), dist.get_world_size()
X, Y = dataset(n * B * 3)
mine = [np.arange(k * n * B + r * B, k * n * B + (r + 1) * B) for k in range(3)]   # micro-batches
every = [np.arange(k * n * B, (k + 1) * n * B) for k in range(3)]


def loss(model, idx):
    return F.cross_entropy(model(qf.tensor(X[idx])), qf.tensor(Y[idx]))


# --- mismatched shapes are caught at wrap, on every rank, naming ranks and shapes
wrong = qf.nn.Sequential(qf.nn.Linear(12, 3 + r))
raises(ValueError, ["'0.weight' is float64[3, 12] on rank 0 but float64[4, 12] on rank 1",
                    "'0.bias' is float64[3] on rank 0"], lambda: DDP(wrong))

# --- the wrap broadcasts rank 0's parameters; state_dict keeps the module. prefix
net = mlp(seed=r)
ddp = DDP(net)
np.testing.assert_array_equal(params_of(net)[0], params_of(mlp(seed=0))[0])
assert list(ddp.state_dict()) == ["module." + k for k in net.state_dict()], list(ddp.state_dict())
assert ddp.module is net
assert [name for name, _ in ddp.named_parameters()][0] == "module.0.weight"

# --- no_sync: two local backward passes, then a synchronised one == one step on the sum
with ddp.no_sync():
    loss(ddp, mine[0]).backward()
    local = net[0].weight.grad.numpy().copy()
    loss(ddp, mine[1]).backward()
hi, lo = local.copy(), local.copy()
dist.all_reduce(hi, op="max"); dist.all_reduce(lo, op="min")
assert not np.array_equal(hi, lo), "inside no_sync the gradients must stay local (they were averaged)"
loss(ddp, mine[2]).backward()
qf.optim.SGD(net.parameters(), lr=0.3).step()
same_on_every_rank(params_of(net), "parameters after no_sync accumulation")
ref = mlp(seed=0)
for idx in every:
    loss(ref, idx).backward()                      # accumulate the three global micro-batches
qf.optim.SGD(ref.parameters(), lr=0.3).step()
assert_close(params_of(net), params_of(ref), 1e-12, "no_sync accumulation")

# --- buckets: reverse registration order, several with a small cap
small = DDP(mlp(seed=0), bucket_cap_mb=0.0004)       # 419 bytes: one layer per bucket
order = [name for b in small.buckets for name in b]
assert order == [name for name, _ in mlp(0).named_parameters()][::-1], order
assert len(small.buckets) >= 3, small.buckets

# --- overlap: when the first layer's gradient arrives, the later layers' buckets are already
# in flight (their all-reduce started from the hooks while backward was still running)
probe, seen = mlp(seed=0), []
probe[0].weight.register_post_accumulate_grad_hook(lambda p: seen.append(overlapped.reducer.next))
overlapped = DDP(probe, bucket_cap_mb=0.0004)
loss(overlapped, mine[0]).backward()
assert seen == [len(overlapped.buckets) - 1], (seen, overlapped.buckets)

# --- an unused parameter: a clear error naming it, or find_unused_parameters=True
class WithSpare(qf.nn.Module):
    def __init__(self, seed):
        super().__init__()
        self.body = mlp(seed)
        self.spare = qf.nn.Linear(4, 4)           # never used
        self.branch = qf.nn.Linear(4, 4)          # used on rank 0 only

    def forward(self, x, use_branch):
        out = self.body(x)
        return self.branch(out) if use_branch else out


m = WithSpare(0)
plain = DDP(m)
raises(RuntimeError, ["'spare.weight'", "'spare.bias'", "find_unused_parameters=True"],
       lambda: F.cross_entropy(plain(qf.tensor(X[mine[0]]), False), qf.tensor(Y[mine[0]])).backward())
m = WithSpare(0)
tolerant = DDP(m, find_unused_parameters=True)
F.cross_entropy(tolerant(qf.tensor(X[mine[0]]), r == 0), qf.tensor(Y[mine[0]])).backward()
assert m.spare.weight.grad is None, "a parameter no rank used keeps grad None (as in PyTorch)"
# branch: rank 0's gradient over 2 (rank 1 contributes zeros), on both ranks
g_branch = m.branch.weight.grad.numpy().copy()
same_on_every_rank([g_branch, m.body[0].weight.grad.numpy()], "gradients with unused parameters")
if r == 0:
    ref = WithSpare(0)
    F.cross_entropy(ref(qf.tensor(X[mine[0]]), True), qf.tensor(Y[mine[0]])).backward()
    np.testing.assert_allclose(g_branch, ref.branch.weight.grad.numpy() / n, rtol=1e-12)
# next iteration works (state was reset)
F.cross_entropy(tolerant(qf.tensor(X[mine[1]]), False), qf.tensor(Y[mine[1]])).backward()

# --- a forward without backward (evaluation with grad on) is harmless; under no_grad nothing syncs
ddp(qf.tensor(X[mine[0]]))
with qf.no_grad():
    ddp(qf.tensor(X[mine[0]]))
loss(ddp, mine[0]).backward()

# --- buffers: rank 0's BatchNorm statistics are broadcast at every forward
bn_net = qf.nn.Sequential(qf.nn.Linear(12, 4), qf.nn.BatchNorm1d(4))
bn_ddp = DDP(bn_net)
bn_ddp(qf.tensor(X[mine[0]]))                # each rank's running_mean now from its own batch
rm = bn_net[1].running_mean.detach().numpy().copy()
hi, lo = rm.copy(), rm.copy(); dist.all_reduce(hi, op="max"); dist.all_reduce(lo, op="min")
assert not np.array_equal(hi, lo), "per-rank batch statistics differ before the next forward"
bn_ddp(qf.tensor(X[mine[1]]))                # starts by broadcasting rank 0's buffers
rank0_rm = rm.copy(); dist.broadcast(rank0_rm, src=0)
mean1 = X[mine[1]] @ bn_net[0].weight.detach().numpy().T + bn_net[0].bias.detach().numpy()
np.testing.assert_allclose(bn_net[1].running_mean.detach().numpy(), 0.9 * rank0_rm + 0.1 * mean1.mean(0),
                           rtol=1e-12)
print(f"ddp features ok on rank {r}")
