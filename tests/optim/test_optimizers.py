"""Optimizers step for step against PyTorch, param groups, state dicts, in-place updates."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import nn, optim

torch = pytest.importorskip("torch")


def make_pair(seed=0):
    rng = np.random.default_rng(seed)
    w1, b1 = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    w2, b2 = rng.standard_normal((3, 5)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    q = [nn.Parameter(qf.tensor(a)) for a in (w1, b1, w2, b2)]
    t = [torch.tensor(a, requires_grad=True) for a in (w1, b1, w2, b2)]
    return q, t


def loss_q(ps, x, y):
    h = qf.tanh(x @ ps[0].T + ps[1])
    return nn.functional.cross_entropy(h @ ps[2].T + ps[3], y)


def loss_t(ps, x, y):
    h = torch.tanh(x @ ps[0].T + ps[1])
    return torch.nn.functional.cross_entropy(h @ ps[2].T + ps[3], y)


def groups(ps, split, extra):
    return [{"params": ps[:2]}, {"params": ps[2:], **extra}] if split else ps


CASES = [
    ("SGD", dict(lr=0.1), None),
    ("SGD", dict(lr=0.1, momentum=0.9), None),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01), None),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1), dict(lr=0.2)),
    ("SGD", dict(lr=0.1, maximize=True), None),
    ("Adam", dict(lr=0.01), None),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.9), weight_decay=0.1, amsgrad=True), dict(lr=0.001)),
    ("AdamW", dict(lr=0.01), None),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, amsgrad=True), dict(weight_decay=0.0)),
    ("RMSprop", dict(lr=0.01), None),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01), dict(alpha=0.9)),
    ("Adagrad", dict(lr=0.1), None),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1), None),
    ("Adadelta", dict(), None),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1), dict(rho=0.95)),
    # maximize with weight decay: the decay is added after the gradient's negation
    ("SGD", dict(lr=0.1, momentum=0.5, weight_decay=0.3, maximize=True), None),
    ("Adam", dict(lr=0.01, weight_decay=0.3, maximize=True), None),
    ("RMSprop", dict(lr=0.01, weight_decay=0.3, maximize=True), None),
    ("Adagrad", dict(lr=0.1, weight_decay=0.3, maximize=True), None),
    ("Adadelta", dict(weight_decay=0.3, maximize=True), None),
]


@pytest.mark.parametrize("name,kw,group2", CASES)
def test_matches_pytorch_for_ten_steps(name, kw, group2):
    qp, tp = make_pair()
    qo = getattr(optim, name)(groups(qp, group2 is not None, group2 or {}), **kw)
    to = getattr(torch.optim, name)(groups(tp, group2 is not None, group2 or {}), **kw)
    rng = np.random.default_rng(1)
    for step in range(10):
        x = rng.standard_normal((8, 4)).astype(np.float32)
        y = rng.integers(0, 3, 8)
        qo.zero_grad(), to.zero_grad()
        loss_q(qp, qf.tensor(x), y).backward()
        loss_t(tp, torch.tensor(x), torch.tensor(y)).backward()
        qo.step(), to.step()
        for i, (a, b) in enumerate(zip(qp, tp)):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=2e-5, atol=2e-6,
                                       err_msg=f"{name} step {step} param {i}")


def test_update_is_in_place_and_float32():
    p = nn.Parameter(qf.ones(3))
    buf = p.detach().numpy()
    opt = optim.Adam([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    assert p.detach().numpy() is buf and p.dtype == np.float32
    assert opt.state[p]["exp_avg"].dtype == np.float32


def test_zero_grad_sets_none_and_skips_params_without_grad():
    a, b = nn.Parameter(qf.ones(2)), nn.Parameter(qf.ones(2))
    opt = optim.SGD([a, b], lr=1.0)
    (a * 2).sum().backward()
    opt.step()
    assert a.tolist() == [-1.0, -1.0] and b.tolist() == [1.0, 1.0]
    opt.zero_grad()
    assert a.grad is None


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta"])
def test_state_dict_round_trip_continues_identically(name):
    kw = dict(lr=0.05, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.05)
    (pa, _), (pb, _) = make_pair(), make_pair()
    oa = getattr(optim, name)(pa, **kw)
    rng = np.random.default_rng(2)
    data = [(qf.tensor(rng.standard_normal((8, 4)).astype(np.float32)), rng.integers(0, 3, 8)) for _ in range(6)]
    for x, y in data[:3]:
        oa.zero_grad(), loss_q(pa, x, y).backward(), oa.step()
    sd = oa.state_dict()
    for q, p in zip(pb, pa):
        q.data[...] = p.data
    ob = getattr(optim, name)(pb, lr=123.0)
    ob.load_state_dict(sd)
    assert ob.param_groups[0]["lr"] == 0.05
    for x, y in data[3:]:
        for o, ps in ((oa, pa), (ob, pb)):
            o.zero_grad(), loss_q(ps, x, y).backward(), o.step()
    for a, b in zip(pa, pb):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    # the saved state is a copy, not a view of the live buffers
    if sd["state"]:
        key = next(iter(sd["state"][0]))
        val = sd["state"][0][key]
        if isinstance(val, qf.Tensor):
            assert not np.shares_memory(val.detach().numpy(), next(iter(oa.state.values()))[key])


def test_errors():
    p = nn.Parameter(qf.ones(2))
    with pytest.raises(qf.QiflowError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(qf.QiflowError, match="invalid learning rate"):
        optim.SGD([p], lr=-1)
    with pytest.raises(qf.QiflowError, match="required optimization parameter 'lr'"):
        optim.SGD([p])
    with pytest.raises(qf.QiflowError, match="more than one group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(qf.QiflowError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(qf.QiflowError, match="leaf"):
        optim.SGD([p * 2], lr=0.1)
    opt = optim.Adam([p])
    with pytest.raises(qf.QiflowError, match="2 parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}, {"params": [1]}]})


def test_add_param_group_and_closure():
    a, b = nn.Parameter(qf.ones(1)), nn.Parameter(qf.ones(1))
    opt = optim.SGD([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.5})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]

    def closure():
        opt.zero_grad()
        loss = (a * b).sum()
        loss.backward()
        return loss
    with qf.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 1.0
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.5)


@pytest.mark.parametrize("where", ["x", "y", "fresh"])
@pytest.mark.parametrize("n, ydtype, a", [
    ((1 << 17) * 3 + 11, np.float32, -0.37), ((1 << 17) + 1, np.float64, 0.5),
    ((1 << 17) * 2, np.float32, np.float64(-1e-3)), (1000, np.float32, 2.0)])
def test_axpy_in_chunks_equals_the_whole_array_expression(where, n, ydtype, a):
    """x + y * a on a large array is computed chunk by chunk (out may be x or y);
    the result is bit for bit NumPy's whole-array expression, dtypes included."""
    from qiflow.ops.inplace import Axpy
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, n).astype(np.float32)
    y = rng.uniform(-1, 1, n).astype(ydtype if where != "y" else np.float32)
    want = np.empty_like(x)
    np.add(x, y * a, out=want, casting="same_kind")
    out = {"x": x, "y": y, "fresh": np.empty_like(x)}[where]
    Axpy().forward_into(out, x, y, a)
    np.testing.assert_array_equal(out, want)


def test_sgd_step_on_a_large_weight_needs_no_temporary_as_big_as_the_weight():
    """PyTorch's SGD updates in place with no copy of the weight; qiflow's needs one
    chunk (512 KB for float32), not a second 16 MB array, and the step is exact."""
    import tracemalloc
    rng = np.random.default_rng(0)
    w = nn.Parameter(qf.tensor(rng.standard_normal((2048, 2048)).astype(np.float32)))
    g = rng.standard_normal((2048, 2048)).astype(np.float32)
    w.grad = qf.tensor(g)
    want = w.detach().numpy() + g * np.float32(-0.01)
    opt = optim.SGD([w], lr=0.01)
    tracemalloc.start()
    try:
        opt.step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(w.detach().numpy(), want)
    assert peak < 2 << 20, f"the step allocated {peak / 2**20:.1f} MB at its peak"
