"""Models, data and checks shared by the worker scripts."""
import numpy as np

import qiflow as qf
from qiflow import distributed as dist
from qiflow.data import DistributedSampler

B = 8           # rows per rank per step
STEPS = 20


def mlp(seed, n_in=12, hidden=16, n_out=4):
    qf.manual_seed(seed)
    return qf.nn.Sequential(qf.nn.Linear(n_in, hidden), qf.nn.Tanh(), qf.nn.Linear(hidden, hidden),
                            qf.nn.Tanh(), qf.nn.Linear(hidden, n_out))


def small_convnet(seed):
    qf.manual_seed(seed)
    return qf.nn.Sequential(qf.nn.Conv2d(1, 3, 3), qf.nn.Tanh(), qf.nn.MaxPool2d(2), qf.nn.Flatten(),
                            qf.nn.Linear(3 * 3 * 3, 4))


def dataset(n, shape=(12,), classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n,) + shape), rng.integers(0, classes, n)


def batches(n_rows, world, rank, epoch=0, seed=5):
    """The row indices rank `rank` trains on at each step: its DistributedSampler shard, B at a time."""
    s = DistributedSampler(range(n_rows), num_replicas=world, rank=rank, seed=seed)
    s.set_epoch(epoch)
    idx = s.indices()
    return [idx[k * B:(k + 1) * B] for k in range(len(idx) // B)]


def global_batches(n_rows, world, epoch=0, seed=5):
    """What one process with the global batch trains on: the union of the ranks' batches."""
    per_rank = [batches(n_rows, world, r, epoch, seed) for r in range(world)]
    return [np.concatenate([pr[k] for pr in per_rank]) for k in range(len(per_rank[0]))]


def params_of(model):
    return [p.detach().numpy().copy() for p in model.parameters()]


def same_on_every_rank(arrays, what):
    """Every rank holds bitwise the same arrays (DDP keeps the replicas identical)."""
    flat = np.concatenate([a.ravel() for a in arrays])
    lo, hi = flat.copy(), flat.copy()
    dist.all_reduce(lo, op="min")
    dist.all_reduce(hi, op="max")
    assert np.array_equal(lo, hi), f"{what} differ across ranks by {np.abs(hi - lo).max()}"


def assert_close(got, want, tol, what):
    worst = max(float(np.max(np.abs(g - w) / (1 + np.abs(w)))) for g, w in zip(got, want))
    assert worst <= tol, f"{what}: largest relative difference {worst:.3g} > {tol}"
    return worst


def raises(exc, needles, fn):
    try:
        fn()
    except exc as e:
        for needle in needles:
            assert needle in str(e), f"{needle!r} not in: {e}"
        return str(e)
    raise AssertionError(f"no {exc.__name__} raised (expected one mentioning {needles})")
