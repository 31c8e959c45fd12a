"""Seed 003: the Theano walk-through, with ``qiflow.sym`` standing in for Theano.

1. Baby steps: typed symbolic scalars, ``function``, f(2, 3) == 5.
2. The elementwise logistic on [[0, 1], [-1, -2]], equal to (1 + tanh(x/2)) / 2.
3. Shared variables: the accumulator (returns the old value: 0, then 1; state
   301), ``set_value(-1)``, a decrementor sharing the state, and ``givens``
   replacing the state (skip_shared(1, 3) == 7, state unchanged).
4. ``grad``: d(x**2)/dx at 4 == 8, and ``pp`` printing the gradient graph.
5. Logistic regression on random data (N = 400, 784 features, L2 0.01).
6. The graph before and after optimisation (a + a ** 10 becomes one fused kernel).
7. Multiclass logistic regression on MNIST: softmax, negative log-likelihood,
   minibatches selected by index through ``givens``, early stopping with
   patience (``qf.train.EarlyStopping``), saving the best model (no pickle:
   ``qf.save``) and predicting with it.  ``--quick`` uses a small synthetic
   MNIST-shaped set and says so; the full run uses ``qf.datasets.mnist()``
   (the tutorial's 50,000 / 10,000 / 10,000 split; it reports 7.489583 %).

    python examples/seed003_theano.py [--quick]
"""
import _util

import time

import numpy as np

import qiflow as qf
from qiflow import sym as T
from qiflow.train import EarlyStopping


def baby_steps():
    x = T.dscalar("x")
    y = T.dscalar("y")
    z = x + y
    f = T.function([x, y], z)
    print(f"f(2, 3) = {f(2, 3)!r}")
    print(f"x.type = {x.type}, x.type == T.dscalar('q').type: {x.type == T.dscalar('q').type}")
    print("prefixes: " + ", ".join(f"{p}: {T.PREFIXES[p]}" for p in sorted(T.PREFIXES)))
    return float(f(2, 3))


def logistic():
    x = T.dmatrix("x")
    s = 1 / (1 + T.exp(-x))
    s2 = (1 + T.tanh(x / 2)) / 2
    f, f2 = T.function([x], s), T.function([x], s2)
    v = [[0, 1], [-1, -2]]
    print(f"logistic({v}) =\n{f(v)}")
    same = bool(np.allclose(f(v), f2(v)))
    print(f"equal to (1 + tanh(x/2)) / 2: {same}")
    return f(v), same


def shared_variables():
    state = T.shared(0)
    inc = T.iscalar("inc")
    accumulator = T.function([inc], state, updates=[(state, state + inc)])
    first, second = int(accumulator(1)), int(accumulator(300))
    print(f"accumulator(1) -> {first}, accumulator(300) -> {second}, state = {state.get_value()}")
    state.set_value(-1)
    third = int(accumulator(3))
    print(f"after set_value(-1): accumulator(3) -> {third}, state = {state.get_value()}")
    decrementor = T.function([inc], state, updates=[(state, state - inc)])
    print(f"decrementor(2) -> {int(decrementor(2))}, state = {state.get_value()}")
    fn_of_state = state * 2 + inc
    foo = T.scalar(dtype=state.dtype)
    skip_shared = T.function([inc, foo], fn_of_state, givens=[(state, foo)])
    skipped = int(skip_shared(1, 3))
    print(f"skip_shared(1, 3) -> {skipped}, state still {state.get_value()}")
    return first, second, third, skipped, int(state.get_value())


def gradient():
    x = T.dscalar("x")
    y = x ** 2
    gy = T.grad(y, x)
    print(f"pp(gy) = {T.pp(gy)}")
    f = T.function([x], gy)
    print(f"f(4) = {float(f(4))}, allclose(f(94.2), 188.4): {bool(np.allclose(f(94.2), 188.4))}")
    return float(f(4))


def random_logistic_regression(args):
    rng = np.random.default_rng(args.seed)
    N, feats = 400, 784
    D = (rng.standard_normal((N, feats)), rng.integers(0, 2, N).astype(np.float64))
    steps = 100 if args.quick else 10000
    x, y = T.dmatrix("x"), T.dvector("y")
    w = T.shared(rng.standard_normal(feats), name="w")
    b = T.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = T.function([x, y], [prediction, xent.mean()],
                       updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    predict = T.function([x], prediction)
    print(f"compiled train: {train.report}")
    t0 = time.perf_counter()
    for i in range(steps):
        pred, err = train(D[0], D[1])
        if i == 0:
            first = float(err)
    acc = float((predict(D[0]) == D[1]).mean())
    print(f"{steps} steps in {time.perf_counter() - t0:.2f} s: cross-entropy {first:.3f} -> "
          f"{float(err):.3f}, accuracy on D {acc:.3f}")
    return first, float(err), acc


def optimisation(args):
    a = T.vector("a")
    b = a + a ** 10
    f = T.function([a], b)
    print(f"f([0, 1, 2]) = {f([0, 1, 2])}")
    print(f"rewrites: {f.report}")
    _util.save_drawing(args, b, "seed003_graph_opt", optimized=True)
    return f.report.nodes_before, f.report.nodes_after


class LogisticRegression:
    """The tutorial's classifier: softmax(x W + b), predictions, NLL and error rate."""

    def __init__(self, input, n_in, n_out, W=None, b=None):
        self.W = T.shared(np.zeros((n_in, n_out), dtype="float32") if W is None else W, name="W")
        self.b = T.shared(np.zeros(n_out, dtype="float32") if b is None else b, name="b")
        self.p_y_given_x = T.nnet.softmax(T.dot(input, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y_given_x, axis=1)
        self.params = [self.W, self.b]
        self.input = input

    def negative_log_likelihood(self, y):
        return -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])

    def errors(self, y):
        return T.mean(T.neq(self.y_pred, y))


def load_mnist(args):
    if args.quick:
        imgs, labels = qf.datasets.make_images(4000, seed=args.seed)
        X = imgs.reshape(-1, 784).astype("float32") / 256
        y = labels.astype("int32")
        print("(--quick: a synthetic MNIST-shaped set, 3000 / 500 / 500 images, instead of MNIST)")
        return [(X[:3000], y[:3000]), (X[3000:3500], y[3000:3500]), (X[3500:], y[3500:])]
    train, valid, test = qf.datasets.mnist()
    return [tuple(np.asarray(a) for a in s.arrays) for s in (train, valid, test)]


def shared_dataset(xy):
    x, y = xy
    return T.shared(x.astype("float32"), name="x"), T.cast(T.shared(y.astype("float32")), "int32")


def sgd_optimization_mnist(args, learning_rate=0.13, batch_size=600):
    sets = load_mnist(args)
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = map(shared_dataset, sets)
    if args.quick:
        batch_size = 100
    n_train = len(sets[0][0]) // batch_size
    n_valid = len(sets[1][0]) // batch_size
    n_test = len(sets[2][0]) // batch_size
    index = T.lscalar("index")
    x, y = T.matrix("x"), T.ivector("y")
    classifier = LogisticRegression(x, 28 * 28, 10)
    cost = classifier.negative_log_likelihood(y)

    def batch(data, i):
        return data[i * batch_size:(i + 1) * batch_size]

    test_model = T.function([index], classifier.errors(y),
                            givens={x: batch(test_x, index), y: batch(test_y, index)})
    validate_model = T.function([index], classifier.errors(y),
                                givens={x: batch(valid_x, index), y: batch(valid_y, index)})
    g_W, g_b = T.grad(cost=cost, wrt=classifier.W), T.grad(cost=cost, wrt=classifier.b)
    updates = [(classifier.W, classifier.W - learning_rate * g_W),
               (classifier.b, classifier.b - learning_rate * g_b)]
    train_model = T.function([index], cost, updates=updates,
                             givens={x: batch(train_x, index), y: batch(train_y, index)})
    print(f"train_model: {train_model.report}")
    es = EarlyStopping(patience=60 if args.quick else 5000, patience_increase=2,
                       improvement_threshold=0.995)
    es.start(n_train)
    n_epochs = 30 if args.quick else 1000
    best_path = _util.out_path(args, "seed003_best_model.npz")
    test_score, epoch, done = 0.0, 0, False
    t0 = time.perf_counter()
    while epoch < n_epochs and not done:
        epoch += 1
        for minibatch_index in range(n_train):
            train_model(minibatch_index)
            it = (epoch - 1) * n_train + minibatch_index
            if (it + 1) % es.validation_frequency == 0:
                this_validation_loss = float(np.mean([validate_model(i) for i in range(n_valid)]))
                print(f"epoch {epoch}, minibatch {minibatch_index + 1}/{n_train}, validation error "
                      f"{this_validation_loss * 100:f} %")
                if es.update(this_validation_loss, it):
                    test_score = float(np.mean([test_model(i) for i in range(n_test)]))
                    print(f"     epoch {epoch}, minibatch {minibatch_index + 1}/{n_train}, test error of "
                          f"best model {test_score * 100:f} %")
                    qf.save({"W": classifier.W.get_value(), "b": classifier.b.get_value()}, best_path)
            if es.should_stop(it):
                done = True
                break
    seconds = time.perf_counter() - t0
    print(f"Optimization complete with best validation score of {es.best * 100:f} %, with test "
          f"performance {test_score * 100:f} %")
    print(f"The code run for {epoch} epochs, with {epoch / seconds:f} epochs/sec")
    return es.best, test_score, best_path, sets[2]


def predict(best_path, test_set):
    """Load the saved parameters, rebuild the classifier, compile a predictor."""
    saved = qf.load(best_path)
    x = T.matrix("x")
    classifier = LogisticRegression(x, 28 * 28, 10, W=saved["W"], b=saved["b"])
    predict_model = T.function([classifier.input], classifier.y_pred)
    predicted = predict_model(test_set[0][:10])
    print("Predicted values for the first 10 examples in test set:")
    print(predicted)
    print(f"true labels:                                           {test_set[1][:10]}")
    return predicted


def main(argv=None):
    args = _util.parser(__doc__.splitlines()[0]).parse_args(argv)
    qf.manual_seed(args.seed)
    _util.section("1. adding two scalars")
    five = baby_steps()
    _util.section("2. the logistic function")
    s, same = logistic()
    _util.section("3. shared variables")
    acc = shared_variables()
    _util.section("4. grad and pp")
    eight = gradient()
    _util.section("5. logistic regression on random data")
    lr = random_logistic_regression(args)
    _util.section("6. the graph before and after optimisation")
    nodes = optimisation(args)
    _util.section("7. MNIST: multiclass logistic regression, minibatch SGD, early stopping")
    best, test, path, test_set = sgd_optimization_mnist(args)
    pred = predict(path, test_set)
    return {"five": five, "logistic": s, "same": same, "shared": acc, "eight": eight, "lr": lr,
            "nodes": nodes, "best": best, "test": test, "pred": pred}


if __name__ == "__main__":
    main()
