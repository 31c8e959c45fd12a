"""Figures for qiflow.sym (a script, not a test): python tests/sym/bench_sym.py

* seed 000's 3-4-2 training step: hand NumPy vs T.function (shared params,
  updates) vs qf.compile (manual no_grad update, and qf.optim.SGD);
* call overhead of a compiled function;
* elementwise fusion: a chain run op by op (allocating) vs the fused in-place
  kernel (vs numexpr when it is installed);
* node counts before/after rewrites of the logistic-regression and MLP
  cost+gradient graphs.

Timings interleave the variants and keep the best of several repetitions, so a
busy machine inflates them all alike.
"""
import os
import sys
import timeit

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
import qiflow as qf  # noqa: E402
from qiflow import sym as T  # noqa: E402

W1 = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2]], np.float32)
W2 = np.array([[1.3, 1.4], [1.5, 1.6], [1.7, 1.8], [1.9, 2.0]], np.float32)
B1 = np.array([-2.0, -6.0, -1.0, -7.0], np.float32)
B2 = np.array([-2.5, -5.0], np.float32)
X = np.array([[1.0, 2.0, 3.0]], np.float32)
Y = np.array([[-0.85, 0.72]], np.float32)
LR = 0.1


def numpy_step():
    P = [W1.copy(), B1.copy(), W2.copy(), B2.copy()]
    n = Y.size

    def step():
        s1 = 1.0 / (1.0 + np.exp(-(X @ P[0] + P[1])))
        out = np.tanh(s1 @ P[2] + P[3])
        diff = out - Y
        loss = (diff * diff).mean()
        d2 = (2.0 / n) * diff * (1 - out * out)
        d1 = (d2 @ P[2].T) * s1 * (1 - s1)
        P[2] -= LR * (s1.T @ d2)
        P[3] -= LR * d2.sum(0)
        P[0] -= LR * (X.T @ d1)
        P[1] -= LR * d1.sum(0)
        return loss
    return step


def theano_step():
    params = [T.shared(p, name=n) for p, n in zip((W1, B1, W2, B2), ("W1", "b1", "W2", "b2"))]
    w1, b1, w2, b2 = params
    x, y = T.fmatrix("x"), T.fmatrix("y")
    out = T.tanh(T.nnet.sigmoid(T.dot(x, w1) + b1).dot(w2) + b2)
    loss = T.mean((out - y) ** 2)
    grads = T.grad(loss, params)
    f = T.function([x, y], loss, updates=[(p, p - LR * g) for p, g in zip(params, grads)])
    return (lambda: f(X, Y)), f


def traced_step(optim):
    params = [qf.tensor(p, requires_grad=True) for p in (W1, B1, W2, B2)]
    w1, b1, w2, b2 = params
    opt = qf.optim.SGD(params, lr=LR) if optim else None

    @qf.compile(strict=True)
    def step(x, y):
        out = qf.tanh(qf.sigmoid(x @ w1 + b1) @ w2 + b2)
        loss = ((out - y) ** 2).mean()
        loss.backward()
        if optim:
            opt.step()
            opt.zero_grad()
        else:
            with qf.no_grad():
                for p in params:
                    p -= LR * p.grad
                    p.grad = None
        return loss
    x, y = qf.tensor(X), qf.tensor(Y)
    return lambda: step(x, y)


def best(fns, number, repeat=7):
    res = {k: float("inf") for k in fns}
    for _ in range(repeat):
        for k, f in fns.items():
            res[k] = min(res[k], timeit.timeit(f, number=number) / number)
    return res


def seed000():
    th, f = theano_step()
    fns = {"hand NumPy": numpy_step(), "T.function": th, "qf.compile (no_grad update)":
           traced_step(False), "qf.compile (qf.optim.SGD)": traced_step(True)}
    for g in fns.values():
        g()
    r = best(fns, 2000)
    print("seed 000 3-4-2 training step (us/step, ratio to hand NumPy):")
    for k, v in r.items():
        print(f"  {k:30s} {v * 1e6:7.1f}  {v / r['hand NumPy']:5.2f}x")
    print(f"  T.function graph: {f.report.nodes_before} -> {f.report.nodes_after} nodes")


def overhead():
    x, y = T.dscalar("x"), T.dscalar("y")
    f = T.function([x, y], x + y)
    a, b = np.array(2.0), np.array(3.0)
    r = best({"f(a, b)": lambda: f(a, b), "np.add(a, b)": lambda: np.add(a, b)}, 50000)
    print(f"call overhead: compiled x + y {r['f(a, b)'] * 1e6:.2f} us vs np.add "
          f"{r['np.add(a, b)'] * 1e6:.2f} us -> {(r['f(a, b)'] - r['np.add(a, b)']) * 1e6:.2f} us per call")


def fusion():
    x = T.fvector("x")
    expr = T.tanh(T.exp(-x * x) * 2.0 + 1.0) * x - 0.5
    fused = T.function([x], expr)
    plain = T.function([x], expr, mode=T.Mode(exclude=("elemwise_fusion",)))
    raw = T.function([x], expr, mode=T.Mode(exclude=("elemwise_fusion",), inplace=False))
    print("elementwise chain tanh(exp(-x*x)*2+1)*x-0.5, float32 (ms/call):")
    for n in (10_000, 1_000_000):
        v = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        fns = {"op by op, allocating": lambda: raw(v), "op by op, dead buffers reused": lambda: plain(v),
               "fused in-place kernel": lambda: fused(v)}
        try:
            import numexpr as ne
            fns["numexpr"] = lambda v=v: ne.evaluate("tanh(exp(-v*v)*2+1)*v-0.5", local_dict={"v": v})
        except ImportError:
            pass
        r = best(fns, 20 if n > 100_000 else 500, repeat=5)
        print(f"  n={n}: " + ", ".join(f"{k} {t * 1e3:.3f}" for k, t in r.items()))


def node_counts():
    rng = np.random.RandomState(0)
    x, y = T.dmatrix("x"), T.dvector("y")
    w, b = T.shared(rng.randn(784), name="w"), T.shared(0., name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    f = T.function([x, y], [cost] + T.grad(cost, [w, b]))
    print(f"logistic regression (seed 003) cost+grad: {f.report.nodes_before} -> "
          f"{f.report.nodes_after} nodes; fired {dict(f.report.fired)}")
    xm, ym = T.fmatrix("x"), T.ivector("y")
    params = [T.shared(rng.randn(*s).astype(np.float32)) for s in ((784, 256), (256,), (256, 10), (10,))]
    h = T.nnet.relu(T.dot(xm, params[0]) + params[1])
    p = T.nnet.softmax(T.dot(h, params[2]) + params[3])
    nll = -T.mean(T.log(p)[T.arange(ym.shape[0]), ym])
    f = T.function([xm, ym], [nll] + T.grad(nll, params))
    print(f"MLP 784-256-10 (NLL of softmax) cost+grad: {f.report.nodes_before} -> "
          f"{f.report.nodes_after} nodes; fired {dict(f.report.fired)}")


if __name__ == "__main__":
    seed000()
    overhead()
    fusion()
    node_counts()
