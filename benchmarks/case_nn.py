"""Cases built on the library's layers: qiflow.nn + qiflow.optim against torch.nn + torch.optim,
and a hand-written NumPy network doing the same arithmetic.

Both models are built from their library's own layers (nothing re-implemented
here) and then given the same initial weights, drawn once in PyTorch's layout.
"""
import numpy as np

from _common import (EPOCH, rng, mnist_like, batches, torch, qf_compile, has_module,
                     np_softmax_xent, np_mlp_step)
from _harness import Case
import _flops


def _nn_ready(*names):
    if not (has_module("qiflow.nn") and has_module("qiflow.optim")):
        return False
    import qiflow as qf
    return all(hasattr(qf.nn, n) for n in names)


def _weights(shapes, salt):
    """One array per parameter, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like PyTorch's defaults."""
    g = rng(50 + salt)
    out, fan_in = [], None
    for s in shapes:
        if len(s) > 1:
            fan_in = int(np.prod(s[1:]))
        b = 1.0 / np.sqrt(fan_in)
        out.append(g.uniform(-b, b, size=s).astype(np.float32))
    return out


def _load_qf(model, arrays):
    params = list(model.parameters())
    assert [tuple(p.shape) for p in params] == [a.shape for a in arrays]
    for p, a in zip(params, arrays):
        p.data[...] = a


def _load_torch(th, model, arrays):
    params = list(model.parameters())
    assert [tuple(p.shape) for p in params] == [a.shape for a in arrays]
    with th.no_grad():
        for p, a in zip(params, arrays):
            p.copy_(th.from_numpy(a))


def _classifier_case(key, title, layers, batch, lr, inner, reps, salt, image=False, targets=None,
                     numpy_setup=None, note_extra="", flops=None):
    """A classifier trained with cross-entropy and plain SGD, one batch per step."""
    per_epoch = -(-EPOCH // batch)
    n_batches = max(inner, 4)

    def data():
        return mnist_like(batch * n_batches, salt, image=image)

    def q(quick):
        if not _nn_ready("Sequential", "CrossEntropyLoss", *{l[0] for l in layers}):
            return None
        import qiflow as qf
        model = qf.nn.Sequential(*[getattr(qf.nn, name)(*args) for name, *args in layers])
        _load_qf(model, _weights([tuple(p.shape) for p in model.parameters()], salt))
        loss_fn = qf.nn.CrossEntropyLoss()
        opt = qf.optim.SGD(model.parameters(), lr=lr)
        nxt = batches(*data(), batch)

        def step():
            xb, yb = nxt()
            loss = loss_fn(model(qf.as_tensor(xb)), qf.as_tensor(yb))
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        return step

    def t(quick):
        th = torch()
        if th is None:
            return None
        model = th.nn.Sequential(*[getattr(th.nn, name)(*args) for name, *args in layers])
        _load_torch(th, model, _weights([tuple(p.shape) for p in model.parameters()], salt))
        loss_fn = th.nn.CrossEntropyLoss()
        opt = th.optim.SGD(model.parameters(), lr=lr)
        x, y = data()
        nxt = batches(th.from_numpy(x), th.from_numpy(y), batch)

        def step():
            xb, yb = nxt()
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        return step

    def c(quick):
        comp = qf_compile()
        if comp is None or not _nn_ready("Sequential"):
            return None
        import qiflow as qf
        model = qf.nn.Sequential(*[getattr(qf.nn, name)(*args) for name, *args in layers])
        _load_qf(model, _weights([tuple(p.shape) for p in model.parameters()], salt))
        loss_fn = qf.nn.CrossEntropyLoss()
        opt = qf.optim.SGD(model.parameters(), lr=lr)
        nxt = batches(*data(), batch)

        @comp(strict=True)                 # a fallback to eager would be timed as "compiled"
        def train_step(xb, yb):
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        def step():
            xb, yb = nxt()
            return train_step(qf.as_tensor(xb), qf.as_tensor(yb))
        return step

    def n(quick):
        shapes = _torch_layout_shapes(layers)
        return numpy_setup(_weights(shapes, salt), data(), batch, lr)

    note = (f"epoch = median batch time x {per_epoch} batches of {batch} (50k images; "
            f"{inner} timed batches per rep){note_extra}")
    setups = {"qiflow": q, "torch": t, "compiled": c}
    if numpy_setup is not None:
        setups["numpy"] = n
    return Case(key, title, "s/epoch", per_epoch, setups, inner=inner, reps=reps,
                quick_inner=1, quick_reps=1 if image else 3, warmup=2,
                note=note, target=targets, flops=flops)


def _torch_layout_shapes(layers):
    shapes = []
    for name, *args in layers:
        if name == "Linear":
            shapes += [(args[1], args[0]), (args[1],)]
        elif name == "Conv2d":
            shapes += [(args[1], args[0], args[2], args[2]), (args[1],)]
    return shapes


# ----------------------------------------------------------- hand NumPy MLP
def numpy_mlp(arrays, data, batch, lr):
    """Hand-written MLP (ReLU hidden layers): weights kept as (in, out) for x @ W."""
    ws = [np.ascontiguousarray(a.T) if a.ndim == 2 else a.copy() for a in arrays]
    return np_mlp_step(ws, batches(*data, batch), lr)


# --------------------------------------------------------- hand NumPy LeNet
# Images are kept batch-innermost, (C, H, W, N): every strided window slice is
# then made of contiguous runs of N values, so im2col (one copy) and col2im
# (k*k slice adds) stream through memory.  Weights stay in PyTorch's layout,
# viewed as (O, C*k*k) matrices, and the fc layers compute W @ x column-wise.
def _im2col(x, k):
    """(C, H, W, N) -> (C*k*k, OH*OW*N)."""
    C, H, W, N = x.shape
    oh, ow = H - k + 1, W - k + 1
    sC, sH, sW, sN = x.strides
    v = np.lib.stride_tricks.as_strided(x, (C, k, k, oh, ow, N), (sC, sH, sW, sH, sW, sN),
                                        writeable=False)
    return v.reshape(C * k * k, oh * ow * N)


def _col2im(dcols, C, H, W, N, k):
    """Adjoint of _im2col: scatter-add (C*k*k, OH*OW*N) back onto (C, H, W, N)."""
    oh, ow = H - k + 1, W - k + 1
    d = dcols.reshape(C, k, k, oh, ow, N)
    out = np.zeros((C, H, W, N), dcols.dtype)
    for i in range(k):
        for j in range(k):
            out[:, i:i + oh, j:j + ow] += d[:, i, j]
    return out


def _pool2(x):
    """2x2 max-pool of (C, H, W, N); masks route the gradient to the first maximum."""
    C, H, W, N = x.shape
    r = x.reshape(C, H // 2, 2, W // 2, 2, N)
    q = [r[:, :, a, :, b] for a in (0, 1) for b in (0, 1)]
    p = np.maximum(np.maximum(q[0], q[1]), np.maximum(q[2], q[3]))
    masks, taken = [], np.zeros(p.shape, bool)
    for v in q:
        m = v == p
        m &= ~taken
        taken |= m
        masks.append(m)
    return p, masks


def _unpool2(dp, masks):
    C, ph, pw, N = dp.shape
    out = np.empty((C, ph, 2, pw, 2, N), dp.dtype)
    for (a, b), m in zip(((0, 0), (0, 1), (1, 0), (1, 1)), masks):
        np.multiply(dp, m, out=out[:, :, a, :, b])
    return out.reshape(C, 2 * ph, 2 * pw, N)


def numpy_lenet(arrays, data, batch, lr):
    P = [a.copy() for a in arrays]            # W1 b1 W2 b2 W3 b3 W4 b4, PyTorch layouts
    x_all, y_all = data
    nxt = batches(x_all, y_all, batch)

    def step():
        xb, yb = nxt()
        n = len(xb)
        W1, b1, W2, b2, W3, b3, W4, b4 = P
        x = np.ascontiguousarray(xb.transpose(1, 2, 3, 0))           # 1, 28, 28, n
        c1 = _im2col(x, 5)                                           # 25, 576n
        z1 = (W1.reshape(20, -1) @ c1).reshape(20, 24, 24, n)
        z1 += b1[:, None, None, None]
        p1, m1 = _pool2(z1)
        a1 = np.tanh(p1)                                             # 20, 12, 12, n
        c2 = _im2col(a1, 5)                                          # 500, 64n
        z2 = (W2.reshape(50, -1) @ c2).reshape(50, 8, 8, n)
        z2 += b2[:, None, None, None]
        p2, m2 = _pool2(z2)
        a2 = np.tanh(p2)                                             # 50, 4, 4, n
        f = a2.reshape(800, n)                                       # rows in PyTorch's (c, h, w) order
        h3 = np.tanh(W3 @ f + b3[:, None])                           # 500, n
        z4 = W4 @ h3 + b4[:, None]                                   # 10, n
        loss, d4 = np_softmax_xent(z4.T, yb)
        d4 = d4.T                                                    # 10, n
        dh3 = (W4.T @ d4) * (1 - h3 * h3)
        df = W3.T @ dh3
        grads = [None, None, None, None, dh3 @ f.T, dh3.sum(1), d4 @ h3.T, d4.sum(1)]
        dz2 = _unpool2(df.reshape(50, 4, 4, n) * (1 - a2 * a2), m2).reshape(50, -1)
        grads[2], grads[3] = (dz2 @ c2.T).reshape(W2.shape), dz2.sum(1)
        da1 = _col2im(W2.reshape(50, -1).T @ dz2, 20, 12, 12, n, 5)
        dz1 = _unpool2(da1 * (1 - a1 * a1), m1).reshape(20, -1)
        grads[0], grads[1] = (dz1 @ c1.T).reshape(W1.shape), dz1.sum(1)
        for p, g in zip(P, grads):
            p -= lr * g
        return loss
    return step


# ---------------------------------------------------------------- LSTM
_T, _N, _I, _H = 35, 20, 200, 200      # the "small" PTB configuration: 35 steps, batch 20


def _lstm_arrays():
    g = rng(70)
    b = 1.0 / np.sqrt(_H)
    w = [g.uniform(-b, b, size=s).astype(np.float32)
         for s in ((4 * _H, _I), (4 * _H, _H), (4 * _H,), (4 * _H,))]
    x = g.standard_normal((_T, _N, _I)).astype(np.float32)
    y = g.standard_normal((_T, _N, _H)).astype(np.float32) * 0.1
    return w, x, y


_LR_LSTM = 0.5


def _lstm_qiflow(quick):
    if not _nn_ready("LSTM"):
        return None
    import qiflow as qf
    w, x, y = _lstm_arrays()
    lstm = qf.nn.LSTM(_I, _H)
    _load_qf(lstm, w)
    opt = qf.optim.SGD(lstm.parameters(), lr=_LR_LSTM)
    xt, yt = qf.as_tensor(x), qf.as_tensor(y)

    def step():
        out, _ = lstm(xt)
        loss = ((out - yt) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def _lstm_compiled(quick):
    comp = qf_compile()
    if comp is None or not _nn_ready("LSTM"):
        return None
    import qiflow as qf
    w, x, y = _lstm_arrays()
    lstm = qf.nn.LSTM(_I, _H)
    _load_qf(lstm, w)
    opt = qf.optim.SGD(lstm.parameters(), lr=_LR_LSTM)

    @comp(strict=True)
    def train_step(xt, yt):
        out, _ = lstm(xt)
        loss = ((out - yt) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    xt, yt = qf.as_tensor(x), qf.as_tensor(y)
    return lambda: train_step(xt, yt)


def _lstm_torch(quick):
    th = torch()
    if th is None:
        return None
    w, x, y = _lstm_arrays()
    lstm = th.nn.LSTM(_I, _H)
    _load_torch(th, lstm, w)
    opt = th.optim.SGD(lstm.parameters(), lr=_LR_LSTM)
    xt, yt = th.from_numpy(x), th.from_numpy(y)

    def step():
        out, _ = lstm(xt)
        loss = ((out - yt) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def _sig(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _lstm_numpy(quick):
    w, x, y = _lstm_arrays()
    Wih, Whh, bih, bhh = [a.copy() for a in w]
    H = _H

    def step():
        WihT, WhhT = Wih.T, Whh.T
        xw = (x.reshape(-1, _I) @ WihT).reshape(_T, _N, 4 * H)
        xw += bih + bhh
        h = np.zeros((_N, H), np.float32)
        c = np.zeros((_N, H), np.float32)
        hs, cs, gs = [h], [c], []
        for t in range(_T):
            z = xw[t] + h @ WhhT
            i, f, o = _sig(z[:, :H]), _sig(z[:, H:2 * H]), _sig(z[:, 3 * H:])
            gg = np.tanh(z[:, 2 * H:3 * H])
            c = f * c + i * gg
            tc = np.tanh(c)
            h = o * tc
            hs.append(h)
            cs.append(c)
            gs.append((i, f, gg, o, tc))
        out = np.stack(hs[1:])
        diff = out - y
        loss = (diff * diff).mean()
        dout = diff * (2.0 / diff.size)
        dz_all = np.empty((_T, _N, 4 * H), np.float32)
        dh = np.zeros((_N, H), np.float32)
        dc = np.zeros((_N, H), np.float32)
        for t in reversed(range(_T)):
            i, f, gg, o, tc = gs[t]
            dh = dh + dout[t]
            dc = dc + dh * o * (1 - tc * tc)
            dz = dz_all[t]
            dz[:, :H] = dc * gg * i * (1 - i)
            dz[:, H:2 * H] = dc * cs[t] * f * (1 - f)
            dz[:, 2 * H:3 * H] = dc * i * (1 - gg * gg)
            dz[:, 3 * H:] = dh * tc * o * (1 - o)
            dc = dc * f
            dh = dz @ Whh
        hprev = np.stack(hs[:-1]).reshape(-1, H)
        dzf = dz_all.reshape(-1, 4 * H)
        gWih = dzf.T @ x.reshape(-1, _I)
        gWhh = dzf.T @ hprev
        gb = dzf.sum(0)
        Wih[...] -= _LR_LSTM * gWih
        Whh[...] -= _LR_LSTM * gWhh
        bih[...] -= _LR_LSTM * gb
        bhh[...] -= _LR_LSTM * gb
        return loss
    return step


def cases():
    mlp256 = [("Linear", 784, 256), ("ReLU",), ("Linear", 256, 10)]
    mlp500 = [("Linear", 784, 500), ("ReLU",), ("Linear", 500, 10)]
    lenet = [("Conv2d", 1, 20, 5), ("MaxPool2d", 2), ("Tanh",), ("Conv2d", 20, 50, 5),
             ("MaxPool2d", 2), ("Tanh",), ("Flatten",), ("Linear", 800, 500), ("Tanh",),
             ("Linear", 500, 10)]
    return [
        _classifier_case("mlp256", "MLP 784-256-10 ReLU, nn.Linear + CrossEntropyLoss + optim.SGD, "
                         "batch 128", mlp256, 128, 0.1, inner=40, reps=5, salt=3,
                         targets={"qiflow/torch": 0.85, "compiled/torch": 0.7},
                         numpy_setup=numpy_mlp,
                         flops=_flops.train_step(_flops.mlp((784, 256, 10), 128))),
        _classifier_case("mlp500", "MLP 784-500-10 ReLU, nn layers, batch 20", mlp500, 20, 0.1,
                         inner=100, reps=5, salt=4,
                         targets={"qiflow/torch": 0.85, "compiled/torch": 0.6},
                         numpy_setup=numpy_mlp,
                         flops=_flops.train_step(_flops.mlp((784, 500, 10), 20))),
        _classifier_case("lenet5", "LeNet-5 (conv20-pool-tanh, conv50-pool-tanh, fc500 tanh, fc10), "
                         "batch 500", lenet, 500, 0.1, inner=2, reps=3, salt=5, image=True,
                         targets={"qiflow/torch": 0.95, "compiled/torch": 0.65},
                         numpy_setup=numpy_lenet, flops=_flops.train_step(_flops.lenet5(500))),
        Case("lstm35", f"LSTM {_I}->{_H} over {_T} steps, batch {_N}, MSE, SGD step", "ms/step", 1e3,
             {"qiflow": _lstm_qiflow, "torch": _lstm_torch, "numpy": _lstm_numpy,
              "compiled": _lstm_compiled},
             inner=5, reps=5, quick_inner=1, quick_reps=2, warmup=2,
             flops=_flops.train_step(_flops.lstm(_T, _N, _I, _H))),
    ]
