"""OneCycleLR and CosineAnnealingWarmRestarts against PyTorch, step for step (learning rates
and momenta), their state dicts, and their errors."""
import math

import pytest

import qiflow as qf
from qiflow import nn, optim
from qiflow.optim import lr_scheduler as S

torch = pytest.importorskip("torch")
TS = torch.optim.lr_scheduler
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")   # PyTorch's notes on step order


def pair(kind="sgd", lr=0.5):
    qp = [nn.Parameter(qf.zeros(1)), nn.Parameter(qf.zeros(1))]
    tp = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    if kind == "sgd":
        return (optim.SGD([{"params": qp[:1]}, {"params": qp[1:], "lr": lr / 5}], lr=lr, momentum=0.9),
                torch.optim.SGD([{"params": tp[:1]}, {"params": tp[1:], "lr": lr / 5}], lr=lr, momentum=0.9))
    if kind == "adam":
        return (optim.Adam([{"params": qp[:1]}, {"params": qp[1:]}], lr=lr, betas=(0.8, 0.99)),
                torch.optim.Adam([{"params": tp[:1]}, {"params": tp[1:]}], lr=lr, betas=(0.8, 0.99)))
    if kind == "adagrad":
        return optim.Adagrad(qp, lr=lr), torch.optim.Adagrad(tp, lr=lr)
    return optim.RMSprop(qp, lr=lr), torch.optim.RMSprop(tp, lr=lr)


def same_groups(qo, to, keys=("lr", "momentum", "betas")):
    for qg, tg in zip(qo.param_groups, to.param_groups):
        for k in keys:
            if k in tg:
                a, b = qg[k], tg[k]
                assert a == pytest.approx(b, rel=1e-12, abs=1e-15), (k, a, b)


ONE_CYCLE = [
    ("sgd", dict(max_lr=1.0, total_steps=20)),
    ("sgd", dict(max_lr=[1.0, 0.3], epochs=3, steps_per_epoch=7, anneal_strategy="linear")),
    ("sgd", dict(max_lr=0.8, total_steps=25, three_phase=True, pct_start=0.25)),
    ("adam", dict(max_lr=0.01, total_steps=16, base_momentum=0.7, max_momentum=[0.9, 0.95])),
    ("adam", dict(max_lr=0.01, total_steps=16, three_phase=True, anneal_strategy="linear", div_factor=10.0,
                  final_div_factor=100.0)),
    ("rmsprop", dict(max_lr=0.1, total_steps=10, cycle_momentum=False)),
]


@pytest.mark.parametrize("kind,kw", ONE_CYCLE)
def test_one_cycle_matches_pytorch_step_for_step(kind, kw):
    qo, to = pair(kind)
    qs, ts = S.OneCycleLR(qo, **kw), TS.OneCycleLR(to, **kw)
    for step in range(qs.total_steps):
        same_groups(qo, to)
        assert qs.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
        qo.step(), to.step()
        if step < qs.total_steps - 1:
            qs.step(), ts.step()


def test_one_cycle_state_dict_resumes_exactly():
    qo, to = pair("adam")
    kw = dict(max_lr=0.02, total_steps=30, three_phase=True)
    qs, ts = S.OneCycleLR(qo, **kw), TS.OneCycleLR(to, **kw)
    for _ in range(11):
        qs.step(), ts.step()
    state = qs.state_dict()
    qo2, _ = pair("adam")
    for g, g0 in zip(qo2.param_groups, qo.param_groups):   # the optimizer's own state is restored too
        g.update({k: v for k, v in g0.items() if k != "params"})
    qs2 = S.OneCycleLR(qo2, **kw, last_epoch=10)
    qs2.load_state_dict(state)
    for _ in range(15):
        qs2.step(), ts.step()
        same_groups(qo2, to)


def test_one_cycle_errors():
    qo, to = pair("adagrad")
    with pytest.raises(ValueError):       # PyTorch refuses it too
        TS.OneCycleLR(to, max_lr=0.1, total_steps=10)
    with pytest.raises(qf.QiflowError, match="OneCycleLR: cycle_momentum needs an optimizer with momentum or betas"):
        S.OneCycleLR(qo, max_lr=0.1, total_steps=10)
    qo, _ = pair()
    with pytest.raises(qf.QiflowError, match="OneCycleLR: give total_steps, or epochs and steps_per_epoch"):
        S.OneCycleLR(qo, max_lr=0.1)
    with pytest.raises(qf.QiflowError, match="pct_start must be a float in"):
        S.OneCycleLR(qo, max_lr=0.1, total_steps=10, pct_start=1)
    with pytest.raises(qf.QiflowError, match=r"expected 2 values for max_lr \(one per parameter group\), got 3"):
        S.OneCycleLR(qo, max_lr=[0.1, 0.2, 0.3], total_steps=10)
    s = S.OneCycleLR(qo, max_lr=0.1, total_steps=3)
    s.step(), s.step(), s.step()
    with pytest.raises(qf.QiflowError, match="OneCycleLR: stepped 4 times, past total_steps=3"):
        s.step()


@pytest.mark.parametrize("kw", [dict(T_0=3), dict(T_0=2, T_mult=2, eta_min=0.01), dict(T_0=4, T_mult=3)])
def test_warm_restarts_matches_pytorch_per_epoch(kw):
    qo, to = pair()
    qs, ts = S.CosineAnnealingWarmRestarts(qo, **kw), TS.CosineAnnealingWarmRestarts(to, **kw)
    for epoch in range(30):
        same_groups(qo, to, ("lr",))
        assert (qs.T_cur, qs.T_i) == (ts.T_cur, ts.T_i), epoch
        qo.step(), to.step()
        qs.step(), ts.step()


@pytest.mark.parametrize("kw", [dict(T_0=3), dict(T_0=2, T_mult=2, eta_min=0.01)])
def test_warm_restarts_fractional_epochs_match_pytorch(kw):
    qo, to = pair()
    qs, ts = S.CosineAnnealingWarmRestarts(qo, **kw), TS.CosineAnnealingWarmRestarts(to, **kw)
    iters = 7
    for epoch in range(9):
        for i in range(iters):
            e = epoch + i / iters
            qs.step(e), ts.step(e)
            same_groups(qo, to, ("lr",))
            assert qs.last_epoch == ts.last_epoch == math.floor(e)
    for e in (3, 17.5, 0.25, 40):        # jumps, backwards too
        qs.step(e), ts.step(e)
        same_groups(qo, to, ("lr",))


def test_warm_restarts_state_dict_and_errors():
    qo, to = pair()
    qs, ts = S.CosineAnnealingWarmRestarts(qo, T_0=3, T_mult=2), TS.CosineAnnealingWarmRestarts(to, T_0=3, T_mult=2)
    for _ in range(5):
        qs.step(), ts.step()
    state = qs.state_dict()
    assert {k: state[k] for k in ("T_0", "T_i", "T_cur", "T_mult", "eta_min", "last_epoch")} == \
        {k: ts.state_dict()[k] for k in ("T_0", "T_i", "T_cur", "T_mult", "eta_min", "last_epoch")}
    qo2, _ = pair()
    qs2 = S.CosineAnnealingWarmRestarts(qo2, T_0=3, T_mult=2)
    qs2.load_state_dict(state)
    for _ in range(12):
        qs2.step(), ts.step()
        same_groups(qo2, to, ("lr",))
    with pytest.raises(qf.QiflowError, match="CosineAnnealingWarmRestarts: T_0 must be a positive int, got 0"):
        S.CosineAnnealingWarmRestarts(qo, T_0=0)
    with pytest.raises(qf.QiflowError, match="T_mult must be an int >= 1, got 1.5"):
        S.CosineAnnealingWarmRestarts(qo, T_0=2, T_mult=1.5)
    with pytest.raises(qf.QiflowError, match="epoch must be >= 0, got -1"):
        qs.step(-1)
