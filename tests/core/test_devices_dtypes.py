"""Devices and dtypes as PyTorch spells them (issue 12 part 2): ``qf.device``,
``Tensor.device``/``to``/``cpu``/``cuda``, ``device=`` on creation functions,
``qf.cuda``, ``Module.to``/``half``/``double``, the dtype aliases and bfloat16.
PyTorch is the oracle where it is installed."""
import sys

import numpy as np
import pytest

import qiflow as qf

torch = pytest.importorskip("torch")


# --------------------------------------------------------------- qf.device
@pytest.mark.parametrize("args", [("cpu",), ("cpu:0",), ("cpu", 0), ("cuda",), ("cuda:1",), ("cuda", 2),
                                  ("mps",), ("meta",)])
def test_device_spellings_match_torch(args):
    q, t = qf.device(*args), torch.device(*args)
    assert (q.type, q.index) == (t.type, t.index)
    assert str(q) == str(t) and repr(q) == repr(t)
    assert qf.device(q) == q and hash(qf.device(*args)) == hash(q)


def test_device_equality_follows_torch():
    assert (qf.device("cpu") == qf.device("cpu:0")) == (torch.device("cpu") == torch.device("cpu:0"))
    assert (qf.device("cpu") == "cpu") == (torch.device("cpu") == "cpu")
    assert qf.device("cpu") != qf.device("cuda")


@pytest.mark.parametrize("bad", ["cpu:x", "gpu", "cuda:-1", ""])
def test_bad_device_strings_raise(bad):
    with pytest.raises(RuntimeError, match="device"):
        qf.device(bad)
    with pytest.raises(RuntimeError):
        torch.device(bad)


def test_device_is_immutable_and_typed():
    with pytest.raises(AttributeError):
        qf.device("cpu").type = "cuda"
    with pytest.raises(TypeError):
        qf.device(1.5)


# ------------------------------------------------------------- Tensor API
def test_tensor_device_and_cpu():
    x = qf.ones(2)
    assert x.device == qf.device("cpu") and str(x.device) == str(torch.ones(2).device)
    assert x.is_cuda is False
    assert x.cpu() is x


def test_cuda_raises_naming_what_is_missing():
    with pytest.raises(RuntimeError, match="CUDA backend"):
        qf.ones(2).cuda()
    with pytest.raises(RuntimeError, match="CPU only"):
        qf.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="'mps' is not available"):
        qf.ones(2).to(qf.device("mps"))
    with pytest.raises(RuntimeError, match="CUDA"):
        qf.nn.Linear(2, 2).cuda()
    with pytest.raises(RuntimeError, match="CUDA"):
        qf.nn.Linear(2, 2).to("cuda:0")


def test_default_device():
    assert qf.get_default_device() == qf.device("cpu") and str(qf.get_default_device()) == \
        str(torch.get_default_device())
    qf.set_default_device("cpu")
    qf.set_default_device(None)
    with pytest.raises(RuntimeError, match="CPU only"):
        qf.set_default_device("cuda")


def test_cuda_namespace():
    assert qf.cuda.is_available() is False and qf.cuda.device_count() == 0
    qf.cuda.manual_seed(0)                  # ignored, as PyTorch does without CUDA
    qf.cuda.manual_seed_all(0)
    with pytest.raises(RuntimeError, match="no CUDA backend"):
        qf.cuda.current_device()
    dev = qf.device("cuda" if qf.cuda.is_available() else "cpu")
    assert qf.zeros(2, device=dev).device == dev


def test_backends_and_accelerator_answer_like_torch_without_a_gpu():
    assert qf.backends.mps.is_available() is False and qf.backends.mps.is_built() is False
    assert qf.backends.cudnn.is_available() is False
    qf.backends.cudnn.deterministic = True          # programs set these; nothing changes
    qf.backends.cudnn.benchmark = False
    assert qf.accelerator.is_available() is False and qf.accelerator.current_accelerator() is None
    if not torch.cuda.is_available():
        assert torch.accelerator.is_available() is False and torch.accelerator.current_accelerator() is None
        assert torch.backends.cudnn.is_available() is False
    use_accel = qf.accelerator.is_available()
    dev = qf.accelerator.current_accelerator() if use_accel else qf.device("cpu")
    assert qf.ones(1).to(dev).device == dev


@pytest.mark.parametrize("call", [
    lambda x, m: x.to(m.float64),
    lambda x, m: x.to("cpu"),
    lambda x, m: x.to("cpu", m.float64),
    lambda x, m: x.to(device="cpu", dtype=m.float16),
    lambda x, m: x.to(m.device("cpu"), m.int64),
    lambda x, m: x.to(m.float32, non_blocking=True),
    lambda x, m: x.to(m.float32, copy=True),
    lambda x, m: x.to(m.float64, False, True),
    lambda x, m: x.to(dtype=m.int32),
    lambda x, m: x.to(m.ones(1, dtype=m.float64)),
    lambda x, m: x.to(m.ones(1, dtype=m.int64), copy=True),
])
def test_to_overloads_match_torch(call):
    a = np.array([1.5, -2.0, 3.25], np.float32)
    qx, tx = qf.tensor(a), torch.tensor(a)
    qy, ty = call(qx, qf), call(tx, torch)
    assert str(qy.dtype) == str(ty.dtype).replace("torch.", "")
    np.testing.assert_array_equal(qy.numpy(), ty.numpy())
    assert (qy is qx) == (ty is tx)


@pytest.mark.parametrize("dt", ["bool", "uint8", "int32", "float16", "float64"])
def test_copies_keep_the_dtype(dt):
    x = qf.tensor([1, 0, 1]).to(dt)
    for c in (x.clone(), x.to(x.dtype, copy=True), x.to("cpu", copy=True)):
        assert c.dtype == x.dtype and c is not x and not np.shares_memory(c.detach().numpy(), x.detach().numpy())
        np.testing.assert_array_equal(c.numpy(), x.numpy())


def test_to_is_differentiable_and_keeps_identity_when_nothing_changes():
    x = qf.tensor([1.0, 2.0], requires_grad=True)
    assert x.to(qf.float32) is x and x.to("cpu") is x
    y = x.to(qf.float64)
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert x.grad.dtype == np.float32
    c = x.to(qf.float32, copy=True)          # a copy that stays in the graph
    assert c is not x and not np.shares_memory(c.detach().numpy(), x.detach().numpy()) and c.requires_grad


@pytest.mark.parametrize("bad,err", [
    (("float",), "neither a device"),        # NumPy's 'float' is float64, PyTorch's float32: refused
    (("nonsense",), "neither a device"),
    ((qf.float32, qf.float64), "non_blocking must be a bool"),
    (("cpu", "cpu"), "non_blocking must be a bool"),
    ((qf.float32,), "dtype given twice"),
])
def test_to_bad_arguments_raise(bad, err):
    kw = {"dtype": qf.float64} if "twice" in err else {}
    with pytest.raises(TypeError, match=err):
        qf.ones(2).to(*bad, **kw)


def test_to_rejects_unknown_keywords_and_memory_format():
    with pytest.raises(TypeError, match="unexpected keyword"):
        qf.ones(2).to(qf.float64, blocking=True)
    with pytest.raises(TypeError, match="memory format"):
        qf.ones(2).to(memory_format="channels_last")


@pytest.mark.parametrize("method", ["float", "double", "half"])
@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.parametrize("src", ["int64", "float16", "float32", "float64"])
def test_float_double_half_have_fixed_widths_whatever_the_default(method, default, src):
    old_q, old_t = qf.get_default_dtype(), torch.get_default_dtype()
    qf.set_default_dtype(getattr(qf, default))
    torch.set_default_dtype(getattr(torch, default))
    try:
        q = qf.tensor([1, 2, 3]).to(getattr(qf, src))
        t = torch.tensor([1, 2, 3]).to(getattr(torch, src))
        qo, to = getattr(q, method)(), getattr(t, method)()
        assert str(qo.dtype) == str(to.dtype).replace("torch.", "")
        assert (qo is q) == (to is t)                   # self when the dtype is already right
        np.testing.assert_array_equal(qo.numpy(), to.numpy())
    finally:
        qf.set_default_dtype(old_q)
        torch.set_default_dtype(old_t)


def test_half_is_differentiable():
    x = qf.tensor([1.0, 2.0], requires_grad=True)
    y = x.half()
    assert y.dtype == np.float16 and y.requires_grad
    (y.float() * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert x.grad.dtype == np.float32


def test_is_floating_point():
    for dt in ("float16", "float32", "float64", "int64", "bool", "uint8"):
        assert qf.zeros(2, dtype=dt).is_floating_point() == \
            torch.zeros(2, dtype=getattr(torch, dt)).is_floating_point()
        assert qf.is_floating_point(qf.zeros(2, dtype=dt)) == (dt.startswith("float"))


# ----------------------------------------------------------- creation device=
@pytest.mark.parametrize("make", [
    lambda m, d: m.tensor([1.0, 2.0], device=d),
    lambda m, d: m.zeros(2, 3, device=d), lambda m, d: m.ones((2,), device=d),
    lambda m, d: m.empty(2, device=d), lambda m, d: m.full((2,), 3.0, device=d),
    lambda m, d: m.arange(4, device=d), lambda m, d: m.arange(0.0, 1.0, 0.25, device=d),
    lambda m, d: m.linspace(0, 1, steps=5, device=d), lambda m, d: m.eye(3, device=d),
    lambda m, d: m.rand(2, device=d), lambda m, d: m.randn(2, 2, device=d),
    lambda m, d: m.randint(0, 5, (3,), device=d), lambda m, d: m.randperm(4, device=d),
    lambda m, d: m.zeros_like(m.ones(2), device=d), lambda m, d: m.ones_like(m.ones(2), device=d),
    lambda m, d: m.full_like(m.ones(2), 7.0, device=d), lambda m, d: m.empty_like(m.ones(2), device=d),
    lambda m, d: m.rand_like(m.ones(2), device=d), lambda m, d: m.randn_like(m.ones(2), device=d),
    lambda m, d: m.randint_like(m.ones(2), 3, device=d),
])
def test_creation_functions_take_device(make):
    q, t = make(qf, "cpu"), make(torch, "cpu")
    assert q.device == qf.device("cpu") and tuple(q.shape) == tuple(t.shape)
    assert str(q.dtype) == str(t.dtype).replace("torch.", "")
    q0 = make(qf, qf.device("cpu", 0))
    assert tuple(q0.shape) == tuple(t.shape)
    with pytest.raises(RuntimeError, match="'cuda' is not available"):
        make(qf, "cuda")


def test_like_functions_values():
    x = qf.ones(3, 4, dtype="float64")
    assert qf.randn_like(x).shape == (3, 4) and qf.randn_like(x).dtype == np.float64
    r = qf.rand_like(x).numpy()
    assert ((r >= 0) & (r < 1)).all() and r.std() > 0
    ri = qf.randint_like(x, 2, 5).numpy()
    assert ((ri >= 2) & (ri < 5)).all() and ri.dtype == np.float64      # x's dtype, as in torch
    with pytest.raises(TypeError, match="floating dtype"):
        qf.randn_like(qf.ones(2, dtype="int64"))


# ----------------------------------------------------------------- dtypes
@pytest.mark.parametrize("name", ["float", "double", "half", "long", "int", "short", "bool", "uint8",
                                  "float16", "float32", "float64", "int8", "int16", "int32", "int64"])
def test_dtype_aliases_match_torch(name):
    q = getattr(qf, name)
    t = getattr(torch, name)
    assert str(q) == str(t).replace("torch.", "").replace("bool", "bool")
    assert qf.zeros(2, dtype=q).dtype == q
    np.testing.assert_array_equal(qf.tensor([1, 0, 2]).to(q).numpy(), torch.tensor([1, 0, 2]).to(t).numpy())


def test_default_dtype_round_trip():
    assert qf.get_default_dtype() == qf.float32 == qf.float
    qf.set_default_dtype(qf.float64)
    try:
        assert qf.tensor([1.0]).dtype == qf.double and qf.zeros(1).dtype == qf.double
    finally:
        qf.set_default_dtype(qf.float32)
    with pytest.raises(TypeError, match="floating"):
        qf.set_default_dtype(qf.long)


def test_bfloat16_through_ml_dtypes():
    pytest.importorskip("ml_dtypes")
    bf = qf.bfloat16
    x = qf.tensor([1.0, 2.5, 3.0]).to(bf)
    assert x.dtype == bf and str(x.dtype) == "bfloat16" and x.is_floating_point()
    ref = torch.tensor([1.0, 2.5, 3.0]).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(x.to(qf.float32).numpy(), ref)
    assert qf.zeros(2, dtype="bfloat16").dtype == bf
    with pytest.raises(TypeError, match="bfloat16"):
        qf.zeros(2, dtype=bf).requires_grad_()
    with pytest.raises(TypeError, match="bfloat16"):
        qf.nn.Linear(2, 2).to(bf)


def test_bfloat16_without_ml_dtypes_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)        # import ml_dtypes now fails
    with pytest.raises(AttributeError, match="ml_dtypes"):
        qf.bfloat16
    assert not hasattr(qf, "bfloat16")
    with pytest.raises(TypeError, match="ml_dtypes"):
        qf.zeros(2, dtype="bfloat16")


# ------------------------------------------------------------- Module.to
def _pair():
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    qm = qf.nn.Sequential(qf.nn.Linear(3, 4), qf.nn.BatchNorm1d(4))
    qm.load_state_dict({k: v.numpy().copy() for k, v in tm.state_dict().items()})
    return qm, tm


@pytest.mark.parametrize("call", [
    lambda m, lib: m.to(lib.float64), lambda m, lib: m.to("cpu", lib.float64),
    lambda m, lib: m.to(device="cpu", dtype=lib.float16), lambda m, lib: m.double(),
    lambda m, lib: m.half(), lambda m, lib: m.double().float(), lambda m, lib: m.to("cpu"),
    lambda m, lib: m.cpu(), lambda m, lib: m.to(lib.ones(1, dtype=lib.float64)),
    lambda m, lib: m.to(lib.float64, non_blocking=True),
])
def test_module_to_matches_torch(call):
    qm, tm = _pair()
    params = list(qm.parameters())
    assert call(qm, qf) is qm and call(tm, torch) is tm
    assert [p is q for p, q in zip(params, qm.parameters())] == [True] * len(params)
    qs, ts = qm.state_dict(), tm.state_dict()
    for k in ts:
        assert str(qs[k].dtype) == str(ts[k].dtype).replace("torch.", ""), k


def test_module_to_converts_grads_and_rejects_int():
    qm = qf.nn.Linear(2, 1)
    qm(qf.ones(3, 2)).sum().backward()
    qm.double()
    assert all(p.grad.dtype == np.float64 and p.dtype == np.float64 for p in qm.parameters())
    qm(qf.ones(3, 2, dtype="float64")).sum().backward()      # accumulates in float64
    assert qm.weight.grad.dtype == np.float64
    np.testing.assert_allclose(qm.bias.grad.numpy(), [6.0])
    with pytest.raises(TypeError, match="floating"):
        qm.to(qf.long)
    with pytest.raises(TypeError, match="floating"):
        torch.nn.Linear(2, 1).to(torch.long)


@pytest.mark.parametrize("name", ["float16", "float32", "float64", "bfloat16"])
def test_finfo_matches_torch(name):
    if name == "bfloat16":
        pytest.importorskip("ml_dtypes")
    q, t = qf.finfo(getattr(qf, name)), torch.finfo(getattr(torch, name))
    for attr in ("eps", "max", "min", "tiny", "bits"):
        assert float(getattr(q, attr)) == float(getattr(t, attr)), attr
    # NumPy keeps resolution (10**-precision) in the dtype itself, PyTorch as a Python float
    assert float(q.resolution) == pytest.approx(t.resolution, rel=1e-3)
    assert float(qf.finfo().eps) == float(torch.finfo().eps)


@pytest.mark.parametrize("name", ["int8", "int16", "int32", "int64", "uint8"])
def test_iinfo_matches_torch(name):
    q, t = qf.iinfo(getattr(qf, name)), torch.iinfo(getattr(torch, name))
    assert (int(q.max), int(q.min), q.bits) == (t.max, t.min, t.bits)
    with pytest.raises(TypeError, match="not a floating dtype"):
        qf.finfo(getattr(qf, name))
