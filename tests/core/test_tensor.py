"""The eager Tensor: creation, dtypes (no silent upcast), conversions, repr,
operators with numbers and arrays on either side, comparisons, and which
tensors may require gradients."""
import math

import numpy as np
import pytest

import qiflow as qf

# ------------------------------------------------------------------ creation


@pytest.mark.parametrize("fn,args,shape,dtype", [
    (qf.zeros, (2, 3), (2, 3), "float32"),
    (qf.zeros, ((2, 3),), (2, 3), "float32"),
    (qf.ones, ((4,),), (4,), "float32"),
    (qf.empty, (2,), (2,), "float32"),
    (qf.full, ((2, 2), 1.5), (2, 2), "float32"),
    (qf.full, ((2,), 7), (2,), "int64"),
    (qf.arange, (5,), (5,), "int64"),
    (qf.arange, (0.0, 1.0, 0.25), (4,), "float32"),
    (qf.linspace, (0, 1, 5), (5,), "float32"),
    (qf.eye, (3,), (3, 3), "float32"),
    (qf.eye, (2, 3), (2, 3), "float32"),
])
def test_creation_shapes_and_default_dtypes(fn, args, shape, dtype):
    t = fn(*args)
    assert isinstance(t, qf.Tensor)
    assert t.shape == shape and t.dtype == np.dtype(dtype)
    assert not t.requires_grad and t.is_leaf


def test_creation_values():
    np.testing.assert_array_equal(qf.arange(1, 7, 2).detach().numpy(), [1, 3, 5])
    np.testing.assert_allclose(qf.linspace(0, 1, 5).detach().numpy(), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(qf.eye(3).detach().numpy(), np.eye(3))
    np.testing.assert_array_equal(qf.full((2,), 1.5).detach().numpy(), [1.5, 1.5])
    assert qf.zeros(2, 2).detach().numpy().sum() == 0 and qf.ones(2, 2).detach().numpy().sum() == 4
    assert qf.zeros(3, dtype="float64").dtype == np.float64
    assert qf.ones(2, dtype=qf.int32).dtype == np.int32


def test_like_functions_follow_the_reference():
    i, f = qf.tensor([1, 2, 3]), qf.tensor([[1.0, 2.0]], dtype="float64")
    assert qf.zeros_like(i).dtype == np.int64 and qf.zeros_like(i).tolist() == [0, 0, 0]
    assert qf.ones_like(f).dtype == np.float64 and qf.ones_like(f).shape == (1, 2)
    assert qf.full_like(f, 3.0).tolist() == [[3.0, 3.0]]
    assert qf.zeros_like(i, dtype="float32").dtype == np.float32
    assert qf.ones_like(f, requires_grad=True).requires_grad


def test_creation_can_require_grad():
    t = qf.zeros(2, requires_grad=True)
    assert t.requires_grad and t.is_leaf
    with pytest.raises(TypeError, match="int64"):
        qf.arange(3, requires_grad=True)


def test_random_is_seeded_and_generators_are_independent():
    qf.manual_seed(123)
    a = [qf.rand(3), qf.randn(3), qf.randint(0, 10, (5,)), qf.normal(1.0, 2.0, (3,)),
         qf.uniform(-1, 1, (3,))]
    qf.manual_seed(123)
    b = [qf.rand(3), qf.randn(3), qf.randint(0, 10, (5,)), qf.normal(1.0, 2.0, (3,)),
         qf.uniform(-1, 1, (3,))]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())
    assert [x.dtype for x in a] == [np.float32, np.float32, np.int64, np.float32, np.float32]
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    qf.manual_seed(0)
    x = qf.randn(4, generator=g1)
    qf.manual_seed(99)   # the global seed must not matter with an explicit generator
    y = qf.randn(4, generator=g2)
    np.testing.assert_array_equal(x.detach().numpy(), y.detach().numpy())


def test_random_distributions_are_plausible():
    qf.manual_seed(0)
    u = qf.rand(20000).detach().numpy()
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    n = qf.normal(3.0, 2.0, (20000,)).detach().numpy()
    assert abs(n.mean() - 3.0) < 0.05 and abs(n.std() - 2.0) < 0.05
    r = qf.randint(2, 5, (1000,)).detach().numpy()
    assert set(np.unique(r)) == {2, 3, 4}
    assert sorted(qf.randperm(6).tolist()) == list(range(6))


# -------------------------------------------------------------------- dtypes


def test_dtype_inference():
    assert qf.tensor(1.0).dtype == np.float32
    assert qf.tensor([1.0, 2]).dtype == np.float32
    assert qf.tensor([1, 2]).dtype == np.int64
    assert qf.tensor([True, False]).dtype == np.bool_
    assert qf.tensor(np.ones(2, np.float64)).dtype == np.float64      # arrays keep their dtype
    assert qf.tensor(np.ones(2, np.int32)).dtype == np.int32
    assert qf.tensor([1, 2], dtype="float64").dtype == np.float64
    assert qf.tensor(qf.tensor([1.0])).dtype == np.float32


def test_set_default_dtype():
    qf.set_default_dtype("float64")
    assert qf.get_default_dtype() == np.float64
    assert qf.tensor(1.5).dtype == np.float64 and qf.zeros(2).dtype == np.float64
    assert qf.rand(2).dtype == np.float64
    qf.set_default_dtype(qf.float32)
    assert qf.tensor(1.5).dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        qf.set_default_dtype("int32")


OPS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "/": lambda a, b: a / b, "**": lambda a, b: a ** b, "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
}


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("scalar", [2, 2.5, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_python_scalars_never_upcast(op, scalar, dtype):
    x = qf.tensor(np.array([1.5, 2.5], dtype=dtype))
    f = OPS[op]
    for y in (f(x, scalar), f(scalar, x)):
        assert y.dtype == np.dtype(dtype), f"{dtype} {op} {scalar!r} gave {y.dtype}"
    np.testing.assert_allclose(f(x, scalar).detach().numpy(), f(x.detach().numpy(), scalar), rtol=1e-6)
    np.testing.assert_allclose(f(scalar, x).detach().numpy(), f(scalar, x.detach().numpy()), rtol=1e-6)


def test_tensor_tensor_and_array_promotion_follow_pytorch():
    f32 = qf.tensor(np.ones(2, np.float32))
    assert (f32 + qf.tensor(np.ones(2, np.float32))).dtype == np.float32
    assert (f32 + np.ones(2, np.float32)).dtype == np.float32
    assert (f32 + qf.tensor(np.ones(2, np.float64))).dtype == np.float64
    i32 = qf.tensor(np.array([1, 2], np.int32))
    assert (i32 * 2).dtype == np.int32 and (i32 + i32).dtype == np.int32
    # PyTorch's rules where NumPy's differ: integers divide to the default float, a float
    # tensor keeps its dtype against an integer tensor, an int tensor times a float is float32
    assert (i32 / 2).dtype == np.float32 and (i32 / i32).dtype == np.float32
    i64 = qf.tensor([1, 2])
    assert (f32 * i64).dtype == np.float32 and (f32 ** i64).dtype == np.float32
    assert (i64 * 2.5).dtype == np.float32 and (2.5 - i64).dtype == np.float32
    assert (f32 + qf.tensor(2.0, dtype="float64")).dtype == np.float32   # a 0-d tensor does not widen


def test_cast_and_its_gradient():
    x = qf.tensor([1.5, -2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, -4.0])
    assert x.long().dtype == np.int64 and not x.long().requires_grad
    assert x.long().tolist() == [1, -2]
    assert x.astype("float64").dtype == np.float64 and x.int().dtype == np.int32
    assert qf.tensor([0.0, 2.0]).bool().tolist() == [False, True]


# --------------------------------------------------------------- conversions


def test_attributes_and_conversions():
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    t = qf.tensor(a)
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6 and t.dtype == np.float32
    assert t.size() == (2, 3) and t.size(1) == 3 and t.size(-2) == 2     # PyTorch's size()
    assert t.requires_grad is False and t.grad is None and t.is_leaf
    assert not np.shares_memory(t.detach().numpy(), a)            # tensor() copies
    assert np.shares_memory(qf.as_tensor(a).detach().numpy(), a)  # as_tensor shares
    assert t.detach().numpy() is t.detach().numpy()
    assert t.tolist() == a.tolist()
    assert np.asarray(t).shape == (2, 3) and np.asarray(t, dtype=np.float64).dtype == np.float64
    assert len(t) == 2
    rows = list(t)
    assert len(rows) == 2 and rows[1].tolist() == [3.0, 4.0, 5.0]
    s = qf.tensor(2.5)
    assert s.item() == 2.5 and float(s) == 2.5 and int(qf.tensor(3)) == 3
    assert bool(qf.tensor(1.0)) and not bool(qf.tensor(0.0))
    assert [10, 20, 30][qf.tensor(1)] == 20                # __index__


def test_conversion_errors_are_clear():
    t = qf.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="one-element"):
        t.item()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(t)
    with pytest.raises(TypeError, match="0-d"):
        len(qf.tensor(1.0))
    with pytest.raises(TypeError, match="0-d"):
        iter(qf.tensor(1.0))


def test_repr_shows_values_dtype_and_grad_flag():
    r = repr(qf.tensor([1.5, -2.0], requires_grad=True))
    assert "1.5" in r and "-2." in r and "float32" in r and "requires_grad=True" in r
    y = qf.tensor([1.0], requires_grad=True) * 2
    assert "grad_fn=<Multiply>" in repr(y)
    r = repr(qf.tensor([1, 2]))
    assert "int64" in r and "requires_grad" not in r and "grad_fn" not in r


# ------------------------------------------------------------------ operators


def test_operators_on_both_sides_with_numbers_and_arrays():
    x = qf.tensor([1.0, 2.0, 4.0], requires_grad=True)
    a = np.array([2.0, 2.0, 2.0], dtype=np.float32)
    cases = [
        (2 - x, [1, 0, -2]), (x - 2, [-1, 0, 2]), (2 / x, [2, 1, 0.5]), (x / 2, [0.5, 1, 2]),
        (2 ** x, [2, 4, 16]), (x ** 2, [1, 4, 16]), (a - x, [1, 0, -2]), (x * a, [2, 4, 8]),
        (a ** x, [2, 4, 16]), (-x, [-1, -2, -4]), (+x, [1, 2, 4]), (abs(-x), [1, 2, 4]),
        (7 // x, [7, 3, 1]), (7 % x, [0, 1, 3]), (x + x, [2, 4, 8]), (1 + x, [2, 3, 5]),
    ]
    for y, want in cases:
        assert isinstance(y, qf.Tensor)
        np.testing.assert_allclose(y.detach().numpy(), want)
    m = np.ones((2, 3), np.float32)
    assert (m @ x).shape == (2,) and isinstance(m @ x, qf.Tensor)
    assert (x @ x).item() == 21.0


def test_reflected_operator_gradients():
    x = qf.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    (g,) = qf.grad((2 - x).sum(), x)
    np.testing.assert_allclose(g.detach().numpy(), [-1, -1])
    (g,) = qf.grad((2 / x).sum(), x)
    np.testing.assert_allclose(g.detach().numpy(), [-2.0, -0.5])
    (g,) = qf.grad((2 ** x).sum(), x)
    np.testing.assert_allclose(g.detach().numpy(), [2 * math.log(2), 4 * math.log(2)])
    assert qf.gradcheck(lambda t: 3 / t + 2 ** t - 1.5 * t, [x])


def test_comparisons_give_bool_without_grad():
    x = qf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for y, want in [(x > 2, [0, 0, 1]), (x >= 2, [0, 1, 1]), (x < 2, [1, 0, 0]),
                    (x <= 2, [1, 1, 0]), (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1]),
                    (2 < x, [0, 0, 1]), (np.float32(2) == x, [0, 1, 0])]:
        assert y.dtype == np.bool_ and not y.requires_grad and y.is_leaf
        assert y.tolist() == [bool(v) for v in want]
    both = (x > 1) & (x < 3)
    assert both.tolist() == [False, True, False] and not both.requires_grad
    assert ((x < 2) | (x > 2)).tolist() == [True, False, True]
    assert (~(x > 1)).tolist() == [True, False, False]
    assert x.argmax().item() == 2 and not x.argmax().requires_grad


def test_int_and_bool_tensors_cannot_require_grad():
    for data in ([1, 2], [True, False], np.array([1], np.int32)):
        with pytest.raises(TypeError, match="floating"):
            qf.tensor(data, requires_grad=True)
        with pytest.raises(TypeError, match="floating"):
            qf.tensor(data).requires_grad_()
    i = qf.tensor([1, 2])
    f = qf.tensor([0.5, 0.5], requires_grad=True)
    assert not (i * 2).requires_grad and not (i + i).requires_grad
    y = i * f                       # mixed: the float side gets the gradient
    assert y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(f.grad.numpy(), [1, 2])
    assert i.grad is None
    assert not (f * 2).long().requires_grad    # casting to int cuts the graph


def test_detach_clone_and_requires_grad_():
    x = qf.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.detach().numpy(), y.detach().numpy())
    c = y.clone()
    assert c.requires_grad and not np.shares_memory(c.detach().numpy(), y.detach().numpy())
    c.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).requires_grad_(False)
    z = qf.tensor([1.0])
    assert z.requires_grad_() is z and z.requires_grad


def test_methods_mirror_functions():
    x = qf.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose(x.sum(axis=1).detach().numpy(), [3, 12])
    np.testing.assert_allclose(x.mean(0, keepdims=True).detach().numpy(), [[1.5, 2.5, 3.5]])
    assert x.reshape(3, 2).shape == (3, 2) and x.reshape(-1).shape == (6,)
    assert x.T.shape == (3, 2) and x.transpose(1, 0).shape == (3, 2)
    assert x.unsqueeze(0).shape == (1, 2, 3) and x[None].squeeze().shape == (2, 3)
    assert x.flatten().shape == (6,) and x.max().item() == 5 and x.argmin().item() == 0
    np.testing.assert_allclose(x.exp().log().detach().numpy(), x.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.clip(1, 4).detach().numpy(), np.clip(x.detach().numpy(), 1, 4))
    np.testing.assert_allclose(x.softmax(axis=1).detach().numpy().sum(1), [1, 1], rtol=1e-6)
    assert x.var(ddof=1).item() == pytest.approx(3.5) and x.var().item() == pytest.approx(3.5)   # unbiased
    assert x.std(unbiased=False).item() == pytest.approx(np.std(np.arange(6)))


def test_int_tensor_to_float_power_follows_pytorch_dtype():
    a = np.array([2, 3])
    for p in (2.0, 3.0, 2, 0.5):
        out = (qf.tensor(a) ** p).detach().numpy()
        ref = a ** p
        # PyTorch: an int tensor to a float power gives the default float, to an int power int64
        assert out.dtype == (np.float32 if isinstance(p, float) else np.int64), (p, out.dtype)
        np.testing.assert_allclose(out, ref)
