"""Learning-rate schedules against PyTorch, epoch by epoch, and their state dicts."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import nn, optim
from qiflow.optim import lr_scheduler as S

torch = pytest.importorskip("torch")
TS = torch.optim.lr_scheduler


def pair(lr=0.5, two_groups=True):
    qp = [nn.Parameter(qf.zeros(1)), nn.Parameter(qf.zeros(1))]
    tp = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    if two_groups:
        return (optim.SGD([{"params": qp[:1]}, {"params": qp[1:], "lr": lr / 5}], lr=lr),
                torch.optim.SGD([{"params": tp[:1]}, {"params": tp[1:], "lr": lr / 5}], lr=lr))
    return optim.SGD(qp, lr=lr), torch.optim.SGD(tp, lr=lr)


CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.8)),
    ("CosineAnnealingLR", dict(T_max=5, eta_min=0.01)),
    ("LinearLR", dict(start_factor=0.1, end_factor=1.0, total_iters=4)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e))),
]


@pytest.mark.parametrize("name,kw", CASES)
def test_schedule_matches_pytorch(name, kw):
    qo, to = pair()
    qs, ts = getattr(S, name)(qo, **kw), getattr(TS, name)(to, **kw)
    for epoch in range(14):
        assert qs.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-9), (name, epoch)
        assert [g["lr"] for g in qo.param_groups] == pytest.approx([g["lr"] for g in to.param_groups])
        qo.step(), to.step()
        qs.step(), ts.step()


def test_warmup_then_cosine_matches_pytorch():
    qo, to = pair(two_groups=False)
    qs = S.SequentialLR(qo, [S.LinearLR(qo, 0.2, total_iters=3), S.CosineAnnealingLR(qo, T_max=6)], milestones=[3])
    ts = TS.SequentialLR(to, [TS.LinearLR(to, 0.2, total_iters=3), TS.CosineAnnealingLR(to, T_max=6)], milestones=[3])
    for epoch in range(10):
        assert qo.param_groups[0]["lr"] == pytest.approx(to.param_groups[0]["lr"], rel=1e-9), epoch
        qo.step(), to.step()
        qs.step(), ts.step()


def test_reduce_on_plateau_matches_pytorch():
    qo, to = pair()
    kw = dict(mode="min", factor=0.5, patience=2, threshold=0.01, cooldown=1, min_lr=0.02)
    qs, ts = S.ReduceLROnPlateau(qo, **kw), TS.ReduceLROnPlateau(to, **kw)
    metrics = [1.0, 0.9, 0.95, 0.92, 0.91, 0.9, 0.9, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    for m in metrics:
        qs.step(m), ts.step(m)
        assert [g["lr"] for g in qo.param_groups] == pytest.approx([g["lr"] for g in to.param_groups])
    assert qo.param_groups[0]["lr"] < 0.5


def test_scheduler_state_dict_round_trip():
    qo, _ = pair()
    s = S.StepLR(qo, step_size=2, gamma=0.1)
    for _ in range(3):
        qo.step(), s.step()
    sd = s.state_dict()
    assert sd["last_epoch"] == 3 and "optimizer" not in sd
    qo2, _ = pair()
    for g, g2 in zip(qo.param_groups, qo2.param_groups):
        g2["lr"] = g["lr"]
    s2 = S.StepLR(qo2, step_size=99)
    s2.load_state_dict(sd)
    for _ in range(3):
        s.step(), s2.step()
    assert s.get_last_lr() == s2.get_last_lr()
