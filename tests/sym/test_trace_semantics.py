"""qf.compile reproduces eager execution on every call: gradients accumulate,
tensor arguments get their .grad, captured tensors are never frozen at their
trace-time value (no_grad code, in-place updates through .data, .grad computed outside), and
code that needs a value in Python falls back to eager execution."""
import warnings

import numpy as np
import pytest

import qiflow as qf
from qiflow.trace import TraceError


def t64(values, grad=True):
    return qf.tensor(np.asarray(values, dtype=np.float64), requires_grad=grad)


def twins(*values):
    """Two identical sets of leaves: one for eager execution, one for the compiled function."""
    return [t64(v) for v in values], [t64(v) for v in values]


XS = [np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[0.0, 1.0], [2.0, -1.0]]),
      np.array([[-1.0, 0.5], [1.5, 2.0]])]


def test_gradients_accumulate_over_micro_batches_as_eagerly():
    (we, be), (wc, bc) = twins([0.5, -1.0], [0.1])

    def micro(w, b):
        def fn(x):
            loss = qf.tanh(x @ w + b).sum()
            loss.backward()
            return loss
        return fn
    eager, comp = micro(we, be), qf.compile(micro(wc, bc), strict=True)
    for window in range(3):                       # 3 micro-batches, then one update
        for x in XS:
            le, lc = eager(qf.tensor(x)), comp(qf.tensor(x))
            assert lc.item() == pytest.approx(le.item(), rel=1e-13)
        for pe, pc in ((we, wc), (be, bc)):
            np.testing.assert_allclose(pc.grad.numpy(), pe.grad.numpy(), rtol=1e-13)
            with qf.no_grad():
                pe -= 0.1 * pe.grad
                pc -= 0.1 * pc.grad
            pe.grad = pc.grad = None
    # one trace for ".grad is None" (first micro-batch), one for "accumulate"
    assert comp.traces == 2
    np.testing.assert_allclose(wc.detach().numpy(), we.detach().numpy(), rtol=1e-13)


def test_tensor_arguments_that_require_grad_get_their_grad():
    w = t64([0.5, -1.0])

    def fn(x):
        loss = (qf.tanh(x * w) ** 2).sum()
        loss.backward()
        return loss
    comp = qf.compile(fn, strict=True)
    xe, xc = t64([1.0, 2.0]), t64([1.0, 2.0])
    fn(xe)
    comp(xc)
    np.testing.assert_allclose(xc.grad.numpy(), xe.grad.numpy(), rtol=1e-13)
    t = np.tanh(xe.detach().numpy() * w.detach().numpy())
    np.testing.assert_allclose(xc.grad.numpy(), 2 * t * (1 - t ** 2) * w.detach().numpy(), rtol=1e-13)
    fn(xe)
    comp(xc)                                      # accumulates on the argument too
    np.testing.assert_allclose(xc.grad.numpy(), xe.grad.numpy(), rtol=1e-13)
    other = t64([3.0, -1.0])
    comp(other)                                   # a new argument gets its own gradient
    t = np.tanh(other.detach().numpy() * w.detach().numpy())
    np.testing.assert_allclose(other.grad.numpy(), 2 * t * (1 - t ** 2) * w.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(xc.grad.numpy(), xe.grad.numpy(), rtol=1e-13)


def test_no_grad_code_on_captured_tensors_is_not_frozen():
    def make(w):
        def step(x):
            with qf.no_grad():
                decay = 0.1 * w                   # meets no symbolic value: must still be live
                scale = qf.sqrt(w.data ** 2 + 1.0)    # through .data: followed too
            loss = (qf.tanh(x @ w) * qf.tensor([1.0, 2.0], dtype="float64")).sum()
            loss.backward()
            with qf.no_grad():
                w.sub_(0.1 * (w.grad + decay) / scale)
            w.grad = None
            return loss
        return step
    (we,), (wc,) = twins([0.5, -1.0])
    eager, comp = make(we), qf.compile(make(wc), strict=True)
    for x in XS * 2:
        assert comp(qf.tensor(x)).item() == pytest.approx(eager(qf.tensor(x)).item(), rel=1e-13)
    np.testing.assert_allclose(wc.detach().numpy(), we.detach().numpy(), rtol=1e-13)
    assert comp.traces == 1 and wc.grad is None


def test_captured_state_changed_between_calls_is_read_live():
    buf = qf.tensor(np.array([1.0, 2.0]))

    @qf.jit
    def f(x):
        buf.data.mul_(0.5)                           # an in-place update through .data
        return x * qf.exp(buf.data)

    x = qf.tensor(np.ones(2))
    np.testing.assert_allclose(f(x).detach().numpy(), np.exp([0.5, 1.0]))
    buf.data = np.array([4.0, 8.0])                  # rebound between calls
    np.testing.assert_allclose(f(x).detach().numpy(), np.exp([2.0, 4.0]))
    np.testing.assert_allclose(buf.detach().numpy(), [2.0, 4.0])
    assert f.traces == 1


def test_gradients_computed_outside_are_read_at_call_time():
    (we,), (wc,) = twins([0.5, -1.0])

    def update(params):
        def fn():
            with qf.no_grad():
                for p in params:
                    p -= 0.1 * p.grad
        return fn
    eager, comp = update([we]), qf.compile(update([wc]), strict=True)
    for x in XS:
        for w, f in ((we, eager), (wc, comp)):
            w.grad = None
            qf.tanh(qf.tensor(x) @ w).sum().backward()      # a new .grad tensor each time
            f()
    np.testing.assert_allclose(wc.detach().numpy(), we.detach().numpy(), rtol=1e-13)
    assert comp.traces == 1


def test_reading_a_captured_value_in_python_falls_back_to_eager():
    lr = qf.tensor(0.5)

    def fn(x):
        return x * lr.item()
    comp = qf.compile(fn)
    x = qf.tensor([1.0, 2.0])
    with pytest.warns(UserWarning, match="reads the value"):
        np.testing.assert_allclose(comp(x).detach().numpy(), [0.5, 1.0])
    lr.data = np.array(2.0, np.float32)
    np.testing.assert_allclose(comp(x).detach().numpy(), [2.0, 4.0])       # eager: the current value
    with pytest.raises(TraceError, match="reads the value"):
        qf.compile(fn, strict=True)(x)
    with pytest.raises(TraceError, match="reads the value"):
        qf.compile(lambda t: t * float(lr), strict=True)(x)
    with pytest.raises(TraceError):
        qf.compile(lambda t: t * qf.tensor(lr), strict=True)(x)


def test_tensors_inside_lists_and_keywords_are_inputs():
    @qf.compile(strict=True)
    def f(pair, scale=None):
        return pair[0] * pair[1] + scale

    a, b, c = (qf.tensor(np.full(2, v)) for v in (1.0, 2.0, 3.0))
    np.testing.assert_allclose(f([a, b], scale=c).detach().numpy(), [5.0, 5.0])
    np.testing.assert_allclose(f([c, c], scale=a).detach().numpy(), [10.0, 10.0])   # not the first call's
    assert f.traces == 1


def test_requires_grad_changed_between_calls_traces_again():
    w, v = t64([1.0, 2.0]), t64([3.0, 4.0])

    @qf.jit
    def f():
        (w * v).sum().backward()

    f()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 4.0])
    v.requires_grad_(False)                 # frozen: no gradient for it any more
    w.grad = v.grad = None
    f()
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 4.0])
    assert v.grad is None and f.traces == 2


def test_detach_and_zero_grad_variants_inside():
    def make(w, opt):
        def step(x):
            opt.zero_grad(set_to_none=False)       # zeroes in place (a None .grad stays None)
            loss = (qf.tanh(x @ w) * w.detach().sum()).sum()
            loss.backward()
            opt.step()
            return loss
        return step
    (we,), (wc,) = twins([0.5, -1.0])
    oe, oc = qf.optim.SGD([we], lr=0.1, momentum=0.5), qf.optim.SGD([wc], lr=0.1, momentum=0.5)
    eager, comp = make(we, oe), qf.compile(make(wc, oc), strict=True)
    for x in XS * 2:
        assert comp(qf.tensor(x)).item() == pytest.approx(eager(qf.tensor(x)).item(), rel=1e-13)
        np.testing.assert_allclose(wc.grad.numpy(), we.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(wc.detach().numpy(), we.detach().numpy(), rtol=1e-13)
    assert comp.traces == 2                 # .grad None on the first call, then zeroed in place


def test_batch_norm_eval_follows_running_statistics_updated_outside():
    def make():
        qf.manual_seed(0)
        return qf.nn.Sequential(qf.nn.Linear(3, 4), qf.nn.BatchNorm1d(4))
    model, ref = make(), make()
    x = qf.tensor(np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32))
    model.eval()
    ref.eval()
    f = qf.compile(lambda t: model(t), strict=True)
    np.testing.assert_allclose(f(x).detach().numpy(), ref(x).detach().numpy(), rtol=1e-6)
    for m in (model, ref):                  # a training epoch in between, eagerly
        m.train()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m(x * 3.0 + 1.0)
        m.eval()
    np.testing.assert_allclose(f(x).detach().numpy(), ref(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert f.traces == 1


def test_tensors_made_inside_are_fresh_unless_kept():
    @qf.jit
    def scratch(x):
        buf = qf.zeros(3, dtype="float64")       # a new buffer on every eager call
        buf += x
        return buf * 2.0

    x = qf.tensor(np.arange(3.0))
    for _ in range(3):
        np.testing.assert_allclose(scratch(x).detach().numpy(), [0.0, 2.0, 4.0])

    class Acc:
        def __init__(self):
            self.total = None

        @qf.jit
        def add(self, x):
            if self.total is None:               # made once, then kept: a state
                self.total = qf.zeros(3, dtype="float64")
            with qf.no_grad():
                self.total += x
            return self.total * 1.0

    acc = Acc()
    for k in (1, 2, 3):
        np.testing.assert_allclose(acc.add(x).detach().numpy(), k * x.detach().numpy())
    np.testing.assert_allclose(acc.total.detach().numpy(), 3 * x.detach().numpy())
    assert Acc.add.traces == 1 and scratch.traces == 1
