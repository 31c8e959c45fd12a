"""The eager backward engine: accumulation, graph freeing, higher order,
qf.grad, jvp/hvp, hooks, no_grad, deep graphs, the in-place policy and
gradcheck's own ability to fail."""
import gc
import weakref

import numpy as np
import pytest

import qiflow as qf
from qiflow.ops.base import Op, apply


def f64(data, requires_grad=True):
    return qf.tensor(np.asarray(data, dtype=np.float64), requires_grad=requires_grad)


def fd_grad(f, x, eps=1e-6):
    """Central differences of a scalar NumPy function."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        d = np.zeros_like(x)
        d[i] = eps
        g[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return g


# -------------------------------------------------------------- accumulation


def test_gradients_accumulate_until_reset():
    x = qf.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])


def test_a_tensor_used_many_times_gets_the_sum():
    x = qf.tensor(3.0, requires_grad=True)
    y = x * x + x * 2 + x
    y.backward()
    assert x.grad.item() == 2 * 3 + 2 + 1
    w = qf.tensor([1.0, 2.0], requires_grad=True)
    z = (w[0] * w + w[[1, 1]]).sum()   # a slice, a whole use and repeated indices
    z.backward()
    np.testing.assert_allclose(w.grad.numpy(), [1 + 3, 1 + 2])


def test_broadcast_gradients_are_summed_to_input_shape():
    a = qf.tensor(np.ones((2, 1, 3)), requires_grad=True)
    b = qf.tensor(np.ones(3) * 2, requires_grad=True)
    c = qf.tensor(2.0, requires_grad=True)
    (a * b * c).sum().backward()
    assert a.grad.shape == (2, 1, 3) and b.grad.shape == (3,) and c.grad.shape == ()
    np.testing.assert_allclose(b.grad.numpy(), [4, 4, 4])
    assert c.grad.item() == 12


# ------------------------------------------------------------ graph lifetime


def test_second_backward_without_retain_graph_is_a_clear_error():
    x = qf.tensor(2.0, requires_grad=True)
    y = x * x * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = qf.tensor(2.0, requires_grad=True)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 8.0


def test_backward_releases_saved_activations():
    x = qf.tensor(np.ones(1000), requires_grad=True)
    h = x * 2
    ref = weakref.ref(h)
    loss = (h * h).sum()
    del h
    gc.collect()
    assert ref() is not None            # the graph holds it until backward
    losses = [loss]
    loss.backward()
    gc.collect()
    assert ref() is None                # kept loss tensors keep no activations alive
    assert losses[0].item() == 4000.0


# --------------------------------------------------------------- higher order


def test_second_and_third_derivative_of_cube():
    x = f64([-1.5, 0.5, 2.0])
    (g,) = qf.grad((x ** 3).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2)
    (h,) = qf.grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(h.detach().numpy(), 6 * x.detach().numpy())       # d2/dx2 x^3 = 6x
    (t,) = qf.grad(h.sum(), x)
    np.testing.assert_allclose(t.detach().numpy(), [6, 6, 6])


def test_backward_create_graph_then_differentiate_the_gradient():
    x = qf.tensor(3.0, requires_grad=True)
    (x ** 3).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.item() == 27.0
    x.grad = None
    g.backward()
    assert x.grad.item() == 18.0


def test_hvp_matches_finite_differences():
    a = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, 0.3], [0.1, 0.3, 3.0]])

    def f_np(v):
        return np.sin(v).sum() * (v @ a @ v) + np.exp(v[0] * v[1])

    def f(t):
        return qf.sin(t).sum() * (t @ qf.tensor(a) @ t) + qf.exp(t[0] * t[1])

    x0 = np.array([0.3, -0.7, 1.1])
    v = np.array([1.0, -2.0, 0.5])
    val, hv = qf.hvp(f, f64(x0, False), f64(v, False))
    assert val.item() == pytest.approx(f_np(x0))
    eps = 1e-5
    num = (fd_grad(f_np, x0 + eps * v) - fd_grad(f_np, x0 - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hv.detach().numpy(), num, rtol=1e-4, atol=1e-6)


def test_jvp_matches_finite_differences():
    def f(a, b):
        return qf.tanh(a) * b + a @ qf.tensor(np.ones((3, 3)))

    def f_np(a, b):
        return np.tanh(a) * b + a @ np.ones((3, 3))

    a0, b0 = np.array([0.2, -0.4, 0.9]), np.array([1.5, 0.5, -1.0])
    ta, tb = np.array([1.0, 0.0, -1.0]), np.array([0.3, 0.3, 0.3])
    y, jv = qf.jvp(f, [f64(a0, False), f64(b0, False)], [f64(ta, False), f64(tb, False)])
    eps = 1e-6
    num = (f_np(a0 + eps * ta, b0 + eps * tb) - f_np(a0 - eps * ta, b0 - eps * tb)) / (2 * eps)
    np.testing.assert_allclose(y.detach().numpy(), f_np(a0, b0))
    np.testing.assert_allclose(jv.detach().numpy(), num, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------- qf.grad


def test_grad_of_non_leaves_and_unused_inputs():
    x = qf.tensor([1.0, 2.0], requires_grad=True)
    unused = qf.tensor(1.0, requires_grad=True)
    m = x * x
    y = (m * 3).sum()
    gm, gx, gu = qf.grad(y, [m, x, unused], allow_unused=True)
    np.testing.assert_allclose(gm.detach().numpy(), [3, 3])
    np.testing.assert_allclose(gx.detach().numpy(), [6, 12])
    assert gu is None
    assert x.grad is None and m.grad is None        # qf.grad leaves .grad untouched
    y2 = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        qf.grad(y2, [x, unused])


def test_grad_with_grad_outputs_and_several_outputs():
    x = qf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    (g,) = qf.grad(y, x, grad_outputs=qf.tensor([1.0, 0.0, 2.0]))
    np.testing.assert_allclose(g.detach().numpy(), [2, 0, 12])
    (g,) = qf.grad([x.sum(), (x * x).sum()], [x])
    np.testing.assert_allclose(g.detach().numpy(), [3, 5, 7])
    with pytest.raises(RuntimeError, match="does not require grad"):
        qf.grad(x.sum(), qf.tensor([1.0]))


def test_non_scalar_backward_without_grad_is_a_clear_error():
    x = qf.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*pass grad"):
        y.backward()
    y.backward(qf.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2, 20])
    with pytest.raises(RuntimeError, match="does not match"):
        (x * 2).backward(qf.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        qf.tensor(1.0).backward()


# ----------------------------------------------------------------------- hooks


def test_hooks_see_and_may_replace_gradients():
    x = qf.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h1 = x.register_hook(lambda g: seen.append(g.detach().numpy().copy()))
    h2 = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3, 3])
    np.testing.assert_allclose(x.grad.numpy(), [30, 30])
    h1.remove()
    h2.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])
    assert len(seen) == 1


def test_post_accumulate_grad_hooks_see_the_accumulated_grad():
    w = qf.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    (w * 3).sum().backward()
    (w * w).sum().backward()                  # accumulates: [3, 3] + [2, 4]
    np.testing.assert_allclose(seen[0], [3, 3])
    np.testing.assert_allclose(seen[1], [5, 7])
    h.remove()
    (w * 3).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)


def test_hook_on_a_non_leaf_changes_what_flows_upstream():
    x = qf.tensor([1.0, 2.0], requires_grad=True)
    m = x * 2
    m.register_hook(lambda g: g + 1)
    (m * m).sum().backward()                  # dL/dm = 2m = [4, 8] -> [5, 9]
    np.testing.assert_allclose(x.grad.numpy(), [10, 18])
    with pytest.raises(RuntimeError, match="does not require grad"):
        qf.tensor([1.0]).register_hook(lambda g: g)


def test_retain_grad_keeps_non_leaf_grad():
    x = qf.tensor(2.0, requires_grad=True)
    m = x * 3
    m.retain_grad()
    n = x * 4
    (m * n).backward()
    assert m.grad.item() == 8.0 and n.grad is None and x.grad.item() == 48.0


# --------------------------------------------------------------------- no_grad


def test_no_grad_as_context_and_decorator():
    x = qf.tensor([1.0], requires_grad=True)
    with qf.no_grad():
        y = x * 2
        assert not qf.is_grad_enabled()
        with qf.enable_grad():
            z = x * 2
    assert qf.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf and z.requires_grad

    @qf.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad and qf.is_grad_enabled()
    with qf.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with pytest.raises(ZeroDivisionError):
        with qf.no_grad():
            1 / 0
    assert qf.is_grad_enabled()        # restored after an exception


def test_stop_gradient_and_detach_cut_the_graph():
    x = qf.tensor(3.0, requires_grad=True)
    y = x * qf.functional.stop_gradient(x) + x.detach() * x
    y.backward()
    assert x.grad.item() == 6.0        # only the two non-detached factors count


# ---------------------------------------------------------------- deep graphs


def test_chain_of_100000_ops_has_no_recursion_error():
    x = qf.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(50000):
        y = y * 1.0
        y = y + 0.0
    y.backward()
    assert x.grad.item() == 1.0


# ----------------------------------------------------------------- in place


def test_in_place_on_a_leaf_that_requires_grad_is_refused():
    w = qf.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w += 1
    with pytest.raises(RuntimeError, match="in-place"):
        w.mul_(2)
    with pytest.raises(RuntimeError, match="in-place"):
        w[0] = 5.0
    np.testing.assert_allclose(w.detach().numpy(), [1, 2])


def test_in_place_on_a_non_leaf_is_recorded_as_in_pytorch():
    import torch
    for make in (lambda t, h: h.add_(1), lambda t, h: h.mul_(t), lambda t, h: h.__iadd__(t),
                 lambda t, h: h.clamp_(0.0, 3.0), lambda t, h: h.div_(2)):
        w = qf.tensor([1.0, 2.0], requires_grad=True, dtype="float64")
        tw = torch.tensor([1.0, 2.0], requires_grad=True, dtype=torch.float64)
        h, th = w * 2, tw * 2
        h2 = make(w, h)
        make(tw, th)
        assert h2 is h and h.requires_grad and not h.is_leaf   # the same tensor, a new history
        (h * h).sum().backward()
        (th * th).sum().backward()
        np.testing.assert_allclose(h.detach().numpy(), th.detach().numpy())
        np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy())


def test_in_place_allowed_where_no_gradient_is_recorded():
    w = qf.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with qf.no_grad():
        w -= 0.1 * w.grad              # what an optimizer does
        w.add_(1.0)
        w[1] = 0.0
    np.testing.assert_allclose(w.detach().numpy(), [1.8, 0.0])
    assert w.requires_grad and w.is_leaf
    t = qf.tensor([1.0, 2.0])          # outside any graph: always allowed
    t += 1
    t.mul_(2).zero_()
    assert t.tolist() == [0.0, 0.0]


def test_modifying_a_saved_tensor_raises_at_backward():
    w = qf.tensor([1.0, 2.0], requires_grad=True)
    h = w * 2
    y = (h * h).sum()                  # saves h
    with qf.no_grad():
        h.add_(1)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
    a = qf.tensor([1.0, 2.0])
    b = qf.tensor([3.0, 4.0], requires_grad=True)
    z = (a * b).sum()                  # saves a, which needs no grad itself
    a.mul_(2)
    with pytest.raises(RuntimeError, match="modified in place"):
        z.backward()


@pytest.mark.parametrize("how", ["backward", "backward(create_graph)", "grad", "grad(create_graph)"])
def test_the_version_check_runs_on_every_backward_path(how):
    # grad(..., create_graph=True) used to skip it and return [202., 204.] here
    x = qf.tensor([1.0, 2.0], requires_grad=True, dtype="float64")
    y = x * 1.0
    z = (y * y).sum()
    with qf.no_grad():
        y += 100
    with pytest.raises(RuntimeError, match="modified in place"):
        if how.startswith("backward"):
            z.backward(create_graph="create_graph" in how)
        else:
            qf.grad(z, x, create_graph="create_graph" in how)


@pytest.mark.parametrize("view", [lambda b: b[:2], lambda b: b.reshape(3, 1)[:2, 0],
                                  lambda b: b.detach()[:2], lambda b: b.T[:2]])
def test_a_view_of_a_tensor_without_grad_shares_its_version(view):
    # PyTorch raises here: w's gradient was computed from b's old values.
    w = qf.tensor([1.0, 2.0], requires_grad=True)
    b = qf.tensor([2.0, 3.0, 4.0])
    y = (w * view(b)).sum()
    b.add_(10)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
    w2 = qf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b2 = qf.tensor([2.0, 3.0, 4.0])
    y2 = (w2 * b2).sum()
    view(b2).add_(1)                   # a change through the view is a change of b2
    with pytest.raises(RuntimeError, match="modified in place"):
        y2.backward()


# ----------------------------------------------------------------- gradcheck


class _WrongSquare(Op):
    __slots__ = ()

    def forward(self, a):
        return a * a

    def vjp(self, ctx, inputs, output, g):
        return (g * 2 * inputs[0] + 0.01,)


def test_gradcheck_catches_a_wrong_vjp_and_names_the_input():
    x = f64([0.5, -1.0, 2.0])
    y = f64([1.0])
    with pytest.raises(qf.GradcheckError, match=r"input 1 \(shape \(3,\)\).*index"):
        qf.gradcheck(lambda a, b: apply(_WrongSquare(), b) * a, [y, x])
    assert qf.gradcheck(lambda b: apply(_WrongSquare(), b), [x], raise_exception=False) is False
    assert qf.gradcheck(lambda b: b * b, [x])


def test_gradcheck_warns_on_float32():
    x = qf.tensor([0.5, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="float64"):
        qf.gradcheck(lambda t: t * 2, [x], atol=1e-2, rtol=1e-2)
