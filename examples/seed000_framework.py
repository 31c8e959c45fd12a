"""Seed 000: "TensorFlow principles, and the simplest Python implementation".

The 3-4-2 network of the article (sigmoid hidden layer, tanh output, MSE), with
its exact initial values, x = [1, 2, 3] and y = [-0.85, 0.72]:

1. the forward pass in NumPy, as the article writes it;
2. the backward pass derived by hand, and the same 26 gradients from qiflow's
   automatic differentiation: they agree;
3. the MiniFlow graph (Input, Linear, Sigmoid, Tanh, MSE) rebuilt on qiflow,
   ordered by Kahn's algorithm, run with forward_and_backward and sgd_update;
4. training that drives the output from [0.72, -0.88] towards y, and the
   article's figure: the output, W1 and W2 as heat maps over the epochs.

    python examples/seed000_framework.py [--quick] [--out DIR]
"""
import _util  # noqa: F401  (makes `import qiflow` work from a checkout)

import numpy as np

import qiflow as qf
from miniflow import Input, Linear, Sigmoid, Tanh, MSE, topological_sort, forward_and_backward, sgd_update, resample

# The article's values (its text says y = [-0.85, 0.72]; one code listing has 0.75).
W1_0 = np.array([[0.1, 0.2, 0.3, 0.4],
                 [0.5, 0.6, 0.7, 0.8],
                 [0.9, 1.0, 1.1, 1.2]])
W2_0 = np.array([[1.3, 1.4],
                 [1.5, 1.6],
                 [1.7, 1.8],
                 [1.9, 2.0]])
B1_0 = np.array([-2.0, -6.0, -1.0, -7.0])
B2_0 = np.array([-2.5, -5.0])
X = np.array([1.0, 2.0, 3.0])
Y = np.array([-0.85, 0.72])


def fmt(a):
    return np.array2string(np.asarray(a), precision=4, separator=", ", floatmode="fixed")


def numpy_forward():
    o1 = X @ W1_0 + B1_0
    os1 = 1 / (1 + np.exp(-o1))
    o2 = os1 @ W2_0 + B2_0
    os2 = np.tanh(o2)
    return o1, os1, o2, os2


def hand_backward(os1, os2):
    """d MSE / d parameters, derived with the chain rule one layer at a time."""
    d_os2 = 2 * (os2 - Y) / Y.size               # MSE = mean((os2 - y)^2)
    d_o2 = d_os2 * (1 - os2 ** 2)                # tanh' = 1 - tanh^2
    d_W2, d_b2 = np.outer(os1, d_o2), d_o2
    d_os1 = W2_0 @ d_o2
    d_o1 = d_os1 * os1 * (1 - os1)               # sigmoid' = s (1 - s)
    d_W1, d_b1 = np.outer(X, d_o1), d_o1
    return {"W1": d_W1, "b1": d_b1, "W2": d_W2, "b2": d_b2}


def qiflow_backward():
    params = {k: qf.tensor(v, requires_grad=True)
              for k, v in (("W1", W1_0), ("b1", B1_0), ("W2", W2_0), ("b2", B2_0))}
    W1, b1, W2, b2 = params.values()
    x, y = qf.tensor(X), qf.tensor(Y)
    hidden = qf.sigmoid(x @ W1 + b1)
    out = qf.tanh(hidden @ W2 + b2)
    loss = ((out - y) ** 2).mean()
    loss.backward(retain_graph=True)
    return loss, {k: p.grad.numpy() for k, p in params.items()}


def main(argv=None):
    args = _util.parser(__doc__.splitlines()[0]).parse_args(argv)
    qf.set_default_dtype("float64")              # the article computes in float64
    n_params = W1_0.size + B1_0.size + W2_0.size + B2_0.size
    print(f"3-4-2 network: (3x4+4) + (4x2+2) = {n_params} parameters")

    _util.section("1. forward pass (NumPy, as in the article)")
    o1, os1, o2, os2 = numpy_forward()
    print(f"hidden pre-activation o1 = {fmt(o1)}")
    print(f"hidden sigmoid       os1 = {fmt(os1)}")
    print(f"initial output       os2 = {fmt(os2)}")
    print(f"initial MSE              = {np.mean((os2 - Y) ** 2):.6f}")

    _util.section("2. backward pass: by hand vs qiflow autodiff")
    hand = hand_backward(os1, os2)
    loss, auto = qiflow_backward()
    diff = max(float(np.abs(hand[k] - auto[k]).max()) for k in hand)
    for k in hand:
        print(f"dL/d{k} = {fmt(auto[k]).replace(chr(10), ' ')}")
    print(f"hand-derived == qiflow autodiff over {n_params} gradients: max |difference| = {diff:.2e}")
    if not args.no_plots:
        _util.save_drawing(args, loss, "seed000_graph", backward=True)

    _util.section("3. MiniFlow on qiflow: Kahn's topological sort")
    Xn, yn = Input(name="X"), Input(name="y")
    W1, b1, W2, b2 = Input(name="W1"), Input(name="b1"), Input(name="W2"), Input(name="b2")
    l1 = Linear(Xn, W1, b1, name="l1")
    s1 = Sigmoid(l1, name="s1")
    l2 = Linear(s1, W2, b2, name="l2")
    t1 = Tanh(l2, name="t1")
    cost = MSE(yn, t1, name="cost")
    X_, y_ = X.reshape(1, 3), Y.reshape(1, 2)
    feed = {Xn: X_, yn: y_, W1: W1_0, b1: B1_0, W2: W2_0, b2: B2_0}
    graph = topological_sort(feed)
    print("order:", " -> ".join(n.name for n in graph))
    forward_and_backward(graph)
    mf = {"W1": W1.gradients[W1], "b1": b1.gradients[b1], "W2": W2.gradients[W2], "b2": b2.gradients[b2]}
    mdiff = max(float(np.abs(mf[k].detach().numpy() - auto[k]).max()) for k in mf)
    print(f"MiniFlow cost = {cost.value.item():.6f}; its gradients vs qiflow autodiff: "
          f"max |difference| = {mdiff:.2e}")

    _util.section("4. training (SGD, lr 0.1, batches of 1 drawn by resampling)")
    epochs = 30 if args.quick else 100
    rng = np.random.default_rng(args.seed)
    trainables = [W1, b1, W2, b2]
    outputs, W1s, W2s = [], [W1_0.copy()], [W2_0.copy()]
    losses = []
    for epoch in range(epochs):
        xb, yb = resample(rng, X_, y_, n_samples=1)
        Xn.value, yn.value = qf.tensor(xb), qf.tensor(yb)
        forward_and_backward(graph)
        sgd_update(trainables, 0.1)
        losses.append(cost.value.item())
        outputs.append(t1.value.detach().numpy().ravel().copy())
        W1s.append(W1.value.detach().numpy().copy())
        W2s.append(W2.value.detach().numpy().copy())
        if epoch < 3 or (epoch + 1) % 10 == 0:
            print(f"epoch {epoch + 1:3d}: loss {losses[-1]:.6f}, output {fmt(outputs[-1])}")
    print(f"output moved from {fmt(os2)} to {fmt(outputs[-1])}; target y = {fmt(Y)}")
    print(f"final loss {losses[-1]:.3e} (initial {losses[0]:.6f})")
    _util.save_figure(args, lambda p: qf.viz.plots.seed000_figure(outputs, W1s[1:], W2s[1:], path=p),
                      "seed000_heatmaps.png")
    return {"initial_output": os2, "grad_diff": diff, "miniflow_diff": mdiff, "losses": losses,
            "final_output": outputs[-1]}


if __name__ == "__main__":
    main()
