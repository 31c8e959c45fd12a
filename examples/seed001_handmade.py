"""Seed 001: "Writing a deep-learning framework by hand", through qiflow.

1. scalar autograd: a = 2, b = 3, x = a * b, z = x + x gives a.grad = 6,
   b.grad = 4, x.grad = 2, and why gradients accumulate with += (the chain
   rule explained node by node by ``qf.viz.explain``);
2. linear regression on X = [[1,2,3],[2,3,7],[5,3,1]], Y = x0 + 2 x1 + 4 x2
   with a ``Linear`` layer, the squared loss and SGD, one sample at a time:
   the loss falls epoch by epoch;
3. the MLP (3 -> 2 -> 1 with ReLU) on the same data;
4. MNIST read from the original IDX files and trained on.  ``--quick`` (and
   a machine without the data) writes a small *synthetic* MNIST-shaped set in
   IDX format first and reads that, so no network is needed.

    python examples/seed001_handmade.py [--quick] [--mnist DIR]
"""
import _util

import os
import struct
import tempfile

import numpy as np

import qiflow as qf
from qiflow import nn

X_ROWS = [[1.0, 2.0, 3.0], [2.0, 3.0, 7.0], [5.0, 3.0, 1.0]]


def scalar_autograd():
    a = qf.tensor(2.0, requires_grad=True)
    b = qf.tensor(3.0, requires_grad=True)
    x = a * b
    z = x + x                   # x is used twice: its gradient is the sum of both uses
    x.retain_grad()
    print(qf.viz.explain(z, names={"a": a, "b": b, "x": x, "z": z}).text())
    z.backward()
    print(f"a.grad, b.grad, x.grad = {a.grad.item()}, {b.grad.item()}, {x.grad.item()}")
    return a.grad.item(), b.grad.item(), x.grad.item()


def squared_loss(y_hat, y):
    return 0.5 * ((y_hat - y) ** 2).sum()


def fit_rows(net, X, Y, lr, epochs):
    """The article's loop: one SGD step per sample, then the mean loss over the data."""
    opt = qf.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        for i in range(len(X)):
            loss = squared_loss(net(X[i:i + 1]), Y[i:i + 1])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with qf.no_grad():
            losses.append(squared_loss(net(X), Y).item() / len(X))
        print(f"epoch{epoch + 1}, loss {losses[-1]:f}")
    return losses


def write_idx(path, array):
    """Write an ndarray of uint8 in the IDX format (the inverse of qf.datasets.read_idx)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, array.ndim]))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.tobytes())


def synthetic_idx_folder(folder, n_train, n_test, seed):
    images, labels = qf.datasets.make_images(n_train + n_test, seed=seed)
    write_idx(os.path.join(folder, "train-images-idx3-ubyte"), images[:n_train])
    write_idx(os.path.join(folder, "train-labels-idx1-ubyte"), labels[:n_train])
    write_idx(os.path.join(folder, "t10k-images-idx3-ubyte"), images[n_train:])
    write_idx(os.path.join(folder, "t10k-labels-idx1-ubyte"), labels[n_train:])
    return folder


def mnist_from_idx(args):
    """Train a softmax classifier on MNIST read from IDX files; returns test accuracy."""
    tmp = None
    folder = args.mnist
    if folder is None and args.quick:
        tmp = tempfile.TemporaryDirectory()
        folder = synthetic_idx_folder(tmp.name, 2000, 500, args.seed)
        print(f"(--quick: a synthetic MNIST-shaped set, 2000 + 500 images, written as IDX files to "
              f"{folder})")
    if folder is None:
        print("source: qf.datasets.mnist() (the cache, else one download); pass --mnist DIR to "
              "read the original IDX files")
    else:
        idx = os.path.join(folder, "train-labels-idx1-ubyte")
        if os.path.isfile(idx):
            print(f"read_idx({os.path.basename(idx)}): first labels "
                  f"{qf.datasets.read_idx(idx)[:10].tolist()}")
    train, _, test = qf.datasets.mnist(path=folder, valid=False)
    (Xtr, ytr), (Xte, yte) = train.arrays, test.arrays
    if args.quick and args.mnist is not None:
        Xtr, ytr, Xte, yte = Xtr[:5000], ytr[:5000], Xte[:1000], yte[:1000]
    print(f"train {Xtr.shape}, test {Xte.shape}")
    net = nn.Linear(784, 10)
    opt = qf.optim.SGD(net.parameters(), lr=0.5)
    loss_fn = nn.CrossEntropyLoss()
    loader = qf.data.DataLoader(qf.data.TensorDataset(Xtr, ytr), batch_size=100, shuffle=True)
    epochs = 2 if args.quick else 5
    for epoch in range(epochs):
        total = 0.0
        for xb, yb in loader:
            loss = loss_fn(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
        with qf.no_grad():
            pred = net(qf.tensor(Xte)).argmax(axis=1).detach().numpy()
        acc = float((pred == yte).mean())
        print(f"epoch{epoch + 1}, train loss {total / len(ytr):f}, test accuracy {acc:.4f}")
    _util.save_figure(args, lambda p: qf.viz.plots.misclassified_grid(
        Xte, yte, pred, n=20, path=p, title="misclassified: label \u2192 prediction"),
        "seed001_misclassified.png")
    if tmp is not None:
        tmp.cleanup()
    return acc


def main(argv=None):
    p = _util.parser(__doc__.splitlines()[0])
    p.add_argument("--mnist", default=None, help="folder with the four MNIST IDX files")
    args = p.parse_args(argv)
    qf.manual_seed(args.seed)

    _util.section("1. scalar autograd")
    grads = scalar_autograd()

    _util.section("2. linear regression: Linear(3, 1), squared loss, SGD lr 0.03")
    X = qf.tensor(X_ROWS)
    Y = (X[:, 0] + 2 * X[:, 1] + 4 * X[:, 2]).reshape(3, 1)
    print(f"Y = {Y.detach().numpy().ravel().tolist()}")
    net = nn.Linear(3, 1)
    lin = fit_rows(net, X, Y, lr=0.03, epochs=3 if args.quick else 10)
    print(f"net(X[0]) = {net(X[:1]).item():.4f}, Y[0] = {Y[0].item()}")

    _util.section("3. MLP(3, [2, 1]) with ReLU, SGD lr 0.001")
    qf.manual_seed(args.seed)
    mlp = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    mlp_losses = fit_rows(mlp, X, Y, lr=0.001, epochs=10)
    print(f"mlp(X[0]) = {mlp(X[:1]).item():.4f}, Y[0] = {Y[0].item()}")

    _util.section("4. MNIST from IDX files: Linear(784, 10), cross-entropy, SGD")
    try:
        acc = mnist_from_idx(args)
    except qf.datasets.DataNotFoundError as exc:
        print(f"MNIST not available: {exc}\n(run with --quick for the synthetic IDX set)")
        acc = None
    return {"grads": grads, "linear": lin, "mlp": mlp_losses, "accuracy": acc}


if __name__ == "__main__":
    main()
