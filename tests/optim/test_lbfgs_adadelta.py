"""Adadelta and LBFGS step for step against PyTorch in float64 (1e-10), their state_dict
names, defaults and errors."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import nn, optim

torch = pytest.importorskip("torch")


def _pair(seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((6, 3)), rng.standard_normal(6), rng.standard_normal((2, 6)),
              rng.standard_normal(2)]
    return ([nn.Parameter(qf.tensor(a)) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def _data(seed=1, n=16):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    y = np.stack([np.sin(x[:, 0]) + x[:, 1] * x[:, 2], np.cos(x[:, 1])], 1)
    return x, y


def _loss(lib, ps, x, y):
    h = lib.tanh(x @ ps[0].T + ps[1])
    return ((h @ ps[2].T + ps[3] - y) ** 2).mean()


def _closure(lib, opt, ps, x, y):
    def closure():
        opt.zero_grad()
        loss = _loss(lib, ps, x, y)
        loss.backward()
        return loss
    return closure


def _close(qp, tp, what, tol=1e-10):
    for i, (a, b) in enumerate(zip(qp, tp)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol, atol=tol,
                                   err_msg=f"{what} param {i}")


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1),
                                dict(weight_decay=0.2, maximize=True)])
def test_adadelta_float64_matches_torch(kw):
    qp, tp = _pair()
    qo, to = optim.Adadelta(qp, **kw), torch.optim.Adadelta(tp, **kw)
    x, y = _data()
    for step in range(15):
        for lib, o, ps in ((qf, qo, qp), (torch, to, tp)):
            _closure(lib, o, ps, lib.tensor(x), lib.tensor(y))()
            o.step()
        _close(qp, tp, f"step {step}")
    qs, ts = qo.state_dict(), to.state_dict()
    assert set(qs["param_groups"][0]) == set(ts["param_groups"][0])
    assert {k: v for k, v in qs["param_groups"][0].items() if k != "params"} == \
           {k: v for k, v in ts["param_groups"][0].items() if k != "params"}
    assert set(qs["state"][0]) == set(ts["state"][0]) == {"step", "square_avg", "acc_delta"}
    for k in ("square_avg", "acc_delta", "step"):
        np.testing.assert_allclose(qs["state"][2][k].numpy(), ts["state"][2][k].numpy(), rtol=1e-10)


def test_adadelta_defaults_and_errors():
    p = nn.Parameter(qf.ones(2))
    g = optim.Adadelta([p]).param_groups[0]
    assert (g["lr"], g["rho"], g["eps"], g["weight_decay"], g["maximize"]) == (1.0, 0.9, 1e-6, 0.0, False)
    with pytest.raises(qf.QiflowError, match="Adadelta: invalid"):
        optim.Adadelta([p], rho=1.5)
    with pytest.raises(qf.QiflowError, match="differentiable"):
        optim.Adadelta([p], differentiable=True)


LBFGS_CASES = [dict(), dict(lr=0.5, max_iter=7, history_size=3), dict(line_search_fn="strong_wolfe"),
               dict(line_search_fn="strong_wolfe", history_size=2, max_iter=10, max_eval=12),
               dict(lr=0.1, tolerance_change=1e-4)]


@pytest.mark.parametrize("kw", LBFGS_CASES)
def test_lbfgs_float64_matches_torch(kw):
    qp, tp = _pair()
    qo, to = optim.LBFGS(qp, **kw), torch.optim.LBFGS(tp, **kw)
    x, y = _data()
    for step in range(4):
        xb, yb = x[4 * step % 16:][:8], y[4 * step % 16:][:8]
        lq = qo.step(_closure(qf, qo, qp, qf.tensor(xb), qf.tensor(yb)))
        lt = to.step(_closure(torch, to, tp, torch.tensor(xb), torch.tensor(yb)))
        # rounding differences (1e-14 after the first step's 20 iterations: dot products summed
        # in another order) grow ~100x per step of 20 iterations; the first two steps to 1e-10
        tol = 1e-10 if step < 2 else 1e-6
        np.testing.assert_allclose(lq.item(), lt.item(), rtol=tol)
        _close(qp, tp, f"step {step}", tol)
        sq, st = qo.state[qp[0]], to.state[tp[0]]
        assert (sq["func_evals"], sq["n_iter"]) == (st["func_evals"], st["n_iter"])
        assert len(sq["old_dirs"]) == len(st["old_dirs"]) <= qo.param_groups[0]["history_size"]
        np.testing.assert_allclose(float(sq["t"]), float(st["t"]), rtol=tol)
        np.testing.assert_allclose(sq["d"].numpy(), st["d"].numpy(), rtol=100 * tol, atol=tol)
    assert set(qo.state_dict()["state"][0]) == set(to.state_dict()["state"][0])
    assert qo.state_dict()["param_groups"] == to.state_dict()["param_groups"]


def test_lbfgs_minimises_a_quadratic_exactly_with_strong_wolfe():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 5))
    a = a @ a.T + 5 * np.eye(5)
    b = rng.standard_normal(5)
    w = nn.Parameter(qf.zeros(5, dtype=qf.float64))
    opt = optim.LBFGS([w], line_search_fn="strong_wolfe", max_iter=100, tolerance_grad=1e-12,
                      tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (w * (qf.tensor(a) @ w)).sum() - (qf.tensor(b) * w).sum()
        loss.backward()
        return loss
    opt.step(closure)
    np.testing.assert_allclose(w.detach().numpy(), np.linalg.solve(a, b), atol=1e-8)


def test_lbfgs_state_dict_round_trip_continues_identically():
    (pa, _), (pb, _) = _pair(), _pair()
    oa = optim.LBFGS(pa, max_iter=4, history_size=3)
    x, y = _data()
    oa.step(_closure(qf, oa, pa, qf.tensor(x), qf.tensor(y)))
    sd = oa.state_dict()
    for q, p in zip(pb, pa):
        q.data.copy_(p.data)
    ob = optim.LBFGS(pb, lr=3.0)
    ob.load_state_dict(sd)
    assert ob.param_groups[0]["lr"] == 1
    for o, ps in ((oa, pa), (ob, pb)):
        o.step(_closure(qf, o, ps, qf.tensor(x), qf.tensor(y)))
    for a, b in zip(pa, pb):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_lbfgs_defaults_and_errors():
    p = nn.Parameter(qf.ones(2))
    g = optim.LBFGS([p]).param_groups[0]
    tg = torch.optim.LBFGS([torch.ones(2, requires_grad=True)]).param_groups[0]
    assert {k: v for k, v in g.items() if k != "params"} == {k: v for k, v in tg.items() if k != "params"}
    with pytest.raises(qf.QiflowError, match="closure"):
        optim.LBFGS([p]).step()
    with pytest.raises(qf.QiflowError, match="strong_wolfe"):
        optim.LBFGS([p], line_search_fn="backtracking")
    with pytest.raises(qf.QiflowError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [nn.Parameter(qf.ones(1))]}])


def test_adadelta_step_traces_under_compile_and_matches_eager():
    from qiflow.trace import compile as qcompile
    (qa, _), (qb, _) = _pair(), _pair()
    oa, ob = optim.Adadelta(qa, lr=0.5, weight_decay=0.1), optim.Adadelta(qb, lr=0.5, weight_decay=0.1)
    x, y = _data()

    def step(ps, o, xb, yb):
        o.zero_grad()
        loss = _loss(qf, ps, xb, yb)
        loss.backward()
        o.step()
        return loss
    cstep = qcompile(lambda xb, yb: step(qa, oa, xb, yb), strict=True)
    for i in range(4):
        xb, yb = qf.tensor(x[4 * i:4 * i + 4]), qf.tensor(y[4 * i:4 * i + 4])
        np.testing.assert_allclose(cstep(xb, yb).item(), step(qb, ob, xb, yb).item(), rtol=1e-12)
    _close(qa, qb, "compiled vs eager")


def test_lbfgs_under_compile_runs_eagerly_with_a_warning():
    w = nn.Parameter(qf.tensor([3.0, -2.0], dtype=qf.float64))
    opt = optim.LBFGS([w], max_iter=5)

    def closure():
        opt.zero_grad()
        loss = ((w - 1.0) ** 2).sum()
        loss.backward()
        return loss
    step = qf.compile(lambda: opt.step(closure))
    with pytest.warns(UserWarning, match="running it eagerly"):
        step()
    np.testing.assert_allclose(w.detach().numpy(), [1.0, 1.0], atol=1e-12)
