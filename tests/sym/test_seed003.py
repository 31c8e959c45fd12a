"""Seed 003 (Theano tutorial) worked examples, written as the article writes them."""
import numpy as np
import qiflow as qf
from qiflow import sym as T
from qiflow.sym import function, shared


def test_adding_two_scalars():
    x = T.dscalar('x')
    y = T.dscalar('y')
    z = x + y
    f = function([x, y], z)
    out = f(2, 3)
    assert isinstance(out, np.ndarray) and out.shape == () and out.dtype == np.float64
    assert out == 5.0
    assert x.type is T.dscalar
    assert repr(x.type) == "TensorType(float64, scalar)"
    assert z.owner.op.name == "Add" and z.owner.inputs == [x, y] or z.owner.inputs[0] is x
    assert x.owner is None and z.owner.outputs[0] is z


def test_prefixed_types():
    assert T.imatrix('m').dtype == np.int32 and T.imatrix('m').ndim == 2
    assert T.bscalar().dtype == np.int8 and T.wvector().dtype == np.int16
    assert T.lvector().dtype == np.int64 and T.fmatrix().dtype == np.float32
    assert T.dvector().dtype == np.float64 and T.cvector().dtype == np.complex64
    assert T.dtensor3().ndim == 3 and T.ftensor4().ndim == 4
    assert T.matrix().dtype == qf.get_default_dtype()
    qf.set_default_dtype("float64")
    assert T.scalar().dtype == np.float64
    t = T.tensor('t', 'int32', shape=(None, 3))
    assert t.type.shape == (None, 3) and t.dtype == np.int32


def test_logistic_equals_tanh_form():
    x = T.dmatrix('x')
    s = 1 / (1 + T.exp(-x))
    logistic = function([x], s)
    s2 = (1 + T.tanh(x / 2)) / 2
    logistic2 = function([x], s2)
    data = [[0, 1], [-1, -2]]
    expected = 1 / (1 + np.exp(-np.array(data, dtype=float)))
    np.testing.assert_allclose(logistic(data), expected, rtol=1e-12)
    np.testing.assert_allclose(logistic2(data), expected, rtol=1e-12)
    np.testing.assert_allclose(logistic(data)[0, 1], 0.73105858, rtol=1e-8)


def test_accumulator_decrementor_givens():
    state = shared(0)
    assert state.dtype == np.int64 and state.ndim == 0
    inc = T.iscalar('inc')
    accumulator = function([inc], state, updates=[(state, state + inc)])
    assert state.get_value() == 0
    assert accumulator(1) == 0          # returns the old value
    assert state.get_value() == 1
    assert accumulator(300) == 1
    assert state.get_value() == 301
    state.set_value(-1)
    assert accumulator(3) == -1
    assert state.get_value() == 2
    decrementor = function([inc], state, updates=[(state, state - inc)])
    assert decrementor(2) == 2
    assert state.get_value() == 0
    fn_of_state = state * 2 + inc
    foo = T.scalar(dtype=state.dtype)
    skip_shared = function([inc, foo], fn_of_state, givens=[(state, foo)])
    assert skip_shared(1, 3) == 7
    assert state.get_value() == 0


def test_grad_of_square_and_pp():
    x = T.dscalar('x')
    y = x ** 2
    gy = T.grad(y, x)
    text = T.pp(gy)
    assert text == "((ones_like((x ** 2)) * TensorConstant{2.0}) * x)"
    f = function([x], gy)
    assert f(4) == 8.0
    assert np.allclose(f(94.2), 188.4)


def _lr_model(rng, feats):
    x = T.dmatrix("x")
    y = T.dvector("y")
    w = shared(rng.randn(feats), name="w")
    b = shared(0., name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1-y) * T.log(1-p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    return x, y, w, b, prediction, xent, cost, gw, gb


def test_logistic_regression_random_data_trains_finite():
    rng = np.random.RandomState(0)
    N, feats = 400, 784
    D = (rng.randn(N, feats), rng.randint(size=N, low=0, high=2))
    x, y, w, b, prediction, xent, cost, gw, gb = _lr_model(rng, feats)
    train = function(inputs=[x, y], outputs=[prediction, xent],
                     updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    predict = function(inputs=[x], outputs=prediction)
    cost_f = function([x, y], cost)
    # without the rewrites the written formula overflows on this data
    raw = function([x, y], cost, mode="no_rewrites")
    with np.errstate(all="ignore"):
        assert not np.isfinite(raw(D[0], D[1]))
    first = float(cost_f(D[0], D[1]))
    assert np.isfinite(first)
    for _ in range(250):           # the tutorial runs 10000 steps
        pred, err = train(D[0], D[1])
        assert np.isfinite(err).all()
    last = float(cost_f(D[0], D[1]))
    assert np.isfinite(last) and last < first
    assert (predict(D[0]) == D[1]).mean() > 0.9
    assert np.isfinite(w.get_value()).all()


def test_logistic_regression_gradient_matches_stable_formula():
    rng = np.random.RandomState(1)
    N, feats = 40, 30
    X, Y = rng.randn(N, feats) * 8, rng.randint(0, 2, N).astype(float)
    x, y, w, b, prediction, xent, cost, gw, gb = _lr_model(rng, feats)
    g = function([x, y], [gw, gb])(X, Y)
    z = X @ w.get_value() + b.get_value()
    sig = 0.5 * (1 + np.tanh(z / 2))
    np.testing.assert_allclose(g[0], X.T @ (sig - Y) / N + 0.02 * w.get_value(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g[1], (sig - Y).mean(), rtol=1e-9, atol=1e-12)


class LogisticRegression:
    """The tutorial's multiclass logistic regression, as written there."""

    def __init__(self, input, n_in, n_out):
        self.W = shared(np.zeros((n_in, n_out), dtype=qf.get_default_dtype()), name='W', borrow=True)
        self.b = shared(np.zeros((n_out,), dtype=qf.get_default_dtype()), name='b', borrow=True)
        self.p_y_given_x = T.nnet.softmax(T.dot(input, self.W) + self.b)
        self.y_pred = T.argmax(self.p_y_given_x, axis=1)
        self.params = [self.W, self.b]
        self.input = input

    def negative_log_likelihood(self, y):
        return -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])

    def errors(self, y):
        if y.ndim != self.y_pred.ndim:
            raise TypeError('y should have the same shape as self.y_pred')
        if y.dtype.name.startswith('int'):
            return T.mean(T.neq(self.y_pred, y))
        raise NotImplementedError()


def _dataset(rng, n, n_in=20, n_out=4):
    centers = rng.randn(n_out, n_in) * 2
    labels = rng.randint(0, n_out, n)
    data = centers[labels] + rng.randn(n, n_in)
    fx = qf.get_default_dtype()
    return shared(data.astype(fx), borrow=True), T.cast(shared(labels.astype(fx), borrow=True), 'int32')


def test_minibatch_sgd_givens_early_stopping_save_and_predict(tmp_path):
    rng = np.random.RandomState(2)
    n_in, n_out, batch_size = 20, 4, 25
    train_set_x, train_set_y = _dataset(rng, 500)
    valid_set_x, valid_set_y = _dataset(np.random.RandomState(2), 100)
    test_set_x, test_set_y = _dataset(np.random.RandomState(2), 100)
    n_train_batches = train_set_x.get_value(borrow=True).shape[0] // batch_size
    n_valid_batches = valid_set_x.get_value(borrow=True).shape[0] // batch_size
    index = T.lscalar()
    x = T.matrix('x')
    y = T.ivector('y')
    classifier = LogisticRegression(input=x, n_in=n_in, n_out=n_out)
    cost = classifier.negative_log_likelihood(y)
    validate_model = function(inputs=[index], outputs=classifier.errors(y), givens={
        x: valid_set_x[index * batch_size: (index + 1) * batch_size],
        y: valid_set_y[index * batch_size: (index + 1) * batch_size]})
    g_W = T.grad(cost=cost, wrt=classifier.W)
    g_b = T.grad(cost=cost, wrt=classifier.b)
    updates = [(classifier.W, classifier.W - 0.13 * g_W), (classifier.b, classifier.b - 0.13 * g_b)]
    train_model = function(inputs=[index], outputs=cost, updates=updates, givens={
        x: train_set_x[index * batch_size: (index + 1) * batch_size],
        y: train_set_y[index * batch_size: (index + 1) * batch_size]})
    # the NLL's log(softmax)[arange, y] became a log_softmax
    assert train_model.report.fired["log_softmax"] >= 1
    patience, patience_increase, improvement_threshold = 60, 2, 0.995
    validation_frequency = min(n_train_batches, patience // 2)
    best_validation_loss, stopped = np.inf, False
    best = str(tmp_path / "best_model.npz")
    losses = []
    for epoch in range(1, 30):
        for minibatch_index in range(n_train_batches):
            losses.append(float(train_model(minibatch_index)))
            it = (epoch - 1) * n_train_batches + minibatch_index
            if (it + 1) % validation_frequency == 0:
                this = np.mean([validate_model(i) for i in range(n_valid_batches)])
                if this < best_validation_loss:
                    if this < best_validation_loss * improvement_threshold:
                        patience = max(patience, it * patience_increase)
                    best_validation_loss = this
                    np.savez(best, W=classifier.W.get_value(), b=classifier.b.get_value())
            if patience <= it:
                stopped = True
                break
        if stopped:
            break
    assert stopped, "early stopping never triggered"
    assert np.mean(losses[-5:]) < losses[0]
    assert best_validation_loss < 0.1
    # reload the best model (no pickle) and predict with it
    saved = np.load(best, allow_pickle=False)
    x2 = T.matrix('x')
    clf2 = LogisticRegression(input=x2, n_in=n_in, n_out=n_out)
    clf2.W.set_value(saved["W"])
    clf2.b.set_value(saved["b"])
    predict_model = function(inputs=[clf2.input], outputs=clf2.y_pred)
    pred = predict_model(test_set_x.get_value()[:10])
    assert pred.dtype == np.int64 and pred.shape == (10,)
    truth = function([], test_set_y)()[:10]
    assert (pred == truth).mean() >= 0.8
