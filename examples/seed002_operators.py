"""Seed 002: "Operators" (PaddlePaddle, the NNDL book), through qiflow.

1. An operator is a forward and a backward function: a ``Logistic`` primitive
   written as a qiflow ``Op`` (NumPy forward, vjp made of qiflow operators),
   checked against finite differences; the article's ``add`` operator.
2. Operators with hand-written backward passes (Linear, Logistic, binary
   cross-entropy, as in the article) and the same two-layer network
   differentiated automatically: the gradients agree.
3. stop_gradient: a = 2.0 needs a gradient, b = 5.0 does not; c = a * b;
   after c.backward(): a.grad = 5, b.grad = None, c.grad = 1.
4. Three ways to a derivative: numerical (central differences, and why the
   step size is hard to choose), symbolic (``qiflow.sym`` when available) and
   automatic.
5. A layer that defines only its forward pass (a ``qf.nn.Module``) gets its
   backward pass automatically: the two-layer network trained with BCE.

    python examples/seed002_operators.py [--quick]
"""
import _util

import numpy as np

import qiflow as qf
from qiflow import nn


class Logistic(qf.Op):
    """sigma(x) = 1 / (1 + exp(-x)); its derivative sigma * (1 - sigma) reuses the output."""
    __slots__ = ()

    def forward(self, x):
        return 1.0 / (1.0 + np.exp(-x))

    def vjp(self, ctx, inputs, output, grad):
        return (grad * output * (1 - output),)


def logistic(x):
    return qf.apply(Logistic(), x)


# ---- operators with their backward written by hand (the article's classes) ----
class HandLinear:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x
        return x @ self.W + self.b

    def backward(self, grad):
        self.dW, self.db = self.x.T @ grad, grad.sum(axis=0)
        return grad @ self.W.T


class HandLogistic:
    def forward(self, x):
        self.y = 1.0 / (1.0 + np.exp(-x))
        return self.y

    def backward(self, grad):
        return grad * self.y * (1.0 - self.y)


class HandBCE:
    def forward(self, p, y):
        self.p, self.y, self.n = p, y, p.shape[0]
        return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).sum() / self.n)

    def backward(self):
        return -(self.y / self.p - (1 - self.y) / (1 - self.p)) / self.n


def make_moons(n, noise, rng):
    """Two interleaving half circles (the NNDL book's toy data), labels 0 and 1."""
    n0 = n // 2
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n - n0)
    X = np.concatenate([np.stack([np.cos(t0), np.sin(t0)], 1),
                        np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], 1)])
    X += noise * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n0), np.ones(n - n0)])
    return X, y.reshape(-1, 1)


class MLP_L2(nn.Module):
    """Forward only: Linear -> Logistic -> Linear -> Logistic; backward comes for free."""

    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        return logistic(self.fc2(logistic(self.fc1(x))))


def bce(p, y):
    return -(y * qf.log(p) + (1 - y) * qf.log(1 - p)).mean()


def operators():
    x = qf.tensor([[0.0, 1.0], [-1.0, -2.0]], dtype="float64", requires_grad=True)
    y = logistic(x)
    print(f"Logistic([[0, 1], [-1, -2]]) = {np.round(y.detach().numpy(), 6).tolist()}")
    print(f"same as qf.sigmoid: {bool(np.allclose(y.detach().numpy(), qf.sigmoid(x).detach().numpy()))}")
    ok = qf.gradcheck(lambda t: logistic(t), [x])
    print(f"gradcheck(Logistic) against central differences: {ok}")
    a = qf.tensor(1.5, requires_grad=True)
    b = qf.tensor(-0.5, requires_grad=True)
    z = qf.add(a, b)
    z.backward()
    print(f"add: forward {z.item()}, backward grads_x = {a.grad.item()}, grads_y = {b.grad.item()}")
    return ok


def hand_vs_auto(rng):
    X, y = make_moons(8, 0.1, rng)
    W1, b1 = rng.standard_normal((2, 5)), np.zeros((1, 5))
    W2, b2 = rng.standard_normal((5, 1)), np.zeros((1, 1))
    fc1, act1, fc2, act2, loss_op = HandLinear(W1, b1), HandLogistic(), HandLinear(W2, b2), \
        HandLogistic(), HandBCE()
    loss = loss_op.forward(act2.forward(fc2.forward(act1.forward(fc1.forward(X)))), y)
    fc1.backward(act1.backward(fc2.backward(act2.backward(loss_op.backward()))))
    params = [qf.tensor(v, requires_grad=True) for v in (W1, b1, W2, b2)]
    tW1, tb1, tW2, tb2 = params
    p = logistic(logistic(qf.tensor(X) @ tW1 + tb1) @ tW2 + tb2)
    auto = bce(p, qf.tensor(y))
    auto.backward()
    hand = [fc1.dW, fc1.db.reshape(1, -1), fc2.dW, fc2.db.reshape(1, -1)]
    diff = max(float(np.abs(h - t.grad.numpy()).max()) for h, t in zip(hand, params))
    print(f"BCE loss: hand-written {loss:.6f}, qiflow {auto.item():.6f}")
    print(f"gradients of W1, b1, W2, b2: hand-written backward vs autodiff, max |difference| = {diff:.2e}")
    return diff


def stop_gradient():
    a = qf.tensor(2.0, requires_grad=True)     # Paddle: stop_gradient=False
    b = qf.tensor(5.0)                         # Paddle: stop_gradient=True
    c = a * b
    c.retain_grad()
    c.backward()
    print(f"Tensor a's grad is: {a.grad.item()}")
    print(f"Tensor b's grad is: {b.grad}")
    print(f"Tensor c's grad is: {c.grad.item()}")
    x = qf.tensor(3.0, requires_grad=True)
    (g,) = qf.grad(x * qf.stop_gradient(x), x)
    print(f"d/dx [x * stop_gradient(x)] at 3 = {g.item()} (the stopped factor is a constant)")
    return a.grad.item(), b.grad, c.grad.item()


def derivatives():
    def f(t):
        return qf.sin(t) * qf.exp(t)
    x0 = 1.0
    exact = np.cos(x0) * np.exp(x0) + np.sin(x0) * np.exp(x0)
    x = qf.tensor(x0, dtype="float64", requires_grad=True)
    (auto,) = qf.grad(f(x), x)
    print(f"f(x) = sin(x) exp(x) at x = 1: exact f'(1) = {exact:.15f}")
    print(f"automatic:  {auto.item():.15f}  error {abs(auto.item() - exact):.1e}")
    print("numerical (central differences, float64):")
    best = (np.inf, None)
    for k in range(1, 14, 2):
        h = 10.0 ** -k
        (num,) = qf.numerical_grad(f, [x], eps=h)
        err = abs(float(num) - exact)
        best = min(best, (err, h))
        print(f"  h = 1e-{k:02d}: {float(num):.15f}  error {err:.1e}")
    print(f"best step 1e-{int(round(-np.log10(best[1]))):02d}: too large a step gives truncation error, "
          "too small a step gives rounding error")
    try:
        from qiflow import sym as T
    except ImportError:
        print("symbolic: qiflow.sym is not available in this build")
        return best[0], abs(auto.item() - exact)
    s = T.dscalar("x")
    gs = T.grad(T.sin(s) * T.exp(s), s)
    print(f"symbolic:   d/dx sin(x) exp(x) = {T.pp(gs)}")
    print(f"            evaluated at 1: {float(T.function([s], gs)(x0)):.15f}")
    return best[0], abs(auto.item() - exact)


def train_bce(args, rng):
    n = 300 if args.quick else 1000
    X, y = make_moons(n, 0.2, rng)
    cut = int(0.8 * n)
    Xtr, ytr, Xte, yte = (qf.tensor(a, dtype="float32") for a in (X[:cut], y[:cut], X[cut:], y[cut:]))
    qf.manual_seed(args.seed)
    model = MLP_L2(2, 5, 1)
    opt = qf.optim.SGD(model.parameters(), lr=1.0)
    epochs = 300 if args.quick else 2000
    losses = []
    for epoch in range(epochs):
        loss = bce(model(Xtr), ytr)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if (epoch + 1) % (epochs // 5) == 0:
            print(f"epoch {epoch + 1:5d}: BCE loss {losses[-1]:.4f}")
    with qf.no_grad():
        acc = float(((model(Xte).detach().numpy() > 0.5) == (yte.detach().numpy() > 0.5)).mean())
    print(f"test accuracy {acc:.3f} on {len(yte)} points")
    _util.save_figure(args, lambda p: qf.viz.plots.history_figure({"bce_loss": losses}, path=p),
                      "seed002_bce_loss.png")
    return losses, acc


def main(argv=None):
    args = _util.parser(__doc__.splitlines()[0]).parse_args(argv)
    rng = np.random.default_rng(args.seed)
    _util.section("1. operators: forward + backward")
    ok = operators()
    _util.section("2. hand-written backward vs automatic differentiation")
    diff = hand_vs_auto(rng)
    _util.section("3. stop_gradient")
    sg = stop_gradient()
    _util.section("4. numerical, symbolic and automatic derivatives")
    num_err, auto_err = derivatives()
    _util.section("5. two-layer network, binary cross-entropy, SGD")
    losses, acc = train_bce(args, rng)
    return {"gradcheck": ok, "hand_diff": diff, "stop_gradient": sg, "num_err": num_err,
            "auto_err": auto_err, "losses": losses, "accuracy": acc}


if __name__ == "__main__":
    main()
