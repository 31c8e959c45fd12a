"""Under mpiexec without init_process_group: the group is set up on first use.
Also the gradient of all_reduce_op, eager and symbolic, against its closed form."""
import numpy as np

import qiflow as qf
from qiflow import distributed as dist
from qiflow import sym as T
from qiflow.data import DistributedSampler

assert not dist.is_initialized()
r, n = dist.get_rank(), dist.get_world_size()          # implicit set-up
assert dist.is_initialized() and n == 2
s = DistributedSampler(range(10), shuffle=False)       # rank and world size from the group
assert (s.rank, s.num_replicas, list(s)) == (r, n, list(range(r, 10, n))), s


def c(rank):
    return np.array([1.0, -2.0, 0.5]) * (rank + 1)


# L = sum over ranks s of <c_s, y> with y = x_1 + ... + x_n (or their mean):
# dL/dx_r = sum_s c_s (or that over n), the same on every rank
total = sum(c(k) for k in range(n))
for op, scale in (("sum", 1.0), ("mean", 1.0 / n)):
    x = qf.tensor(np.arange(3.0) + r, dtype="float64", requires_grad=True)
    y = dist.all_reduce_op(x, op=op)
    np.testing.assert_allclose(y.detach().numpy(), sum(np.arange(3.0) + k for k in range(n)) * scale)
    (y * qf.tensor(c(r))).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), total * scale, rtol=1e-15)
    xs = T.dvector("x")
    g = T.grad((dist.all_reduce_op(xs, op=op) * c(r)).sum(), xs)
    np.testing.assert_allclose(T.function([xs], g)(np.arange(3.0)), total * scale, rtol=1e-15)
# second order: d/dx of sum(all_reduce(x)^2) is 2 * n * all_reduce(x) (sum), again differentiable
x = qf.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
(g,) = qf.grad((dist.all_reduce_op(x) ** 2).sum(), x, create_graph=True)
np.testing.assert_allclose(g.detach().numpy(), 2 * n * np.array([1.0, 2.0]) * n)
(h,) = qf.grad(g.sum(), x)
np.testing.assert_allclose(h.detach().numpy(), [2.0 * n * n] * 2)
try:
    x = qf.tensor([1.0], requires_grad=True)
    dist.all_reduce_op(x, op="max").sum().backward()
except ValueError as e:
    assert "only op='sum' and op='mean' are differentiable" in str(e), e
else:
    raise AssertionError("a max all-reduce was differentiated")
print(f"implicit group and all_reduce_op gradients ok on rank {r}")
