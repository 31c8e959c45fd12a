"""T.function with dist.all_reduce_op on the gradients: N ranks x batch B ==
one process with batch N*B (an MLP 12-16-4, SGD or Adam written as updates).

usage: sym_equivalence.py sgd|adam
"""
import sys

import numpy as np

from qiflow import sym as T
from qiflow import distributed as dist

from common import STEPS, B, dataset, batches, global_batches, assert_close, same_on_every_rank

opt_name = sys.argv[1]
dist.init_process_group("mpi", timeout=60)
r, n = dist.get_rank(), dist.get_world_size()
X, Y = dataset(n * B * STEPS)


def compile_step(seed, reduce):
    rng = np.random.default_rng(seed)
    shapes = [(12, 16), (16,), (16, 4), (4,)]
    params = [T.shared(rng.standard_normal(s) * 0.3, name=f"p{k}") for k, s in enumerate(shapes)]
    W1, b1, W2, b2 = params
    x, y = T.dmatrix("x"), T.lvector("y")
    logits = T.dot(T.tanh(T.dot(x, W1) + b1), W2) + b2
    cost = -T.mean(T.log_softmax(logits, axis=1)[T.arange(y.shape[0]), y])
    grads = T.grad(cost, params)
    if reduce:                                   # the data-parallel part: one op per gradient
        grads = [dist.all_reduce_op(g, op="mean") for g in grads]
    updates = []
    if opt_name == "sgd":
        updates = [(p, p - 0.5 * g) for p, g in zip(params, grads)]
    else:                                        # Adam, PyTorch's formulas
        t = T.shared(np.array(0.0), name="t")
        t1 = t + 1
        updates.append((t, t1))
        for p, g in zip(params, grads):
            m = T.shared(np.zeros(p.get_value().shape), name="m")
            v = T.shared(np.zeros(p.get_value().shape), name="v")
            m1, v1 = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
            step = 0.01 * (m1 / (1 - 0.9 ** t1)) / (T.sqrt(v1 / (1 - 0.999 ** t1)) + 1e-8)
            updates += [(m, m1), (v, v1), (p, p - step)]
    return T.function([x, y], cost, updates=updates), params


# different seeds per rank: rank 0's initial values are broadcast, as DDP would do
step, params = compile_step(seed=10 + r, reduce=True)
for p in params:
    a = p.get_value()
    dist.broadcast(a, src=0)
    p.set_value(a)
for idx in batches(len(X), n, r):
    step(X[idx], Y[idx])
mine = [p.get_value() for p in params]
same_on_every_rank(mine, "shared variables after training")
if r == 0:
    ref_step, ref_params = compile_step(seed=10, reduce=False)
    start = [p.get_value().copy() for p in ref_params]
    for idx in global_batches(len(X), n):
        ref_step(X[idx], Y[idx])
    ref = [p.get_value() for p in ref_params]
    worst = assert_close(mine, ref, 1e-10 if opt_name == "sgd" else 1e-8, f"T.function {opt_name}")
    assert max(float(np.abs(a - b).max()) for a, b in zip(ref, start)) > 1e-2
    ops = [nd.op for nd in step.fgraph.toposort() if isinstance(nd.op, dist.AllReduce)]
    assert len(ops) == 4, ops
    print(f"equivalent: T.function {opt_name} all_reduce_ops={len(ops)} worst={worst:.2e}")
