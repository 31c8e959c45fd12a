"""qf.compile / qf.jit: traced eager code equals eager execution; the MiniFlow
network of seed 000 written with T."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import sym as T
from qiflow.trace import compile as qcompile, jit

W1_0 = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2]])
W2_0 = np.array([[1.3, 1.4], [1.5, 1.6], [1.7, 1.8], [1.9, 2.0]])
B1_0 = np.array([-2.0, -6.0, -1.0, -7.0])
B2_0 = np.array([-2.5, -5.0])
X000 = np.array([1.0, 2.0, 3.0])
Y000 = np.array([-0.85, 0.72])


def _hand_step(w1, b1, w2, b2):
    """Seed 000's forward and hand-derived backward ("grad" points downhill)."""
    os1 = 1 / (1 + np.exp(-(X000 @ w1 + b1)))
    os2 = np.tanh(os1 @ w2 + b2)
    g2 = (Y000 - os2) * (1 - os2 ** 2)
    g1 = (w2 @ g2) * (1 - os1) * os1
    return os2, (np.outer(X000, g1), g1, np.outer(os1, g2), g2)


@pytest.mark.parametrize("mode", [None, "no_rewrites"])
def test_miniflow_342_network_with_T(mode):
    params = [T.shared(p, name=n) for p, n in zip((W1_0, B1_0, W2_0, B2_0), ("W1", "b1", "W2", "b2"))]
    W1, b1, W2, b2 = params
    x, y = T.dvector("x"), T.dvector("y")
    os1 = T.nnet.sigmoid(T.dot(x, W1) + b1)
    os2 = T.tanh(T.dot(os1, W2) + b2)
    cost = T.mean((os2 - y) ** 2)
    grads = T.grad(cost, params)
    assert sum(p.get_value().size for p in params) == 26
    first = T.function([x], os2, mode=mode)(X000)
    np.testing.assert_allclose(first, [0.72, -0.88], atol=0.01)    # the article's first output
    g = T.function([x, y], grads, mode=mode)(X000, Y000)
    _, hand = _hand_step(W1_0, B1_0, W2_0, B2_0)
    for a, h in zip(g, hand):
        np.testing.assert_allclose(a, -h, rtol=1e-12, atol=1e-15)
    train = T.function([x, y], cost, updates=[(p, p - 0.1 * gp) for p, gp in zip(params, grads)],
                       mode=mode)
    hw = [W1_0, B1_0, W2_0, B2_0]
    losses = []
    for _ in range(200):
        _, hg = _hand_step(*hw)
        hw = [p + 0.1 * d for p, d in zip(hw, hg)]
        losses.append(float(train(X000, Y000)))
    for p, h in zip(params, hw):
        np.testing.assert_allclose(p.get_value(), h, rtol=1e-10, atol=1e-12)
    assert losses[-1] < 0.1 * losses[0]


def _seed000(kind, update):
    params = [qf.tensor(p.astype(np.float32), requires_grad=True) for p in (W1_0, B1_0, W2_0, B2_0)]
    W1, b1, W2, b2 = params
    if update == "manual":
        def step_update():
            with qf.no_grad():
                for p in params:
                    p -= 0.1 * p.grad
                    p.grad = None
    elif update == "momentum":
        vel = [qf.zeros(p.shape) for p in params]

        def step_update():
            with qf.no_grad():
                for p, v in zip(params, vel):
                    v.mul_(0.9).add_(p.grad)
                    p.sub_(v, alpha=0.1)
            for p in params:
                p.grad = None
    else:
        opt = getattr(qf.optim, update)(params, lr=0.05)

        def step_update():
            opt.step()
            opt.zero_grad()

    def train_step(x, y):
        h = qf.sigmoid(x @ W1 + b1)
        out = qf.tanh(h @ W2 + b2)
        loss = ((out - y) ** 2).mean()
        loss.backward()
        step_update()
        return loss
    fn = qcompile(train_step, strict=True) if kind == "compiled" else train_step
    return fn, params


@pytest.mark.parametrize("update", ["manual", "momentum", "SGD", "Adam"])
def test_compiled_training_step_equals_eager(update):
    fe, pe = _seed000("eager", update)
    fc, pc = _seed000("compiled", update)
    x = qf.tensor(X000[None].astype(np.float32))
    y = qf.tensor(Y000[None].astype(np.float32))
    for _ in range(6):
        le, lc = fe(x, y), fc(x, y)
        assert isinstance(lc, qf.Tensor) and lc.dtype == np.float32
        np.testing.assert_allclose(lc.item(), le.item(), rtol=1e-6)
    for a, b in zip(pe, pc):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-7)
        assert b.grad is None and a.grad is None
    assert fc.traces == 1


def test_retrace_on_new_signature_and_changed_capture():
    w = qf.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)

    @jit
    def f(x):
        return qf.tanh(x @ w)
    for n in (1, 4, 1):
        x = qf.tensor(np.ones((n, 3)))
        np.testing.assert_allclose(f(x).detach().numpy(), np.tanh(x.detach().numpy() @ w.detach().numpy()))
    assert f.traces == 2
    with qf.no_grad():
        w *= 0.5          # an eager update: the compiled function reads the current value
    x = qf.tensor(np.ones((1, 3)))
    np.testing.assert_allclose(f(x).detach().numpy(), np.tanh(x.detach().numpy() @ w.detach().numpy()))
    assert f.traces == 2
    w.data = np.ones((3, 5))          # a new shape: never run the stale graph
    np.testing.assert_allclose(f(x).detach().numpy(), np.tanh(x.detach().numpy() @ w.detach().numpy()))
    assert f.traces == 3
    np.testing.assert_allclose(f(x.detach().numpy().astype(np.float32)).detach().numpy(),
                               np.tanh(x.detach().numpy().astype(np.float32) @ w.detach().numpy()))
    assert f.traces == 4


def test_structures_and_python_values():
    @qcompile
    def f(x, scale, flag=True):
        return {"a": x * scale, "b": (x + 1, "tag")}
    out = f(qf.tensor([1.0, 2.0]), 3.0)
    np.testing.assert_allclose(out["a"].detach().numpy(), [3.0, 6.0])
    np.testing.assert_allclose(out["b"][0].detach().numpy(), [2.0, 3.0])
    assert out["b"][1] == "tag"
    np.testing.assert_allclose(f(qf.tensor([1.0, 2.0]), 4.0)["a"].detach().numpy(), [4.0, 8.0])
    assert f.traces == 2


def test_model_and_loss_with_nn():
    qf.manual_seed(0)
    model = qf.nn.Sequential(qf.nn.Linear(4, 8), qf.nn.ReLU(), qf.nn.Linear(8, 3))
    ref = qf.nn.Sequential(qf.nn.Linear(4, 8), qf.nn.ReLU(), qf.nn.Linear(8, 3))
    for a, b in zip(ref.parameters(), model.parameters()):
        a.data[...] = b.detach().numpy()
    loss_fn = qf.nn.CrossEntropyLoss()
    opt = qf.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt_ref = qf.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)

    def step(m, o, xb, yb):
        loss = loss_fn(m(xb), yb)
        o.zero_grad()
        loss.backward()
        o.step()
        return loss
    cstep = qcompile(lambda xb, yb: step(model, opt, xb, yb), strict=True)
    rng = np.random.default_rng(0)
    for _ in range(4):
        xb = qf.tensor(rng.standard_normal((5, 4)).astype(np.float32))
        yb = qf.tensor(rng.integers(0, 3, 5))
        np.testing.assert_allclose(cstep(xb, yb).item(), step(ref, opt_ref, xb, yb).item(), rtol=1e-5)
    for a, b in zip(ref.parameters(), model.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_untraceable_code_falls_back_to_eager():
    w = qf.tensor([1.0, -1.0])

    def f(x):
        y = x * w
        if y.sum().item() > 0:        # Python control flow on a value
            return y
        return -y
    c = qcompile(f)
    with pytest.warns(UserWarning, match="running it eagerly"):
        out = c(qf.tensor([2.0, 1.0]))
    np.testing.assert_allclose(out.detach().numpy(), [2.0, -1.0])
    with pytest.raises(TypeError):
        qcompile(f, strict=True)(qf.tensor([2.0, 1.0]))


def test_random_numbers_inside_fall_back():
    def f(x):
        return qf.nn.functional.dropout(x, 0.5)
    c = qcompile(f)
    with pytest.warns(UserWarning, match="random numbers"):
        a = c(qf.ones(100))
    b = c(qf.ones(100))
    assert not np.array_equal(a.detach().numpy(), b.detach().numpy())      # a fresh mask each call, as eagerly


def test_backward_outside_compile_is_an_error():
    x = T.dscalar("x")
    with pytest.raises(RuntimeError, match="T.grad"):
        (x * 2).backward()


def test_qf_names():
    assert qf.compile is qcompile and qf.jit is jit


def test_batch_norm_eval_and_training_both_compile():
    def make():
        qf.manual_seed(0)
        return qf.nn.Sequential(qf.nn.Linear(3, 4), qf.nn.BatchNorm1d(4))
    model, ref = make(), make()
    x = qf.tensor(np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32))
    model.eval()
    ref.eval()
    f = qcompile(lambda t: model(t), strict=True)
    np.testing.assert_allclose(f(x).detach().numpy(), ref(x).detach().numpy(), rtol=1e-6)
    model.train()
    ref.train()
    # training mode updates the running statistics in place: traced as updates
    g = qcompile(lambda t: model(t), strict=True)
    for k in range(3):
        xk = x * (k + 1.0)
        np.testing.assert_allclose(g(xk).detach().numpy(), ref(xk).detach().numpy(), rtol=1e-5, atol=1e-6)
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            np.testing.assert_allclose(getattr(model[1], name).detach().numpy(), getattr(ref[1], name).detach().numpy(),
                                       rtol=1e-6, err_msg=name)
    assert g.traces == 1


def test_method_decorator():
    class Net:
        def __init__(self):
            self.w = qf.tensor([2.0, 3.0], requires_grad=True)

        @qf.jit
        def forward(self, x):
            return (x * self.w).sum()
    a, b = Net(), Net()
    b.w = qf.tensor([1.0, 1.0], requires_grad=True)
    assert a.forward(qf.tensor([1.0, 1.0])).item() == 5.0
    assert b.forward(qf.tensor([1.0, 1.0])).item() == 2.0
