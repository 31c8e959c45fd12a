"""The worked examples of seeds 000, 001 and 002 (see shared/seeds/README.md),
reproduced through qiflow's eager API."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import losses as L

# ------------------------------------------------------------------ seed 001


def test_001_scalar_chain_gradients_accumulate():
    a = qf.tensor(2.0, requires_grad=True)
    b = qf.tensor(3.0, requires_grad=True)
    x = a * b
    x.retain_grad()
    z = x + x                     # x used twice: its gradients add up (the article's +=)
    z.backward()
    assert a.grad.item() == 6.0
    assert b.grad.item() == 4.0
    assert x.grad.item() == 2.0
    assert z.item() == 12.0


X001 = np.array([[1, 2, 3], [2, 3, 7], [5, 3, 1]], dtype=np.float32)
Y001 = (X001[:, 0] + 2 * X001[:, 1] + 4 * X001[:, 2])[:, None]     # [[17], [36], [15]]


class _Linear:
    """The article's Linear, from tensors: out = x @ w + b."""

    def __init__(self, n_in, n_out):
        self.w = qf.rand(n_in, n_out, requires_grad=True)
        self.b = qf.rand(n_out, requires_grad=True)

    def __call__(self, x):
        return x @ self.w + self.b

    def parameters(self):
        return [self.w, self.b]


def _sgd(params, lr):
    with qf.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None


def test_001_linear_regression_loss_falls_epoch_by_epoch():
    assert Y001.ravel().tolist() == [17.0, 36.0, 15.0]
    qf.manual_seed(0)
    net = _Linear(3, 1)
    X, Y = qf.tensor(X001), qf.tensor(Y001)

    def squared_loss(y_hat, y):
        return (0.5 * (y_hat - y) ** 2).sum()

    def epoch_loss():
        with qf.no_grad():
            return (0.5 * (net(X) - Y) ** 2).mean().item()

    history = [epoch_loss()]
    for _ in range(3):                        # the article: lr 0.03, 3 epochs, one sample at a time
        for i in range(3):
            squared_loss(net(X[i:i + 1]), Y[i:i + 1]).backward()
            _sgd(net.parameters(), 0.03)
        history.append(epoch_loss())
    assert all(b < a for a, b in zip(history, history[1:])), history
    assert history[-1] < 0.01 * history[0]
    assert net.w.dtype == np.float32 and net.w.is_leaf and net.w.requires_grad


def test_001_full_batch_regression_with_mse_falls_every_epoch():
    qf.manual_seed(1)
    net = _Linear(3, 1)
    X, Y = qf.tensor(X001), qf.tensor(Y001)
    history = []
    for _ in range(60):
        loss = L.mse_loss(net(X), Y)
        history.append(loss.item())
        loss.backward()
        _sgd(net.parameters(), 0.01)
    assert all(b < a for a, b in zip(history, history[1:]))
    assert history[-1] < 0.05 * history[0]


# ------------------------------------------------------------------ seed 002


def test_002_stop_gradient():
    a = qf.tensor(2.0, requires_grad=True)      # Paddle: stop_gradient=False
    b = qf.tensor(5.0)                          # Paddle: stop_gradient=True
    c = a * b
    c.retain_grad()
    c.backward()
    assert a.grad.item() == 5.0
    assert b.grad is None
    assert c.grad.item() == 1.0
    # the same through qf.stop_gradient on a tensor that does require grad
    a2, b2 = qf.tensor(2.0, requires_grad=True), qf.tensor(5.0, requires_grad=True)
    c2 = a2 * qf.functional.stop_gradient(b2)
    c2.backward()
    assert a2.grad.item() == 5.0 and b2.grad is None


def _central(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


@pytest.mark.parametrize("name,fn,np_fn", [
    ("square", lambda t: (t ** 2).sum(), lambda v: (v ** 2).sum()),
    ("logistic", lambda t: (1.0 / (1.0 + qf.exp(-t))).sum(), lambda v: (1 / (1 + np.exp(-v))).sum()),
    ("mixed", lambda t: (qf.sin(t) * qf.exp(t / 3) + t ** 3).prod(),
     lambda v: (np.sin(v) * np.exp(v / 3) + v ** 3).prod()),
])
def test_002_numerical_vs_automatic_derivative(name, fn, np_fn):
    x0 = np.array([0.4, -1.3, 0.9])
    x = qf.tensor(x0, requires_grad=True)
    fn(x).backward()
    np.testing.assert_allclose(x.grad.numpy(), _central(np_fn, x0), rtol=1e-6, atol=1e-8)
    (num,) = qf.numerical_grad(fn, [x])
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-6, atol=1e-8)


def test_002_operator_mlp_hand_backward_equals_automatic():
    rng = np.random.default_rng(2)
    N, D, H = 5, 3, 4
    Xn = rng.standard_normal((N, D))
    yn = (rng.random((N, 1)) > 0.5).astype(np.float64)
    W1, b1 = rng.standard_normal((D, H)), np.zeros((1, H))
    W2, b2 = rng.standard_normal((H, 1)), np.zeros((1, 1))
    # forward and the article's hand-written operator backward passes
    z1 = Xn @ W1 + b1
    a1 = 1 / (1 + np.exp(-z1))
    z2 = a1 @ W2 + b2
    a2 = 1 / (1 + np.exp(-z2))
    loss = -1.0 / N * (yn.T @ np.log(a2) + (1 - yn.T) @ np.log(1 - a2)).item()
    g = -1.0 * (yn / a2 - (1 - yn) / (1 - a2)) / N          # BinaryCrossEntropyLoss.backward
    g = g * a2 * (1 - a2)                                   # Logistic.backward
    gW2, gb2 = a1.T @ g, g.sum(0)                           # Linear.backward
    g = g @ W2.T
    g = g * a1 * (1 - a1)
    gW1, gb1 = Xn.T @ g, g.sum(0)
    # qiflow: the same forward pass only
    P = [qf.tensor(p, requires_grad=True) for p in (W1, b1, W2, b2)]
    out = qf.sigmoid(qf.sigmoid(qf.tensor(Xn) @ P[0] + P[1]) @ P[2] + P[3])
    qloss = L.binary_cross_entropy(out, qf.tensor(yn))
    assert qloss.item() == pytest.approx(loss, rel=1e-12)
    qloss.backward()
    for p, want in zip(P, (gW1, gb1, gW2, gb2)):
        np.testing.assert_allclose(p.grad.numpy().reshape(want.shape), want, rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------------ seed 000

W1_0 = np.array([[0.1, 0.2, 0.3, 0.4],
                 [0.5, 0.6, 0.7, 0.8],
                 [0.9, 1.0, 1.1, 1.2]])
W2_0 = np.array([[1.3, 1.4],
                 [1.5, 1.6],
                 [1.7, 1.8],
                 [1.9, 2.0]])
B1_0 = np.array([-2.0, -6.0, -1.0, -7.0])
B2_0 = np.array([-2.5, -5.0])
X000 = np.array([1.0, 2.0, 3.0])
Y000 = np.array([-0.85, 0.72])


def _hand_step(w1, b1, w2, b2):
    """The article's forward and hand-derived backward pass ("grad" points downhill)."""
    o1 = np.dot(X000, w1) + b1
    os1 = np.power(1 + np.exp(o1 * -1), -1)
    o2 = np.dot(os1, w2) + b2
    os2 = np.tanh(o2)
    grad_os2 = (Y000 - os2) * (1 - np.power(os2, 2))
    grad_os1 = np.dot(w2, grad_os2.T).T * (1 - os1) * os1
    grads = (np.outer(X000, grad_os1), grad_os1, np.outer(os1, grad_os2), grad_os2)
    return os2, grads


def _qf_step(params):
    os1 = qf.sigmoid(qf.tensor(X000) @ params[0] + params[1])
    os2 = qf.tanh(os1 @ params[2] + params[3])
    loss = L.mse_loss(os2, qf.tensor(Y000))     # mean over the 2 outputs = 0.5 * sum of squares
    loss.backward()
    return os2, loss


def test_000_hand_derived_backward_equals_automatic():
    params = [qf.tensor(p, requires_grad=True) for p in (W1_0, B1_0, W2_0, B2_0)]
    assert sum(p.numel() for p in params) == 26
    os2, _ = _qf_step(params)
    hand_out, hand = _hand_step(W1_0, B1_0, W2_0, B2_0)
    np.testing.assert_allclose(os2.detach().numpy(), hand_out, rtol=1e-12)
    np.testing.assert_allclose(os2.detach().numpy(), [0.72, -0.88], atol=0.01)   # the article's first output
    for p, h in zip(params, hand):
        np.testing.assert_allclose(p.grad.numpy(), -h, rtol=1e-12, atol=1e-15)


def test_000_training_follows_the_hand_written_updates_towards_y():
    alpha = 0.1
    hand = [W1_0.copy(), B1_0.copy(), W2_0.copy(), B2_0.copy()]
    params = [qf.tensor(p, requires_grad=True) for p in hand]
    losses = []
    for _ in range(200):
        _, grads = _hand_step(*hand)
        hand = [p + alpha * g for p, g in zip(hand, grads)]
        _, loss = _qf_step(params)
        losses.append(loss.item())
        _sgd(params, alpha)
    for p, h in zip(params, hand):
        np.testing.assert_allclose(p.detach().numpy(), h, rtol=1e-10, atol=1e-12)
    assert losses[-1] < 0.1 * losses[0]
    final, _ = _hand_step(*hand)
    assert np.abs(final - Y000).max() < np.abs(np.array([0.72, -0.88]) - Y000).max() / 3
