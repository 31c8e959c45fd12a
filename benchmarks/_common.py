"""Shared pieces of the benchmark cases: data, initial weights, framework probes.

Every framework of a case starts from the *same* float32 arrays (made here
from one seeded NumPy generator), so the first losses must agree; the harness
flags a mismatch.
"""
import importlib
import importlib.util

import numpy as np

EPOCH = 50_000          # MNIST's training split, the epoch every "epoch" case means
SEED = 1234


def rng(salt=0):
    return np.random.default_rng(SEED + salt)


def uniform_init(g, fan_in, shape):
    """PyTorch's default Linear/Conv init range, drawn once and shared."""
    b = 1.0 / np.sqrt(fan_in)
    return g.uniform(-b, b, size=shape).astype(np.float32)


def mnist_like(n, salt=0, image=False):
    """n synthetic MNIST-shaped samples: pixels in [0, 1), labels 0..9."""
    g = rng(100 + salt)
    shape = (n, 1, 28, 28) if image else (n, 784)
    x = g.random(shape, dtype=np.float32)
    y = g.integers(0, 10, size=n).astype(np.int64)
    return x, y


def batches(x, y, batch):
    """A cycling batch source; batches are views (slices), never copies."""
    nb = len(x) // batch
    state = [0]

    def nxt():
        i = state[0]
        state[0] = (i + 1) % nb
        return x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]
    return nxt


# ---------------------------------------------------------------- probes
def torch():
    """The torch module, or None when it is not installed."""
    if importlib.util.find_spec("torch") is None:
        return None
    return importlib.import_module("torch")


def has_module(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def qf_nn():
    """qiflow.nn and qiflow.optim when both exist (they are optional layers)."""
    if not (has_module("qiflow.nn") and has_module("qiflow.optim")):
        return None
    import qiflow as qf
    return qf


def qf_compile():
    """``qiflow.compile`` when the tracing compiler exists, else None."""
    if not has_module("qiflow.trace"):
        return None
    mod = importlib.import_module("qiflow.trace")
    return getattr(mod, "compile", None)


def qf_sym():
    """qiflow.sym (Theano-style function/shared/grad) when it is complete enough, else None."""
    if not has_module("qiflow.sym"):
        return None
    try:
        T = importlib.import_module("qiflow.sym")
    except ImportError:
        return None
    ok = all(hasattr(T, n) for n in ("function", "shared", "grad", "tensor"))
    return T if ok else None


def qf_cross_entropy():
    """The library's cross-entropy from logits (never a copy of it)."""
    import qiflow as qf
    for mod, name in (("qiflow.nn.functional", "cross_entropy"), ("qiflow.losses", "cross_entropy")):
        if has_module(mod):
            fn = getattr(importlib.import_module(mod), name, None)
            if fn is not None:
                return fn
    raise RuntimeError("qiflow has no cross_entropy yet")


def use_optim():
    """Optimizer classes on both sides (qf.optim / torch.optim) when qf.optim exists;
    QIFLOW_BENCH_SGD=manual forces the plain no_grad update loop on both sides."""
    import os
    return has_module("qiflow.optim") and os.environ.get("QIFLOW_BENCH_SGD") != "manual"


def qf_sgd(params, lr):
    """qf.optim.SGD when it exists, else the manual no_grad update every optimizer does."""
    import qiflow as qf
    if use_optim():
        opt = qf.optim.SGD(params, lr=lr)

        def update():
            opt.step()
            opt.zero_grad()
        update.kind = "qf.optim.SGD"
        return update

    def update():
        with qf.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
    update.kind = "manual no_grad update"
    return update


def np_softmax_xent(z, y):
    """Hand NumPy: mean cross-entropy of logits z and its gradient wrt z."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    n = len(y)
    rows = np.arange(n)
    loss = np.log(s[:, 0]).sum() / n - z[rows, y].sum() / n
    e /= s
    e[rows, y] -= 1
    e *= 1.0 / n
    return loss, e


def np_mlp_step(ws, nxt, lr):
    """Hand NumPy SGD step of a ReLU MLP with cross-entropy; ws = [W1 (in, out), b1, ...],
    updated in place; nxt() gives the next (x, y) batch."""
    L = len(ws) // 2

    def step():
        xb, yb = nxt()
        acts, h = [xb], xb
        for i in range(L):
            h = h @ ws[2 * i]
            h += ws[2 * i + 1]
            if i + 1 < L:
                np.maximum(h, 0, out=h)
                acts.append(h)
        loss, d = np_softmax_xent(h, yb)
        for i in reversed(range(L)):
            a = acts[i]
            if i:
                dprev = d @ ws[2 * i].T
                dprev *= a > 0
            ws[2 * i] -= lr * (a.T @ d)
            ws[2 * i + 1] -= lr * d.sum(0)
            if i:
                d = dprev
        return loss
    return step
