"""Gradients of the eager dialect's new functions: central differences in float64
(first and second order) for the composites, and PyTorch's gradients for the same
program.  (The primitives Scatter, ScatterAdd and Argsort have op_table rows.)"""
import numpy as np
import pytest

import qiflow as qf

_r = np.random.default_rng(1)
X = (_r.permutation(12).reshape(3, 4) * 0.37 - 2.1)        # distinct, away from 0
MASK = X > 0

FUNCS = {
    "norm/2": lambda m, x: m.norm(x),
    "norm/2_dim": lambda m, x: x.norm(dim=1, keepdim=True),
    "norm/1": lambda m, x: m.norm(x, p=1, dim=0),
    "norm/3": lambda m, x: m.norm(x, p=3),
    "norm/inf": lambda m, x: m.norm(x, p=float("inf"), dim=1),
    "std": lambda m, x: x.std(),
    "std/dim": lambda m, x: m.std(x, dim=0, keepdim=True),
    "var/unbiased_false": lambda m, x: x.var(1, unbiased=False),
    "max/dim_values": lambda m, x: x.max(dim=1).values,
    "min/dim_values": lambda m, x: m.min(x, 0)[0],
    "masked_fill": lambda m, x: x.masked_fill(m.tensor(MASK), 0.5) * x,
    "tril": lambda m, x: m.tril(x, -1),
    "triu": lambda m, x: x.triu(1),
    "split": lambda m, x: m.split(x, [1, 3], dim=1)[1] * 2,
    "chunk": lambda m, x: x.chunk(2, 0)[0],
    "unbind": lambda m, x: m.unbind(x, 1)[2],
    "transpose": lambda m, x: x.transpose(0, 1) @ x,
    "t_mm": lambda m, x: m.mm(x.t(), x),
    "bmm": lambda m, x: m.bmm(x.view(1, 3, 4), x.view(1, 4, 3)),
    "repeat": lambda m, x: x.repeat(2, 1, 2),
    "index_select": lambda m, x: m.index_select(x, 1, m.tensor([3, 0, 3])),
    "gather": lambda m, x: x.gather(0, m.tensor([[2, 0, 1, 1]])),
    "median": lambda m, x: x.median() * x,
    "median/dim": lambda m, x: m.median(x, 0).values,
    "kthvalue": lambda m, x: m.kthvalue(x, 2, 1).values,
    "topk/smallest": lambda m, x: x.topk(2, 0, largest=False).values,
    "cumsum": lambda m, x: m.cumsum(x, dim=0) * x,
    "roll": lambda m, x: m.roll(x, (1, -1), (0, 1)) * x,
    "diag": lambda m, x: m.diag(m.diag(x, 1)),
    "trace": lambda m, x: (x @ x.t()).trace(),
    "masked_select": lambda m, x: x.masked_select(m.tensor(MASK)),
    "meshgrid": lambda m, x: m.meshgrid(x[0], x[1, :3], indexing="xy")[0] * 2,
    "logsumexp": lambda m, x: m.logsumexp(x, dim=1),
    "softmax": lambda m, x: m.softmax(x, dim=0),
    "expand_as": lambda m, x: x[:, :1].expand_as(x) * x,
    "pow/int_tensor": lambda m, x: x.pow(m.tensor([1, 2, 3, 2])),
    "scatter/value": lambda m, x: x.scatter(1, m.tensor([[0], [2], [1]]), 0.0) * x,
}


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_gradcheck_first_and_second_order(name):
    f = FUNCS[name]
    x = qf.tensor(X, requires_grad=True)
    assert qf.gradcheck(lambda t: f(qf, t), [x])
    assert qf.gradgradcheck(lambda t: f(qf, t), [x])


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_gradient_equals_pytorchs(name):
    torch = pytest.importorskip("torch")
    f = FUNCS[name]
    w = _r.standard_normal(f(qf, qf.tensor(X)).shape)
    x = qf.tensor(X, requires_grad=True)
    (f(qf, x) * qf.tensor(w)).sum().backward()
    tx = torch.tensor(X, requires_grad=True)
    (f(torch, tx) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradcheck_can_fail_on_a_wrong_gradient():
    class Wrong(qf.ops.base.Op):
        __slots__ = ()

        def forward(self, a): return a * a
        def vjp(self, ctx, inputs, output, g): return (g * inputs[0],)     # 2x expected

    with pytest.raises(qf.GradcheckError):
        qf.gradcheck(lambda t: qf.apply(Wrong(), t), [qf.tensor(X, requires_grad=True)])
