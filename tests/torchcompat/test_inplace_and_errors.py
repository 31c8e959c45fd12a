"""In-place methods follow PyTorch's autograd rules (a leaf that requires grad refuses,
a saved tensor's version is checked, a recorded in-place op differentiates like
PyTorch's), and PyTorch spellings that qiflow refuses say how it differs."""
import numpy as np
import pytest

import qiflow as qf

_r = np.random.default_rng(2)
X = _r.standard_normal((3, 4))
MASK = X > 0.3

INPLACE = {
    "relu_": lambda m, y, z: y.relu_(),
    "sigmoid_": lambda m, y, z: y.sigmoid_(),
    "tanh_": lambda m, y, z: y.tanh_(),
    "abs_": lambda m, y, z: y.abs_(),
    "pow_": lambda m, y, z: y.pow_(2),
    "clamp_": lambda m, y, z: y.clamp_(min=-0.5, max=0.7),
    "add_/alpha": lambda m, y, z: y.add_(z, alpha=2.5),
    "sub_/number": lambda m, y, z: y.sub_(1.5),
    "mul_": lambda m, y, z: y.mul_(z),
    "div_": lambda m, y, z: y.div_(z * z + 1),
    "masked_fill_": lambda m, y, z: y.masked_fill_(m.tensor(MASK), 0.25),
    "scatter_": lambda m, y, z: y.scatter_(0, m.tensor([[2, 0, 1, 0]]), z[:1]),
    "scatter_/value": lambda m, y, z: y.scatter_(1, m.tensor([[1], [3], [0]]), -2.0),
    "scatter_add_": lambda m, y, z: y.scatter_add_(1, m.tensor([[0, 0], [1, 3], [2, 2]]), z[:, :2]),
    "index_add_": lambda m, y, z: y.index_add_(0, m.tensor([2, 0, 2]), z, alpha=0.5),
    "copy_": lambda m, y, z: y.copy_(z * 3),
    "fill_": lambda m, y, z: y.fill_(0.5),
    "zero_": lambda m, y, z: y.zero_(),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_recorded_inplace_gradients_equal_pytorchs(name):
    torch = pytest.importorskip("torch")
    f = INPLACE[name]
    w = _r.standard_normal((3, 4))
    grads = []
    for m in (qf, torch):
        x = m.tensor(X, requires_grad=True)
        z = m.tensor(X[::-1].copy(), requires_grad=True)
        y = x * 1.0
        out = f(m, y, z)
        assert out is y
        (y * m.tensor(w)).sum().backward()
        grads.append([None if t.grad is None else t.grad.detach().numpy() for t in (x, z)])
    for g, tg in zip(*grads):
        if tg is None or g is None:         # qiflow leaves .grad None where PyTorch's is all zeros
            assert (g is None or not np.any(g)) and (tg is None or not np.any(tg))
        else:
            np.testing.assert_allclose(g, tg, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(INPLACE) + ["normal_", "uniform_"])
def test_inplace_on_a_leaf_that_requires_grad_raises(name):
    f = INPLACE.get(name) or (lambda m, y, z: getattr(y, name)())
    x = qf.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        f(qf, x, qf.tensor(X))
    with qf.no_grad():                          # as optimizers and initialisers do
        f(qf, x, qf.tensor(X))
    assert x.requires_grad


def test_modifying_a_saved_tensor_is_caught_at_backward():
    x = qf.tensor(X, requires_grad=True)
    y = x * 1.0
    z = y.sin()                                 # saves y
    y.relu_()
    with pytest.raises(RuntimeError, match="modified in place"):
        z.sum().backward()


def test_data_is_a_tensor_sharing_storage():
    p = qf.tensor(X, requires_grad=True)
    d = p.data
    assert isinstance(d, qf.Tensor) and not d.requires_grad
    d.add_(1.0)                                 # no error: .data is cut from the graph
    np.testing.assert_allclose(p.detach().numpy(), X + 1)


def test_manual_seed_reseeds_the_default_generator_in_place():
    g = qf.manual_seed(5)
    a = qf.randn(3)
    assert qf.manual_seed(5) is g and qf.equal(qf.randn(3), a)


def test_generator_manual_seed_and_sampling_are_reproducible():
    g = qf.Generator().manual_seed(7)
    a = qf.randn(5, generator=g)
    g.manual_seed(7)
    assert qf.equal(a, qf.randn(5, generator=g)) and g.initial_seed() == 7
    t = qf.empty(4, 2).normal_(generator=qf.Generator().manual_seed(3))
    u = qf.empty(4, 2).normal_(generator=qf.Generator().manual_seed(3))
    assert qf.equal(t, u) and not qf.equal(t, qf.empty(4, 2).normal_(generator=qf.Generator(4)))
    s = qf.multinomial(qf.tensor([[0.0, 1.0, 1.0], [5.0, 1.0, 0.0]]), 2, generator=g)
    assert sorted(s[0].tolist()) == [1, 2] and s.dtype == np.int64
    counts = np.bincount(qf.multinomial(qf.tensor([1.0, 3.0]), 4000, replacement=True,
                                        generator=g).numpy(), minlength=2)
    assert 0.70 < counts[1] / 4000 < 0.80


ERRORS = [
    (lambda: qf.ones(2, 3).transpose(0), TypeError, "dim1"),
    (lambda: qf.ones(2, 3, 4).t(), RuntimeError, r"t\(\) expects a tensor with <= 2 dimensions.*\(2, 3, 4\)"),
    (lambda: qf.split(qf.ones(5), [1, 3]), ValueError, r"split: sizes \[1, 3\] must .* sum to 5.*not NumPy's split points"),
    (lambda: qf.ones(2, 3).max((0, 1)), TypeError, r"max: dim must be one int.*qf.amax"),
    (lambda: qf.tensor([1, 2]).mean(), qf.QiflowError, r"mean: .*floating point.*int64"),
    (lambda: qf.softmax(qf.ones(3)), TypeError, r"softmax: dim is required"),
    (lambda: qf.mm(qf.ones(2, 3, 4), qf.ones(4, 2)), RuntimeError, r"mm: both arguments must be 2-d.*\(2, 3, 4\)"),
    (lambda: qf.bmm(qf.ones(2, 3, 4), qf.ones(3, 4, 2)), RuntimeError, r"bmm: .*same batch size.*\(3, 4, 2\)"),
    (lambda: qf.dot(qf.ones(2, 2), qf.ones(2)), RuntimeError, r"dot: 1D tensors expected"),
    (lambda: qf.ones(2, 3) @ qf.ones(3, 2, dtype="float64"), RuntimeError,
     r"matmul: expected both operands to have the same dtype, but got float32 and float64"),
    (lambda: qf.mm(qf.ones(2, 3), qf.ones(3, 2, dtype="int64")), RuntimeError, r"mm: expected both operands"),
    (lambda: qf.ones(3).repeat(2, 2).repeat(2), RuntimeError, r"repeat: the number of repeat sizes \(1\)"),
    (lambda: qf.gather(qf.ones(2, 3), 1, qf.tensor([0, 1])), qf.QiflowError, r"gather: index of shape \(2,\) must have as many dimensions"),
    (lambda: qf.gather(qf.ones(2, 3), 1, qf.tensor([[5]])), IndexError, r"gather: index out of range \[5, 5\] for dim 1 of size 3"),
    (lambda: qf.ones(2, 3).scatter(0, qf.tensor([[0.5]]), 1.0), qf.QiflowError, r"scatter: index must be an integer"),
    (lambda: qf.ones(2).masked_fill(qf.tensor([1, 0]), 0.0), qf.QiflowError, r"masked_fill: the mask must be a bool"),
    (lambda: qf.ones(2, 3).size(2), IndexError, r"size: dim 2 is out of range .* 2 dimensions"),
    (lambda: qf.topk(qf.ones(3), 4), RuntimeError, r"topk: k=4 is out of range for dim 0 of size 3"),
    (lambda: qf.multinomial(qf.tensor([1.0, 0.0]), 2), RuntimeError, r"multinomial: invalid multinomial distribution"),
    (lambda: qf.Generator("cuda"), RuntimeError, r"Generator: qiflow has only the 'cpu' device"),
    (lambda: qf.norm(qf.ones(2, 2), p="nuc"), NotImplementedError, r"nuclear norm.*not supported by qiflow yet"),
    (lambda: qf.ones(2).scatter(0, qf.tensor([0]), 1.0, reduce="multiply"), NotImplementedError, r"reduce='multiply' is not supported"),
    (lambda: qf.sum(qf.ones(2), dim=0, axis=0), TypeError, r"sum: got both dim=0 and axis=0"),
    (lambda: qf.tensor(X, requires_grad=True).numpy(), RuntimeError, r"Can't call numpy\(\) on a tensor that requires grad"),
    (lambda: "{:.2f}".format(qf.ones(2)), TypeError, r"format"),
    (lambda: qf.tensor([6]) & qf.tensor([3]), NotImplementedError, r"'&' on a int64 operand: PyTorch's meaning there is bitwise"),
    (lambda: ~qf.tensor([1]), NotImplementedError, r"'~' on a int64 operand"),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_refusals_say_how_qiflow_differs(k):
    fn, exc, pattern = ERRORS[k]
    with pytest.raises(exc, match=pattern):
        fn()


def test_numpy_spellings_stay_accepted_where_unambiguous():
    x = qf.tensor(X)
    assert qf.equal(x.sum(axis=1, keepdims=True), x.sum(dim=1, keepdim=True))
    assert qf.equal(x.mean(axis=0), x.mean(0))
    assert qf.equal(qf.cat([x, x], axis=1), qf.cat([x, x], 1))
    assert qf.equal(x.std(axis=1, ddof=0), x.std(1, unbiased=False))
    assert qf.equal(qf.max(x, axis=1).values, x.amax(1))
