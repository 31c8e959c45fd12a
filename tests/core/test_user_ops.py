"""A new operation written by a user in one place works in every mode.

Two ways, both defined here, in this test file, as a researcher would:

* ``LogCosh``: a ``qiflow.autograd.Function`` (PyTorch's contract), its backward
  written with qiflow operations;
* ``Softsign``: an ``Op`` subclass (qiflow's primitive protocol: infer, forward,
  vjp), elementwise, with no entry in any table of the compiler.

Each is checked against NumPy and central differences (float64) in eager mode,
under backward(), at second order, inside ``T.function`` (rewrites, fusion and
buffer reuse on, against the same function compiled without rewrites), under
``qf.compile``, in ``viz.draw``, ``viz.explain``, ``profile`` and
``detect_anomaly``.
"""
import numpy as np
import pytest

import qiflow as qf
from qiflow import sym as T
from qiflow.ops.base import Op, apply


class LogCosh(qf.autograd.Function):
    """log(cosh(x)), d/dx = tanh(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return qf.log((qf.exp(x) + qf.exp(-x)) * 0.5)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * qf.tanh(x)


class Softsign(Op):
    """x / (1 + |x|); its derivative 1 / (1 + |x|)^2."""
    __slots__ = ()
    elementwise = True
    view_map = {}

    def forward(self, a):
        return a / (1 + np.abs(a))

    def vjp(self, ctx, inputs, output, grad):
        (x,) = inputs
        d = 1 + qf.abs(x)
        return (grad / (d * d),)


def softsign(x):
    return apply(Softsign(), x)


def logcosh(x):
    return LogCosh.apply(x)


REF = {"softsign": (softsign, lambda a: a / (1 + np.abs(a)), lambda a: 1 / (1 + np.abs(a)) ** 2),
       "logcosh": (logcosh, lambda a: np.log(np.cosh(a)), np.tanh)}
CASES = sorted(REF)
X = np.array([-2.0, -0.3, 0.4, 1.7])


@pytest.mark.parametrize("name", CASES)
def test_eager_forward_backward_and_second_order(name):
    fn, ref, dref = REF[name]
    x = qf.tensor(X, requires_grad=True)
    y = fn(x)
    np.testing.assert_allclose(y.detach().numpy(), ref(X), rtol=1e-12)
    (y * qf.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), dref(X) * [1, 2, 3, 4], rtol=1e-12)
    assert qf.gradcheck(lambda t: fn(t * 1.5), [qf.tensor(X, requires_grad=True)])
    assert qf.gradgradcheck(lambda t: fn(t), [qf.tensor(X, requires_grad=True)])


@pytest.mark.parametrize("name", CASES)
def test_inside_T_function_with_and_without_rewrites(name):
    fn, ref, dref = REF[name]
    v = T.dvector("v")
    cost = (fn(v * 2.0 + 1.0) * 3.0).sum()
    g = T.grad(cost, v)
    fast = T.function([v], [cost, g])
    plain = T.function([v], [cost, g], mode="no_rewrites")
    for vals in (X, X[::-1] * 0.5):
        a, b = fast(vals), plain(vals)
        np.testing.assert_allclose(a[0], b[0], rtol=1e-12)
        np.testing.assert_allclose(a[1], b[1], rtol=1e-12)
        np.testing.assert_allclose(a[0], (ref(vals * 2 + 1) * 3).sum(), rtol=1e-12)
        np.testing.assert_allclose(a[1], 6 * dref(vals * 2 + 1), rtol=1e-11)
    assert fast.report.nodes_after < plain.report.nodes_after       # the rewrites did their work
    if name == "softsign":
        # an elementwise user op joins fused kernels like a built-in one
        assert fast.report.fired["elemwise_fusion"] >= 1
        assert any(isinstance(n.op, type(fast.fgraph.outputs[0].owner.op)) for n in fast.schedule)


@pytest.mark.parametrize("name", CASES)
def test_under_qf_compile(name):
    fn, ref, dref = REF[name]
    w = qf.tensor([0.5, -1.0, 2.0, 0.1], requires_grad=True)

    def step(x):
        loss = (fn(x * w) ** 2).sum()
        loss.backward()
        with qf.no_grad():
            w.sub_(0.01 * w.grad)
        w.grad = None
        return loss

    w_eager = qf.tensor(w.detach().numpy().copy(), requires_grad=True)

    def eager(x):
        loss = (fn(x * w_eager) ** 2).sum()
        loss.backward()
        with qf.no_grad():
            w_eager.sub_(0.01 * w_eager.grad)
        w_eager.grad = None
        return loss

    comp = qf.compile(step, strict=True)
    for k in range(4):
        x = qf.tensor(X * (k + 1))
        np.testing.assert_allclose(comp(x).item(), eager(x).item(), rtol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), w_eager.detach().numpy(), rtol=1e-12)
    assert comp.traces == 1


@pytest.mark.parametrize("name", CASES)
def test_draw_explain_profile_and_anomaly(name):
    fn, ref, dref = REF[name]
    x = qf.tensor(X, requires_grad=True)
    y = fn(x).sum()
    label = "Softsign" if name == "softsign" else "LogCosh"
    assert label.lower() in qf.viz.draw(y, format="dot").dot.lower()
    e = qf.viz.explain(y)
    np.testing.assert_allclose(e.grads[next(iter(e.grads))], dref(X), rtol=1e-10)
    with qf.profile() as prof:
        fn(x).sum().backward()
    names = {k[0] for k in prof.totals()}
    assert label in names, names


class Root(qf.autograd.Function):
    """sqrt(x): finite at 0, its derivative is not."""

    @staticmethod
    def forward(ctx, x):
        y = qf.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * 0.5 / y


class RootOp(Op):
    __slots__ = ()
    elementwise = True
    view_map = {}

    def forward(self, a):
        return np.sqrt(a)

    def vjp(self, ctx, inputs, output, grad):
        return (grad * 0.5 / output,)


@pytest.mark.parametrize("kind", ["function", "op"])
def test_detect_anomaly_names_the_user_operation(kind):
    fn = Root.apply if kind == "function" else (lambda t: apply(RootOp(), t))
    label = "Root" if kind == "function" else "RootOp"
    with pytest.raises(qf.AnomalyError, match=f"backward of {label}"):
        with qf.detect_anomaly():
            fn(qf.tensor([0.0, 4.0], requires_grad=True)).sum().backward()
    if kind == "op":                       # a NaN made by the op's own forward is named too
        with pytest.raises(qf.AnomalyError, match="RootOp produced NaN in its forward"):
            with qf.detect_anomaly():
                fn(qf.tensor([-1.0, 4.0], requires_grad=True))


def test_function_errors_are_clear():
    class Wrong(qf.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g                       # one gradient for two inputs

    x = qf.tensor([1.0], requires_grad=True)
    with pytest.raises(qf.QiflowError, match="returned 1 gradients; forward took 2 inputs"):
        Wrong.apply(x, 2.0).sum().backward()

    class Saver(qf.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2

    a = qf.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1
    out = Saver.apply(b)
    with qf.no_grad():
        b.add_(1)                          # the saved tensor changes in place
    with pytest.raises(RuntimeError, match="modified in place"):
        out.sum().backward()


def test_needs_input_grad_and_non_differentiable_outputs():
    seen = []

    class ArgmaxAndMax(qf.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            seen.append(ctx.needs_input_grad)
            idx = qf.argmax(x)
            ctx.mark_non_differentiable(idx)
            return x.max(), idx

        @staticmethod
        def backward(ctx, g, g_idx):
            raise AssertionError("not reached in this test")

    x = qf.tensor([1.0, 3.0], requires_grad=True)
    m, i = ArgmaxAndMax.apply(x, qf.tensor([0.0]))
    assert seen == [(True, False)]
    assert not i.requires_grad and i.item() == 1
