"""The engine's fast paths keep their semantics: leaf gradients own their arrays,
in-place accumulation never leaks into another gradient, and skipped input
gradients (needs_input_grad) are only skipped when nobody wants them."""
import numpy as np

import qiflow as qf


def test_two_leaves_of_one_add_get_distinct_gradient_arrays():
    a = qf.ones(3, requires_grad=True)
    b = qf.ones(3, requires_grad=True)
    (a + b).sum().backward()
    assert a.grad.numpy() is not b.grad.numpy()
    a.grad.data *= 10                    # what an in-place clip or zero_grad(False) does
    assert b.grad.tolist() == [1.0, 1.0, 1.0]


def test_leaf_gradient_does_not_alias_the_callers_grad():
    a = qf.ones(3, requires_grad=True)
    g = qf.tensor([1.0, 2.0, 3.0])
    (a * 1).backward(g)
    a.grad.data[0] = 100.0
    assert g.tolist() == [1.0, 2.0, 3.0]


def test_accumulated_gradient_is_not_shared_with_a_passed_through_one():
    # x is used twice, so its gradient is a sum the engine owns; that sum then
    # flows through an add to two leaves, and a later contribution to one of
    # them must not change the other
    a = qf.tensor([1.0, 2.0], requires_grad=True)
    b = qf.tensor([3.0, 4.0], requires_grad=True)
    u = a * 7
    x = a + b
    y = u + (x * 2 + x * 3)           # d/da = 7 + 5 = 12, d/db = 5; u is differentiated after x
    y.sum().backward()
    assert a.grad.tolist() == [12.0, 12.0]
    assert b.grad.tolist() == [5.0, 5.0]


def test_weight_reused_many_times_accumulates_correctly():
    w = qf.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    h = qf.ones((1, 2), dtype="float64")      # same dtype as w: PyTorch refuses mixed products
    total = 0
    for _ in range(5):
        total = total + (h @ w).sum()
    total.backward()
    assert w.grad.tolist() == [[5.0] * 3, [5.0] * 3]


def test_matmul_skips_only_unwanted_input_gradient():
    x = qf.tensor(np.ones((2, 3)))                       # data: no gradient
    w = qf.tensor(np.ones((3, 4)), requires_grad=True)
    (x @ w).sum().backward()
    assert w.grad.tolist() == [[2.0] * 4] * 3
    xg = qf.tensor(np.ones((2, 3)), requires_grad=True)
    (xg @ w).sum().backward()
    assert xg.grad.tolist() == [[4.0] * 3] * 2


def test_log_softmax_primitive_matches_the_composite_and_has_second_order():
    x = qf.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    ref = x.detach().numpy() - np.log(np.exp(x.detach().numpy()).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(qf.log_softmax(x, axis=1).detach().numpy(), ref, rtol=1e-12)
    w = qf.tensor(np.random.default_rng(1).standard_normal((3, 4)))
    assert qf.gradcheck(lambda z: qf.log_softmax(z, axis=1) * w, [x])
    assert qf.gradgradcheck(lambda z: qf.log_softmax(z, axis=0) * w, [x])
