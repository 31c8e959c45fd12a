"""Small programs in the style of the deeplearning.net tutorials (written for
these tests, on sklearn's digits or made-up data), run through ``import
theano`` resolved to qiflow: logistic regression, an MLP, a LeNet-style
convnet, a denoising autoencoder and one RBM CD-1 step.  Each trains briefly
and checks that it learned."""
import numpy as np


def _shared_dataset(theano, xy):
    import theano.tensor as T
    x, y = xy
    sx = theano.shared(np.asarray(x, dtype=theano.config.floatX), borrow=True)
    sy = theano.shared(np.asarray(y, dtype=theano.config.floatX), borrow=True)
    return sx, T.cast(sy, "int32")


class Softmax:
    def __init__(self, inp, n_in, n_out):
        import theano
        import theano.tensor as T
        self.W = theano.shared(np.zeros((n_in, n_out), dtype=theano.config.floatX), name="W")
        self.b = theano.shared(np.zeros((n_out,), dtype=theano.config.floatX), name="b")
        self.p = T.nnet.softmax(T.dot(inp, self.W) + self.b)
        self.pred = T.argmax(self.p, axis=1)
        self.params = [self.W, self.b]

    def nll(self, y):
        import theano.tensor as T
        return -T.mean(T.log(self.p)[T.arange(y.shape[0]), y])

    def errors(self, y):
        import theano.tensor as T
        if y.ndim != self.pred.ndim:
            raise TypeError("y and pred differ", ("y", y.type, "pred", self.pred.type))
        if not y.dtype.startswith("int"):
            raise NotImplementedError()
        return T.mean(T.neq(self.pred, y))


class Hidden:
    def __init__(self, rng, inp, n_in, n_out, W=None, activation=None):
        import theano
        import theano.tensor as T
        activation = activation or T.tanh
        if W is None:
            bound = np.sqrt(6.0 / (n_in + n_out))
            W = np.asarray(rng.uniform(-bound, bound, (n_in, n_out)), dtype=theano.config.floatX)
            if activation == T.nnet.sigmoid:
                W *= 4
            W = theano.shared(W, name="W", borrow=True)
        self.W = W
        self.b = theano.shared(np.zeros((n_out,), dtype=theano.config.floatX), name="b")
        self.output = activation(T.dot(inp, self.W) + self.b)
        self.params = [self.W, self.b]


def _train(theano, model_cost, params, x, y, train, lr, batch, epochs, extra_cost=0):
    import theano.tensor as T
    sx, sy = _shared_dataset(theano, train)
    index = T.lscalar()
    cost = model_cost + extra_cost
    updates = [(p, p - lr * g) for p, g in zip(params, T.grad(cost, params))]
    step = theano.function([index], cost, updates=updates,
                           givens={x: sx[index * batch:(index + 1) * batch],
                                   y: sy[index * batch:(index + 1) * batch]})
    n = sx.get_value(borrow=True).shape[0] // batch
    first = last = None
    for _ in range(epochs):
        costs = [float(step(i)) for i in range(n)]
        first = costs[0] if first is None else first
        last = np.mean(costs)
    return first, last


def _error(theano, errors, x, y, data):
    sx, sy = _shared_dataset(theano, data)
    return float(theano.function([], errors, givens={x: sx, y: sy})())


def test_logistic_regression(theano, digits):
    import theano.tensor as T
    train, valid, test = digits
    x, y = T.matrix("x"), T.ivector("y")
    clf = Softmax(x, 64, 10)
    first, last = _train(theano, clf.nll(y), clf.params, x, y, train, 0.5, 50, 8)
    assert last < first / 4
    err = _error(theano, clf.errors(y), x, y, valid)
    assert err < 0.08
    assert clf.W.dtype == "float32" and clf.p.dtype == theano.config.floatX


def test_mlp_with_l1_l2(theano, digits):
    import theano.tensor as T
    train, valid, _ = digits
    rng = np.random.RandomState(1234)
    x, y = T.matrix("x"), T.ivector("y")
    hidden = Hidden(rng, x, 64, 40)
    out = Softmax(hidden.output, 40, 10)
    l1 = abs(hidden.W).sum() + abs(out.W).sum()
    l2 = (hidden.W ** 2).sum() + (out.W ** 2).sum()
    first, last = _train(theano, out.nll(y), hidden.params + out.params, x, y, train, 0.1, 20, 6,
                         extra_cost=0.0001 * l1 + 0.0001 * l2)
    assert last < first / 3
    assert _error(theano, out.errors(y), x, y, valid) < 0.1


def test_lenet_style_convnet(theano, digits):
    import theano.tensor as T
    from theano.tensor.nnet import conv2d
    from theano.tensor.signal import pool
    train, valid, _ = digits
    rng = np.random.RandomState(23455)
    batch = 30
    x, y = T.matrix("x"), T.ivector("y")
    layer0_input = x.reshape((batch, 1, 8, 8))
    filter_shape, image_shape = (6, 1, 3, 3), (batch, 1, 8, 8)
    fan_in = np.prod(filter_shape[1:])
    W = theano.shared(np.asarray(rng.uniform(-1 / fan_in, 1 / fan_in, filter_shape) * 3,
                                 dtype=theano.config.floatX), borrow=True)
    b = theano.shared(np.zeros((6,), dtype=theano.config.floatX), borrow=True)
    conv_out = conv2d(input=layer0_input, filters=W, filter_shape=filter_shape,
                      input_shape=image_shape)
    pooled = pool.pool_2d(input=conv_out, ws=(2, 2), ignore_border=True)
    layer0 = T.tanh(pooled + b.dimshuffle("x", 0, "x", "x"))
    assert layer0.ndim == 4 and layer0.type.shape[0] == batch
    hidden = Hidden(rng, layer0.flatten(2), 6 * 3 * 3, 30)
    out = Softmax(hidden.output, 30, 10)
    first, last = _train(theano, out.nll(y), [W, b] + hidden.params + out.params, x, y, train,
                         0.2, batch, 10)
    assert last < first / 2
    sx, sy = _shared_dataset(theano, valid)
    index = T.lscalar()
    check = theano.function([index], out.errors(y), givens={
        x: sx[index * batch:(index + 1) * batch], y: sy[index * batch:(index + 1) * batch]})
    assert np.mean([check(i) for i in range(valid[0].shape[0] // batch)]) < 0.25


class DenoisingAutoencoder:
    def __init__(self, rng, theano_rng, inp, n_visible, n_hidden, W=None, bhid=None, bvis=None):
        import theano
        import theano.tensor as T
        from theano.tensor.shared_randomstreams import RandomStreams
        if not theano_rng:
            theano_rng = RandomStreams(rng.randint(2 ** 30))
        if not W:
            bound = 4 * np.sqrt(6.0 / (n_hidden + n_visible))
            W = theano.shared(np.asarray(rng.uniform(-bound, bound, (n_visible, n_hidden)),
                                         dtype=theano.config.floatX), name="W", borrow=True)
        if not bvis:
            bvis = theano.shared(np.zeros(n_visible, dtype=theano.config.floatX), borrow=True)
        if not bhid:
            bhid = theano.shared(np.zeros(n_hidden, dtype=theano.config.floatX), name="b",
                                 borrow=True)
        self.W, self.b, self.b_prime, self.W_prime = W, bhid, bvis, W.T
        self.rng = theano_rng
        self.x = inp if inp is not None else T.dmatrix(name="input")
        self.params = [self.W, self.b, self.b_prime]

    def corrupted(self, inp, level):
        import theano
        return self.rng.binomial(size=inp.shape, n=1, p=1 - level,
                                 dtype=theano.config.floatX) * inp

    def cost_updates(self, level, lr):
        import theano.tensor as T
        tilde = self.corrupted(self.x, level)
        h = T.nnet.sigmoid(T.dot(tilde, self.W) + self.b)
        z = T.nnet.sigmoid(T.dot(h, self.W_prime) + self.b_prime)
        L = -T.sum(self.x * T.log(z) + (1 - self.x) * T.log(1 - z), axis=1)
        cost = T.mean(L)
        grads = T.grad(cost, self.params)
        return cost, [(p, p - lr * g) for p, g in zip(self.params, grads)]


def test_denoising_autoencoder_with_binomial_corruption(theano, digits):
    import theano.tensor as T
    from theano.tensor.shared_randomstreams import RandomStreams
    train, _, _ = digits
    rng = np.random.RandomState(123)
    sx, _ = _shared_dataset(theano, train)
    index, x = T.lscalar(), T.matrix("x")
    da = DenoisingAutoencoder(rng, RandomStreams(rng.randint(2 ** 30)), x, 64, 32)
    cost, updates = da.cost_updates(0.3, 0.1)
    step = theano.function([index], cost, updates=updates, givens={x: sx[index * 20:(index + 1) * 20]})
    epochs = [np.mean([step(i) for i in range(60)]) for _ in range(4)]
    assert epochs[-1] < epochs[0] * 0.8
    # the corruption is drawn anew by every call (the stream's state is updated)
    noisy = theano.function([x], da.corrupted(x, 0.5))
    ones = np.ones((4, 64), dtype="float32")
    a, b = noisy(ones), noisy(ones)
    assert not np.array_equal(a, b) and 0.3 < a.mean() < 0.7
    assert da.W_prime.owner is not None and bool(da.W)


class RBM:
    def __init__(self, inp, n_visible, n_hidden, rng, theano_rng):
        import theano
        self.input = inp
        self.W = theano.shared(np.asarray(rng.uniform(-0.1, 0.1, (n_visible, n_hidden)),
                                          dtype=theano.config.floatX), name="W")
        self.hbias = theano.shared(np.zeros(n_hidden, dtype=theano.config.floatX), name="hbias")
        self.vbias = theano.shared(np.zeros(n_visible, dtype=theano.config.floatX), name="vbias")
        self.rng = theano_rng
        self.params = [self.W, self.hbias, self.vbias]

    def free_energy(self, v):
        import theano.tensor as T
        wx_b = T.dot(v, self.W) + self.hbias
        return -T.dot(v, self.vbias) - T.sum(T.log(1 + T.exp(wx_b)), axis=1)

    def sample_h(self, v):
        import theano
        import theano.tensor as T
        mean = T.nnet.sigmoid(T.dot(v, self.W) + self.hbias)
        return mean, self.rng.binomial(size=mean.shape, n=1, p=mean, dtype=theano.config.floatX)

    def sample_v(self, h):
        import theano
        import theano.tensor as T
        mean = T.nnet.sigmoid(T.dot(h, self.W.T) + self.vbias)
        return mean, self.rng.binomial(size=mean.shape, n=1, p=mean, dtype=theano.config.floatX)

    def cd1(self, lr):
        import theano
        import theano.tensor as T
        _, h0 = self.sample_h(self.input)
        v1_mean, v1 = self.sample_v(h0)
        cost = T.mean(self.free_energy(self.input)) - T.mean(self.free_energy(v1))
        grads = T.grad(cost, self.params, consider_constant=[v1])
        updates = [(p, p - g * T.cast(lr, dtype=theano.config.floatX))
                   for p, g in zip(self.params, grads)]
        xent = T.mean(T.sum(self.input * T.log(v1_mean) + (1 - self.input) * T.log(1 - v1_mean),
                            axis=1))
        return -xent, updates


def test_rbm_cd1_step(theano, digits):
    import theano.tensor as T
    from theano.sandbox.rng_mrg import MRG_RandomStreams
    train, _, _ = digits
    binary = (train[0] > 0.5).astype("float32")
    rng = np.random.RandomState(7)
    sx = theano.shared(binary, borrow=True)
    index, x = T.lscalar(), T.matrix("x")
    rbm = RBM(x, 64, 24, rng, MRG_RandomStreams(rng.randint(2 ** 30)))
    monitor, updates = rbm.cd1(0.1)
    step = theano.function([index], monitor, updates=updates,
                           givens={x: sx[index * 20:(index + 1) * 20]}, name="train_rbm")
    epochs = [np.mean([step(i) for i in range(60)]) for _ in range(4)]
    assert epochs[-1] < epochs[0] * 0.85
    # the gradient with chain_end constant is the CD-1 estimate: <v h>_data - <v h>_model
    W0 = rbm.W.get_value()
    assert np.all(np.isfinite(W0)) and not np.allclose(W0, 0)
