"""``qiflow.autograd`` against ``torch.autograd`` (issue 12 part 3): ``grad``'s and
``backward``'s signatures, ``functional.jacobian/hessian/vjp/jvp/vhp/hvp`` with
PyTorch's return structure, and the grad modes (``no_grad``, ``enable_grad``,
``set_grad_enabled``, ``inference_mode``) and ``set_detect_anomaly``."""
import numpy as np
import pytest

import qiflow as qf
from qiflow.autograd import functional as QF

torch = pytest.importorskip("torch")
TF = torch.autograd.functional

rng = np.random.default_rng(0)
A = rng.standard_normal((3, 4))
B = rng.standard_normal((2, 3))


def _fns(lib):
    """The same functions written once per library (only operators both dialects share)."""
    return {
        "tanh_mat": (lambda x: lib.tanh(x @ x.T) * x.sum(), (A,)),
        "two_in_two_out": (lambda x, y: ((x * x).sum() * y, lib.exp(y).sum() + (x ** 3).sum()), (A, B)),
        "scalar": (lambda x: (lib.sin(x) * x).sum(), (A,)),
        "scalar2": (lambda x, y: (x.sum() * (y * y).sum()) + (x * x * x).sum(), (A, B)),
    }


def _t(a, req=False):
    return torch.tensor(a, dtype=torch.float64, requires_grad=req)


def _q(a, req=False):
    return qf.tensor(a, dtype="float64", requires_grad=req)


def _close(q, t):
    if isinstance(t, (tuple, list)):
        assert isinstance(q, tuple) and len(q) == len(t)
        for a, b in zip(q, t):
            _close(a, b)
        return
    assert isinstance(q, qf.Tensor), type(q)
    assert tuple(q.shape) == tuple(t.shape)
    np.testing.assert_allclose(q.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-10)


def _inputs(args, one, mk):
    xs = tuple(mk(a) for a in args)
    return xs[0] if one else xs


@pytest.mark.parametrize("name", ["tanh_mat", "two_in_two_out", "scalar", "scalar2"])
@pytest.mark.parametrize("as_tuple", [False, True])
def test_jacobian_matches_torch(name, as_tuple):
    fq, args = _fns(qf)[name]
    ft, _ = _fns(torch)[name]
    one = len(args) == 1 and not as_tuple
    _close(QF.jacobian(fq, _inputs(args, one, _q)), TF.jacobian(ft, _inputs(args, one, _t)))


@pytest.mark.parametrize("name", ["scalar", "scalar2"])
def test_hessian_matches_torch(name):
    fq, args = _fns(qf)[name]
    ft, _ = _fns(torch)[name]
    one = len(args) == 1
    _close(QF.hessian(fq, _inputs(args, one, _q)), TF.hessian(ft, _inputs(args, one, _t)))


@pytest.mark.parametrize("name", ["tanh_mat", "two_in_two_out", "scalar2"])
def test_vjp_and_jvp_match_torch(name):
    fq, args = _fns(qf)[name]
    ft, _ = _fns(torch)[name]
    one = len(args) == 1
    tout = ft(*(_t(a) for a in args))
    touts = tout if isinstance(tout, tuple) else (tout,)
    v_out = [rng.standard_normal(tuple(o.shape)) for o in touts]
    v_in = [rng.standard_normal(a.shape) for a in args]

    def pack(vs, mk, single):
        vs = tuple(mk(v) for v in vs)
        return vs[0] if single else vs

    single_out = not isinstance(tout, tuple)
    _close(QF.vjp(fq, _inputs(args, one, _q), pack(v_out, _q, single_out)),
           TF.vjp(ft, _inputs(args, one, _t), pack(v_out, _t, single_out)))
    _close(QF.jvp(fq, _inputs(args, one, _q), pack(v_in, _q, one)),
           TF.jvp(ft, _inputs(args, one, _t), pack(v_in, _t, one)))


@pytest.mark.parametrize("name", ["scalar", "scalar2"])
def test_hvp_vhp_match_torch(name):
    fq, args = _fns(qf)[name]
    ft, _ = _fns(torch)[name]
    one = len(args) == 1
    v = [rng.standard_normal(a.shape) for a in args]
    vq = _q(v[0]) if one else tuple(map(_q, v))
    vt = _t(v[0]) if one else tuple(map(_t, v))
    _close(QF.hvp(fq, _inputs(args, one, _q), vq), TF.hvp(ft, _inputs(args, one, _t), vt))
    _close(QF.vhp(fq, _inputs(args, one, _q), vq), TF.vhp(ft, _inputs(args, one, _t), vt))


def test_vjp_v_none_for_scalar_output_and_errors():
    out, g = QF.vjp(lambda x: (x * x).sum(), _q(A))
    np.testing.assert_allclose(g.numpy(), 2 * A)
    assert not out.requires_grad and not g.requires_grad
    with pytest.raises(RuntimeError, match="v can be None only"):
        QF.vjp(lambda x: x * 2, _q(A))
    with pytest.raises(RuntimeError, match="shape"):
        QF.vjp(lambda x: x * 2, _q(A), _q(B))
    with pytest.raises(TypeError, match="tensor or a tuple of tensors"):
        QF.jacobian(lambda x: x, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="single-element"):
        QF.hessian(lambda x: x * 2, _q(A))


def test_strict_and_unused_inputs_follow_torch():
    f_q = lambda x, y: x * 2.0           # noqa: E731  (y unused)
    f_t = lambda x, y: x * 2.0           # noqa: E731
    jq = QF.jacobian(f_q, (_q(B), _q(A)))
    jt = TF.jacobian(f_t, (_t(B), _t(A)))
    _close(jq, jt)
    assert not jq[1].numpy().any()
    with pytest.raises(RuntimeError, match="independent of input 1"):
        QF.jacobian(f_q, (_q(B), _q(A)), strict=True)
    with pytest.raises(RuntimeError):
        TF.jacobian(f_t, (_t(B), _t(A)), strict=True)


def test_create_graph_gives_differentiable_results():
    x = _q(A[0], req=True)
    j = QF.jacobian(lambda z: z ** 3, x, create_graph=True)
    assert j.requires_grad
    (gq,) = qf.autograd.grad(j.sum(), x)
    xt = _t(A[0], req=True)
    (gt,) = torch.autograd.grad(TF.jacobian(lambda z: z ** 3, xt, create_graph=True).sum(), xt)
    _close(gq, gt)
    h = QF.hessian(lambda z: (z ** 4).sum(), x, create_graph=False)
    assert not h.requires_grad


# --------------------------------------------------------------- autograd.grad
def test_grad_signature_options():
    x, y = _q(A, True), _q(B, True)
    out = (x * 3.0).sum()
    with pytest.raises(RuntimeError, match="not used"):
        qf.autograd.grad(out, (x, y), retain_graph=True)
    gx, gy = qf.autograd.grad(out, (x, y), allow_unused=True, retain_graph=True)
    assert gy is None and np.allclose(gx.numpy(), 3.0)
    gx, gy = qf.autograd.grad(out, (x, y), materialize_grads=True, only_inputs=True, retain_graph=True)
    assert gy.shape == B.shape and not gy.numpy().any()
    with pytest.raises(ValueError, match="allow_unused"):
        qf.autograd.grad(out, (x, y), allow_unused=False, materialize_grads=True)
    with pytest.raises(NotImplementedError, match="is_grads_batched"):
        qf.autograd.grad(out, x, is_grads_batched=True)
    xt, yt = _t(A, True), _t(B, True)
    ot = (xt * 3.0).sum()
    gt = torch.autograd.grad(ot, (xt, yt), materialize_grads=True)
    _close((gx, gy), gt)


def test_backward_inputs_and_gradient_keyword():
    x, y = _q(A, True), _q(B, True)
    z = (x.sum() * y).sum()
    qf.autograd.backward(z, inputs=[y], retain_graph=True)
    assert x.grad is None
    np.testing.assert_allclose(y.grad.numpy(), np.full(B.shape, A.sum()))
    z.backward(inputs=[x])
    np.testing.assert_allclose(x.grad.numpy(), np.full(A.shape, B.sum()))
    w = _q([1.0, 2.0], True)
    (w * w).backward(gradient=_q([1.0, 10.0]))
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 40.0])
    qf.autograd.backward([(w * 1.0)], grad_tensors=[_q([1.0, 1.0])])
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 41.0])


def test_function_and_variable_exported():
    class Square(qf.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = qf.autograd.Variable(qf.tensor([3.0]), requires_grad=True)
    Square.apply(x).sum().backward()
    assert x.grad.tolist() == [6.0]
    with pytest.raises(TypeError, match="volatile"):
        qf.autograd.Variable(qf.ones(1), volatile=True)


# ---------------------------------------------------------------- grad modes
@pytest.mark.parametrize("lib", [qf, torch])
def test_grad_mode_semantics_are_torchs(lib):
    x = lib.ones(2, requires_grad=True)
    lib.set_grad_enabled(False)             # a plain call switches at once
    try:
        assert not (x * 2).requires_grad and not lib.is_grad_enabled()
    finally:
        lib.set_grad_enabled(True)
    with lib.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert lib.is_grad_enabled()

    @lib.no_grad                           # bare decorator
    def f(t):
        return t * 2

    @lib.no_grad()
    def rec(t, n):
        return t * 2 if n == 0 else rec(t, n - 1)   # re-entrant: the mode comes back after

    assert not f(x).requires_grad and not rec(x, 3).requires_grad and lib.is_grad_enabled()
    with lib.no_grad():
        with lib.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad

    @lib.set_grad_enabled(False)
    def g(t):
        return t * 2
    assert lib.is_grad_enabled() and not g(x).requires_grad and lib.is_grad_enabled()


@pytest.mark.parametrize("lib", [qf, torch])
def test_inference_mode(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.inference_mode():
        assert not (x * 2).requires_grad and lib.is_inference_mode_enabled()
    assert not lib.is_inference_mode_enabled()
    with lib.inference_mode(False):
        assert (x * 2).requires_grad

    @lib.inference_mode()
    def f(t):
        return t * 2

    @lib.inference_mode
    def g(t):
        return t * 2
    assert not f(x).requires_grad and not g(x).requires_grad and lib.is_grad_enabled()


def test_set_detect_anomaly():
    x = qf.tensor([1.0, 0.0], requires_grad=True)
    with qf.autograd.set_detect_anomaly(True):
        assert qf.is_anomaly_enabled()
        with pytest.raises(qf.AnomalyError, match="Log"):
            qf.log(x)
        with qf.autograd.set_detect_anomaly(False):
            qf.log(x)                       # off inside: no error
        assert qf.is_anomaly_enabled()
    assert not qf.is_anomaly_enabled()
    qf.set_detect_anomaly(True)             # a plain call switches at once ...
    try:
        with pytest.raises(qf.AnomalyError):
            qf.log(x)
    finally:
        qf.set_detect_anomaly(False)        # ... and off again (leaving nothing on the stack)
    assert not qf.is_anomaly_enabled()
    qf.log(x)
    with qf.autograd.detect_anomaly(check_nan=False):
        qf.log(x)
    with torch.autograd.set_detect_anomaly(True):
        assert torch.is_anomaly_enabled()


def _clamp_exp(lib, style):
    """exp(x) * y with a saved output, needs_input_grad, and a non-differentiable mask output."""
    class ClampExp(lib.autograd.Function):
        if style == "ctx":
            @staticmethod
            def forward(ctx, x, y, scale):
                out = lib.exp(x) * y * scale
                mask = x > 0
                ctx.mark_non_differentiable(mask)
                ctx.save_for_backward(out, y)
                ctx.scale = scale
                return out, mask
        else:
            @staticmethod
            def forward(x, y, scale):
                return lib.exp(x) * y * scale, x > 0

            @staticmethod
            def setup_context(ctx, inputs, output):
                _x, y, scale = inputs
                out, mask = output
                ctx.mark_non_differentiable(mask)
                ctx.save_for_backward(out, y)
                ctx.scale = scale

        @staticmethod
        def backward(ctx, g_out, g_mask):
            out, y = ctx.saved_tensors
            gx = g_out * out if ctx.needs_input_grad[0] else None
            gy = g_out * out / y if ctx.needs_input_grad[1] else None
            return gx, gy, None
    return ClampExp


@pytest.mark.parametrize("style", ["ctx", "setup_context"])
@pytest.mark.parametrize("y_grad", [True, False])
def test_function_matches_torch(style, y_grad):
    xa, ya = A[0], np.abs(A[1]) + 0.5
    res = []
    for lib, mk in ((qf, _q), (torch, _t)):
        x, y = mk(xa, True), mk(ya, y_grad)
        out, mask = _clamp_exp(lib, style).apply(x, y, 2.0)
        (out * out).sum().backward()
        res.append((out.detach().numpy(), mask.numpy(), x.grad.numpy(),
                    None if y.grad is None else y.grad.numpy(), mask.requires_grad))
    (qo, qm, qgx, qgy, qreq), (to, tm, tgx, tgy, treq) = res
    np.testing.assert_allclose(qo, to, rtol=1e-12)
    np.testing.assert_array_equal(qm, tm)
    np.testing.assert_allclose(qgx, tgx, rtol=1e-12)
    assert (qgy is None) == (tgy is None) and qreq == treq is False
    if qgy is not None:
        np.testing.assert_allclose(qgy, tgy, rtol=1e-12)


def test_once_differentiable_backward_records_nothing():
    class Sq(qf.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @qf.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = _q([3.0], True)
    (g,) = qf.autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
    assert g.tolist() == [6.0] and not g.requires_grad
    with pytest.raises(RuntimeError):
        qf.autograd.grad(g.sum(), x)
