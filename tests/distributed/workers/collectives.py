"""Every collective on 2+ ranks, against values computed here from each rank's known input."""
import numpy as np

import qiflow as qf
from qiflow import distributed as dist
from qiflow.distributed import DistributedError, ReduceOp

dist.init_process_group("mpi", timeout=30)
r, n = dist.get_rank(), dist.get_world_size()


def data(rank, shape=(2, 3), dtype="float64"):
    """What rank `rank` contributes: distinct, exactly representable values."""
    return (np.arange(np.prod(shape)).reshape(shape) * (rank + 1) + rank * 0.5).astype(dtype)


every = [data(k) for k in range(n)]
expect = {"sum": sum(every), "mean": sum(every) / n, "max": np.max(every, axis=0),
          "min": np.min(every, axis=0), "product": np.prod(every, axis=0)}

# all_reduce on tensors (in place, PyTorch's op names) and on arrays (string names)
for op, key in ((ReduceOp.SUM, "sum"), (ReduceOp.AVG, "mean"), (ReduceOp.MAX, "max"),
                (ReduceOp.MIN, "min"), (ReduceOp.PRODUCT, "product")):
    t = qf.tensor(data(r))
    assert dist.all_reduce(t, op=op) is None
    np.testing.assert_array_equal(t.detach().numpy(), expect[key], err_msg=f"all_reduce {op} on a tensor")
    a = data(r)
    dist.all_reduce(a, op=key if key != "mean" else "mean")
    np.testing.assert_array_equal(a, expect[key], err_msg=f"all_reduce {key} on an array")

# a non-contiguous view is reduced in place too; float32 and int64 keep their dtype
base = np.zeros((2, 6)); view = base[:, ::2]; view[...] = data(r)
dist.all_reduce(view)
np.testing.assert_array_equal(base[:, ::2], expect["sum"]); assert not base[:, 1::2].any()
f32 = qf.tensor(data(r, dtype="float32")); dist.all_reduce(f32, op="mean")
assert f32.dtype == np.float32; np.testing.assert_allclose(f32.detach().numpy(), expect["mean"], rtol=1e-6)
i64 = np.arange(4) * (r + 1); dist.all_reduce(i64, op="max")
np.testing.assert_array_equal(i64, np.arange(4) * n)
s0 = np.array(float(r + 1)); dist.all_reduce(s0); assert s0 == n * (n + 1) / 2

# async: a Work handle; the result is there after wait()
t = qf.tensor(data(r)); w = dist.all_reduce(t, op="sum", async_op=True)
assert isinstance(w, dist.Work) and w.wait() is True and w.is_completed()
np.testing.assert_array_equal(t.detach().numpy(), expect["sum"])
works = [dist.all_reduce(a, async_op=True) for a in [data(r), data(r)]]
for w in works:
    w.wait()
a = data(r); w = dist.all_reduce(a, op="mean", async_op=True)
while not w.is_completed():
    pass
np.testing.assert_array_equal(a, expect["mean"])

# broadcast from each source rank, blocking and async
for src in range(n):
    t = qf.tensor(data(r)); dist.broadcast(t, src=src)
    np.testing.assert_array_equal(t.detach().numpy(), data(src))
    a = data(r); dist.broadcast(a, src, async_op=True).wait()
    np.testing.assert_array_equal(a, data(src))

# all_gather: list form and into one tensor (concatenated or stacked)
outs = [qf.zeros(2, 3, dtype="float64") for _ in range(n)]
dist.all_gather(outs, qf.tensor(data(r)))
for k in range(n):
    np.testing.assert_array_equal(outs[k].detach().numpy(), data(k))
cat = np.zeros((2 * n, 3)); dist.all_gather_into_tensor(cat, data(r))
np.testing.assert_array_equal(cat, np.concatenate(every))
stk = qf.zeros(n, 2, 3, dtype="float64"); dist.all_gather_into_tensor(stk, data(r), async_op=True).wait()
np.testing.assert_array_equal(stk.detach().numpy(), np.stack(every))

# reduce_scatter: rank k gets the sum over ranks of their k-th input
out = np.zeros((2, 3)); dist.reduce_scatter(out, [data(r) * (k + 1) for k in range(n)])
np.testing.assert_array_equal(out, expect["sum"] * (r + 1))
out = qf.zeros(2, 3, dtype="float64")
dist.reduce_scatter_tensor(out, np.concatenate([data(r) * (k + 1) for k in range(n)]), op="mean")
np.testing.assert_array_equal(out.detach().numpy(), expect["mean"] * (r + 1))

# reduce to one rank (the others keep their input); gather and scatter
for dst in range(n):
    a = data(r); dist.reduce(a, dst=dst, op="sum")
    np.testing.assert_array_equal(a, expect["sum"] if r == dst else data(r))
lst = [np.zeros((2, 3)) for _ in range(n)] if r == 0 else None
dist.gather(data(r), lst, dst=0)
if r == 0:
    for k in range(n):
        np.testing.assert_array_equal(lst[k], data(k))
got = np.zeros((2, 3)); dist.scatter(got, [data(k) * 10 for k in range(n)] if r == n - 1 else None, src=n - 1)
np.testing.assert_array_equal(got, data(r) * 10)
dist.barrier(); dist.barrier(async_op=True).wait()
objs = [None] * n
dist.all_gather_object(objs, {"rank": r, "name": f"r{r}"})
assert objs == [{"rank": k, "name": f"r{k}"} for k in range(n)], objs
box = [f"from {r}", r * 10]
dist.broadcast_object_list(box, src=n - 1)
assert box == [f"from {n - 1}", (n - 1) * 10], box

# errors are clear and raised on every rank (nobody is left waiting)
def raises(exc, needle, fn):
    try:
        fn()
    except exc as e:
        assert needle in str(e), f"{needle!r} not in {e}"
    else:
        raise AssertionError(f"no {exc.__name__} ({needle})")


raises(DistributedError, "rank 1: all_reduce(sum) of float64[4]", lambda: dist.all_reduce(np.ones(3 + r)))
raises(DistributedError, "different calls", lambda: dist.all_reduce(np.ones(3, "float32" if r else "float64")))
raises(DistributedError, "broadcast(src=0)",
       lambda: dist.all_reduce(np.ones(3)) if r else dist.broadcast(np.ones(3), 0))
raises(ValueError, "src=5 is not a rank", lambda: dist.broadcast(np.ones(3), src=5))
raises(TypeError, "AVG needs floating-point", lambda: dist.all_reduce(np.ones(3, np.int64), op="avg"))
raises(ValueError, "unknown reduction 'median'", lambda: dist.all_reduce(np.ones(3), op="median"))
raises(TypeError, "expected a qiflow Tensor or a NumPy array", lambda: dist.all_reduce([1.0, 2.0]))
raises(ValueError, "read-only", lambda: dist.all_reduce(np.broadcast_to(np.ones(1), (3,))))
raises(ValueError, f"tensor_list must be a list of {n}", lambda: dist.all_gather([np.zeros(3)], np.ones(3)))
raises(ValueError, f"object_list must be a list of {n} entries", lambda: dist.all_gather_object([None], r))
raises(ValueError, "src must be a rank", lambda: dist.broadcast_object_list([1], src=n))
dist.all_reduce(np.ones(2))           # the group still works after every error above
print(f"collectives ok on rank {r} of {n}")
