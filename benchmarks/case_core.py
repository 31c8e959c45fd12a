"""Eager-core cases: tiny-op overhead, seed 000's 3-4-2 step, raw-tensor MLPs,
logistic regression.  qiflow's side uses only tensors, ops and the engine
(plus qf.optim.SGD once it exists); the references do the same work."""
import numpy as np

from _common import (EPOCH, rng, uniform_init, mnist_like, batches, torch, qf_sym,
                     qf_cross_entropy, qf_sgd, np_mlp_step, use_optim)
from _harness import Case
import _flops

# ------------------------------------------------------------- tiny ops
_TINY = {"add": (np.add, "__add__"), "mul": (np.multiply, "__mul__"),
         "matmul": (np.matmul, "__matmul__")}


def _tiny_data():
    g = rng(1)
    return [g.standard_normal((3, 3)).astype(np.float32) for _ in range(3)]


def _tiny_case(op, backward):
    npf, meth = _TINY[op]

    def q(quick):
        import qiflow as qf
        A, B, G = _tiny_data()
        a, b = qf.tensor(A, requires_grad=backward), qf.tensor(B, requires_grad=backward)
        f = getattr(qf.Tensor, meth)
        if not backward:
            return lambda: f(a, b)
        g = qf.tensor(G)

        def step():
            a.grad = b.grad = None
            f(a, b).backward(g)
        return step

    def t(quick):
        th = torch()
        if th is None:
            return None
        A, B, G = _tiny_data()
        a = th.tensor(A, requires_grad=backward)
        b = th.tensor(B, requires_grad=backward)
        f = getattr(th.Tensor, meth)
        if not backward:
            return lambda: f(a, b)
        g = th.tensor(G)

        def step():
            a.grad = b.grad = None
            f(a, b).backward(g)
        return step

    def n(quick):
        A, B, G = _tiny_data()
        if not backward:
            return lambda: npf(A, B)
        if op == "add":
            return lambda: (A + B, G.copy(), G.copy())
        if op == "mul":
            return lambda: (A * B, G * B, G * A)
        return lambda: (A @ B, G @ B.T, A.T @ G)

    def c(quick):
        T = qf_sym()
        if T is None:
            return None
        import qiflow as qf
        A, B, G = _tiny_data()
        f = getattr(qf.Tensor, meth)
        a, b = T.tensor("a", "float32", 2), T.tensor("b", "float32", 2)
        if not backward:
            fn = T.function([a, b], f(a, b))
            return lambda: fn(A, B)
        g = T.tensor("g", "float32", 2)
        fn = T.function([a, b, g], T.grad((f(a, b) * g).sum(), [a, b]))
        return lambda: fn(A, B, G)

    key = f"tiny.{op}" + ("+bwd" if backward else "")
    title = f"{op} on 3x3 float32" + (", then backward" if backward else "")
    flops = None
    if op == "matmul":            # both inputs need a gradient in the +bwd case
        prods = [_flops.product(_flops.gemm(3, 3, 3))]
        flops = _flops.train_step(prods) if backward else _flops.forward_only(prods)
    return Case(key, title, "us/op", 1e6, {"qiflow": q, "torch": t, "numpy": n, "compiled": c},
                inner=2000, reps=5, quick_inner=200, quick_reps=3, warmup=20, flops=flops)


# ---------------------------------------------------------- seed 000 net
_W1 = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2]], np.float32)
_W2 = np.array([[1.3, 1.4], [1.5, 1.6], [1.7, 1.8], [1.9, 2.0]], np.float32)
_B1 = np.array([-2.0, -6.0, -1.0, -7.0], np.float32)
_B2 = np.array([-2.5, -5.0], np.float32)
_X = np.array([[1.0, 2.0, 3.0]], np.float32)
_Y = np.array([[-0.85, 0.72]], np.float32)
_LR000 = 0.1


def _seed000_params():
    return [p.copy() for p in (_W1, _B1, _W2, _B2)]


def _seed000_qiflow(quick):
    import qiflow as qf
    params = [qf.tensor(p, requires_grad=True) for p in _seed000_params()]
    W1, b1, W2, b2 = params
    x, y = qf.tensor(_X), qf.tensor(_Y)
    update = qf_sgd(params, _LR000)

    def step():
        h = qf.sigmoid(x @ W1 + b1)
        out = qf.tanh(h @ W2 + b2)
        loss = ((out - y) ** 2).mean()
        loss.backward()
        update()
        return loss
    return step


def _seed000_torch(quick):
    th = torch()
    if th is None:
        return None
    params = [th.tensor(p, requires_grad=True) for p in _seed000_params()]
    W1, b1, W2, b2 = params
    x, y = th.tensor(_X), th.tensor(_Y)
    update = _torch_sgd(th, params, _LR000)

    def step():
        h = th.sigmoid(x @ W1 + b1)
        out = th.tanh(h @ W2 + b2)
        loss = ((out - y) ** 2).mean()
        loss.backward()
        update()
        return loss
    return step


def _torch_sgd(th, params, lr):
    """torch.optim.SGD when qiflow's side uses qf.optim, the same manual loop otherwise."""
    if use_optim():
        opt = th.optim.SGD(params, lr=lr)

        def update():
            opt.step()
            opt.zero_grad()
        return update

    def update():
        with th.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
    return update


def _seed000_numpy(quick):
    P = _seed000_params()        # [W1, b1, W2, b2], updated in place
    x, y = _X, _Y
    n = y.size

    def step():
        s1 = 1.0 / (1.0 + np.exp(-(x @ P[0] + P[1])))
        out = np.tanh(s1 @ P[2] + P[3])
        diff = out - y
        loss = (diff * diff).mean()
        d2 = (2.0 / n) * diff * (1 - out * out)
        d1 = (d2 @ P[2].T) * s1 * (1 - s1)
        P[2] -= _LR000 * (s1.T @ d2)
        P[3] -= _LR000 * d2.sum(0)
        P[0] -= _LR000 * (x.T @ d1)
        P[1] -= _LR000 * d1.sum(0)
        return loss
    return step


def _seed000_compiled(quick):
    """Theano style: shared weights, symbolic grad, SGD as the function's updates."""
    T = qf_sym()
    if T is None:
        return None
    import qiflow as qf
    params = [T.shared(p, name=n, shape=p.shape)
              for p, n in zip(_seed000_params(), ("W1", "b1", "W2", "b2"))]
    W1, b1, W2, b2 = params
    x, y = T.tensor("x", "float32", shape=_X.shape), T.tensor("y", "float32", shape=_Y.shape)
    h = qf.sigmoid(x @ W1 + b1)
    out = qf.tanh(h @ W2 + b2)
    loss = ((out - y) ** 2).mean()
    grads = T.grad(loss, params)
    f = T.function([x, y], loss, updates=[(p, p - _LR000 * g) for p, g in zip(params, grads)])
    return lambda: f(_X, _Y)


# ----------------------------------------------------------- raw MLP
def _mlp_arrays(sizes, batch, n_batches, salt):
    g = rng(10 + salt)
    ws = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        ws.append(uniform_init(g, a, (a, b)))
        ws.append(uniform_init(g, a, (b,)))
    x, y = mnist_like(batch * n_batches, salt)
    return ws, x, y


def mlp_raw_case(sizes, batch, lr, key, inner, salt=0, logreg=False):
    n_batches = max(inner, 8)
    per_epoch = -(-EPOCH // batch)

    def q(quick):
        import qiflow as qf
        ws, x, y = _mlp_arrays(sizes, batch, n_batches, salt)
        params = [qf.tensor(w, requires_grad=True) for w in ws]
        xent = qf_cross_entropy()
        update = qf_sgd(params, lr)
        nxt = batches(x, y, batch)

        def step():
            xb, yb = nxt()
            h = qf.as_tensor(xb)
            for i in range(0, len(params), 2):
                h = h @ params[i] + params[i + 1]
                if i + 2 < len(params):
                    h = qf.relu(h)
            loss = xent(h, yb)
            loss.backward()
            update()
            return loss
        return step

    def t(quick):
        th = torch()
        if th is None:
            return None
        ws, x, y = _mlp_arrays(sizes, batch, n_batches, salt)
        params = [th.tensor(w, requires_grad=True) for w in ws]
        xs, ys = th.from_numpy(x), th.from_numpy(y)
        update = _torch_sgd(th, params, lr)
        nxt = batches(xs, ys, batch)
        F = th.nn.functional

        def step():
            xb, yb = nxt()
            h = xb
            for i in range(0, len(params), 2):
                h = h @ params[i] + params[i + 1]
                if i + 2 < len(params):
                    h = th.relu(h)
            loss = F.cross_entropy(h, yb)
            loss.backward()
            update()
            return loss
        return step

    def n(quick):
        ws, x, y = _mlp_arrays(sizes, batch, n_batches, salt)
        return np_mlp_step(ws, batches(x, y, batch), lr)

    def c(quick):
        T = qf_sym()
        if T is None:
            return None
        import qiflow as qf
        ws, x, y = _mlp_arrays(sizes, batch, n_batches, salt)
        params = [T.shared(w, shape=w.shape) for w in ws]       # fixed shapes: known class count
        xent = qf_cross_entropy()
        xs, ys = T.tensor("x", "float32", shape=(None, sizes[0])), T.tensor("y", "int64", 1)
        h = xs
        for i in range(0, len(params), 2):
            h = h @ params[i] + params[i + 1]
            if i + 2 < len(params):
                h = qf.relu(h)
        loss = xent(h, ys)
        grads = T.grad(loss, params)
        f = T.function([xs, ys], loss, updates=[(p, p - lr * g) for p, g in zip(params, grads)])
        nxt = batches(x, y, batch)

        def step():
            return f(*nxt())
        return step

    arch = "-".join(map(str, sizes))
    title = (f"logistic regression {arch}, batch {batch}" if logreg else
             f"MLP {arch} ReLU + cross-entropy + SGD, batch {batch}, raw tensors")
    note = f"epoch = median batch time x {per_epoch} batches (50k images; {inner} timed batches per rep)"
    return Case(key, title, "s/epoch", per_epoch, {"qiflow": q, "torch": t, "numpy": n, "compiled": c},
                inner=inner, reps=5, quick_inner=max(2, inner // 10), quick_reps=3, warmup=2, note=note,
                flops=_flops.train_step(_flops.mlp(sizes, batch)))


def cases():
    out = []
    for op in ("add", "mul", "matmul"):
        out.append(_tiny_case(op, False))
        out.append(_tiny_case(op, True))
    out.append(Case("seed000", "seed 000 3-4-2 net: sigmoid, tanh, MSE, SGD step", "us/step", 1e6,
                    {"qiflow": _seed000_qiflow, "torch": _seed000_torch, "numpy": _seed000_numpy,
                     "compiled": _seed000_compiled},
                    inner=200, reps=7, quick_inner=40, quick_reps=3, warmup=5,
                    target={"qiflow/torch": 0.3, "compiled/numpy": 1.0},
                    flops=_flops.train_step(_flops.mlp((3, 4, 2), 1))))
    out.append(mlp_raw_case((784, 256, 10), 128, 0.1, "mlp256.raw", inner=40))
    out.append(mlp_raw_case((784, 10), 600, 0.13, "logreg", inner=20, salt=2, logreg=True))
    return out
