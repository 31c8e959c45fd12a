"""Seed 004: "miniflow: backward propagation" -- the Boston-housing network.

A 13-10-1 network (sigmoid hidden layer, linear output, MSE) trained on the
Boston housing data (506 x 13, features standardised) with minibatches of 11
drawn by resampling, the loss printed per epoch -- first with the MiniFlow API
rebuilt on qiflow (``examples/miniflow.py``: Input, Linear, Sigmoid, MSE,
Kahn's topological sort, forward_and_backward, sgd_update), then with
``qf.nn`` and ``qf.optim``, the same network in today's idiom.

The data comes from ``qf.datasets.boston()`` (the cache, else one download).
``--quick`` never downloads: without a cached copy it uses a synthetic
506 x 13 regression set of the same shape and says so.

    python examples/seed004_boston.py [--quick] [--epochs N]
"""
import _util

import numpy as np

import qiflow as qf
from qiflow import nn
from miniflow import Input, Linear, Sigmoid, MSE, topological_sort, forward_and_backward, sgd_update, resample


def load(args):
    try:
        X, y = qf.datasets.boston(download=not args.quick)
        print(f"Boston housing: X {X.shape}, y {y.shape}, features standardised "
              f"(mean {abs(float(X.mean())):.1e}, std {float(X.std()):.3f})")
        return X.astype(np.float64), y.astype(np.float64), "boston"
    except (FileNotFoundError, OSError) as exc:
        if not args.quick:
            raise
        print(f"(--quick: no cached Boston data ({str(exc).splitlines()[0][:80]}...); using a "
              "synthetic 506 x 13 regression set instead)")
        X, y = qf.datasets.make_regression(506, n_features=13, noise=1.0, seed=args.seed)
        X = (X - X.mean(0)) / X.std(0)
        y = 22.5 + 9.0 * (y - y.mean()) / y.std()        # Boston-like scale: mean 22.5, std 9
        return X.astype(np.float64), y.astype(np.float64), "synthetic"


def miniflow_run(X_, y_, epochs, rng):
    n_features, n_hidden = X_.shape[1], 10
    W1_ = rng.standard_normal((n_features, n_hidden))
    b1_ = np.zeros(n_hidden)
    W2_ = rng.standard_normal((n_hidden, 1))
    b2_ = np.zeros(1)
    X, y = Input(name="X"), Input(name="y")
    W1, b1, W2, b2 = Input(name="W1"), Input(name="b1"), Input(name="W2"), Input(name="b2")
    l1 = Linear(X, W1, b1, name="l1")
    s1 = Sigmoid(l1, name="s1")
    l2 = Linear(s1, W2, b2, name="l2")
    cost = MSE(y, l2, name="cost")
    graph = topological_sort({X: X_, y: y_, W1: W1_, b1: b1_, W2: W2_, b2: b2_})
    print("graph:", " -> ".join(n.name for n in graph))
    m, batch_size = X_.shape[0], 11
    steps = m // batch_size
    print(f"Total number of examples = {m}, {steps} steps of {batch_size} per epoch")
    losses = []
    for i in range(epochs):
        loss = 0.0
        for _ in range(steps):
            X_batch, y_batch = resample(rng, X_, y_, n_samples=batch_size)
            X.value, y.value = qf.tensor(X_batch), qf.tensor(y_batch)
            forward_and_backward(graph)
            sgd_update([W1, b1, W2, b2])
            loss += cost.value.item()
        losses.append(loss / steps)
        print(f"Epoch: {i + 1}, Loss: {losses[-1]:.3f}")
    return losses


def nn_run(X_, y_, epochs, rng, seed):
    qf.manual_seed(seed)
    net = nn.Sequential(nn.Linear(13, 10), nn.Sigmoid(), nn.Linear(10, 1))
    opt = qf.optim.SGD(net.parameters(), lr=1e-2)
    loss_fn = nn.MSELoss()
    X, y = qf.tensor(X_), qf.tensor(y_.reshape(-1, 1))
    steps = len(X_) // 11
    losses = []
    for i in range(epochs):
        total = 0.0
        for _ in range(steps):
            idx = rng.integers(0, len(X_), 11)
            loss = loss_fn(net(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        losses.append(total / steps)
        print(f"Epoch: {i + 1}, Loss: {losses[-1]:.3f}")
    return losses


def main(argv=None):
    p = _util.parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 10, --quick 5)")
    args = p.parse_args(argv)
    qf.set_default_dtype("float64")
    epochs = args.epochs or (5 if args.quick else 10)
    X_, y_, source = load(args)
    _util.section("MiniFlow on qiflow: 13-10-1, sigmoid, MSE, batches of 11 by resampling, lr 0.01")
    mf = miniflow_run(X_, y_, epochs, np.random.default_rng(args.seed))
    _util.section("the same network with qf.nn.Sequential, MSELoss and optim.SGD")
    modern = nn_run(X_, y_, epochs, np.random.default_rng(args.seed + 1), args.seed)
    _util.save_figure(args, lambda path: qf.viz.plots.history_figure(
        {"miniflow_loss": mf, "nn_loss": modern}, path=path, title=f"13-10-1 network on {source}"),
        "seed004_loss.png")
    return {"source": source, "miniflow": mf, "nn": modern}


if __name__ == "__main__":
    main()
