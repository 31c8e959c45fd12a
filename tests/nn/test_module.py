"""Module mechanics: registration, names, modes, state dicts, repr, containers."""
from collections import OrderedDict

import numpy as np
import pytest

import qiflow as qf
from qiflow import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 3))
        self.bn = nn.BatchNorm1d(3)
        self.head = nn.Linear(3, 2)
        self.scale = nn.Parameter(qf.ones(1))
        self.register_buffer("steps", qf.zeros(1))
        self.plain = 5

    def forward(self, x):
        return self.head(self.bn(self.features(x))) * self.scale


def test_registration_and_dotted_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "features.0.weight", "features.0.bias", "features.2.weight",
                     "features.2.bias", "bn.weight", "bn.bias", "head.weight", "head.bias"]
    assert [n for n, _ in net.named_children()] == ["features", "bn", "head"]
    assert len(list(net.modules())) == 7
    assert [n for n, _ in net.named_buffers()] == ["steps", "bn.running_mean", "bn.running_var",
                                                   "bn.num_batches_tracked"]
    assert net.plain == 5 and "plain" not in net.state_dict()
    assert net.num_parameters() == 4 * 3 + 3 + 3 * 3 + 3 + 3 + 3 + 3 * 2 + 2 + 1


def test_reassign_and_delete():
    net = Net()
    net.head = nn.Linear(3, 5)
    assert net.head.out_features == 5
    with pytest.raises(TypeError, match="parameter 'scale'"):
        net.scale = qf.ones(1)
    net.scale = None
    assert "scale" not in [n for n, _ in net.named_parameters()]
    del net.head
    assert "head" not in dict(net.named_children())


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert seq.num_parameters() == 6


def test_train_eval_and_zero_grad():
    net = Net()
    assert net.training and net.bn.training
    net.eval()
    assert not net.training and not net.bn.training and not net.features[0].training
    net.train()
    assert net.bn.training
    net(qf.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_with_arrays_and_tensors():
    a, b = Net(), Net()
    a.train()
    a(qf.randn(6, 4))           # moves the running statistics
    sd = a.state_dict()
    assert int(sd["bn.num_batches_tracked"].item()) == 1
    assert list(sd)[:2] == ["scale", "steps"]
    mixed = OrderedDict((k, v.detach().numpy() if i % 2 else v) for i, (k, v) in enumerate(sd.items()))
    b_weight = b.head.weight
    res = b.load_state_dict(mixed)
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert b.head.weight is b_weight    # copied into the existing parameter
    for (k, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(va.detach().numpy(), vb.detach().numpy(), err_msg=k)
    x = qf.randn(3, 4)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())


def test_load_state_dict_errors_name_keys_and_shapes():
    net = Net()
    sd = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    del sd["head.bias"]
    sd["extra.weight"] = np.zeros(2)
    with pytest.raises(qf.QiflowError) as e:
        net.load_state_dict(sd)
    assert "missing keys: 'head.bias'" in str(e.value) and "unexpected keys: 'extra.weight'" in str(e.value)
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["head.bias"] and res.unexpected_keys == ["extra.weight"]
    sd = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    before = net.head.weight.detach().numpy().copy()
    sd["head.weight"] = np.zeros((3, 3), np.float32)
    sd["head.bias"] = np.full(2, 7.0, np.float32)
    with pytest.raises(qf.QiflowError, match=r"size mismatch for 'head.weight'.*\(3, 3\).*\(2, 3\)"):
        net.load_state_dict(sd)
    np.testing.assert_array_equal(net.head.weight.detach().numpy(), before)   # nothing half-loaded
    assert not (net.head.bias.detach().numpy() == 7.0).any()


def test_apply_repr_and_hooks():
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Sequential(nn.Linear(2, 1)))
    net.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert all((m.weight.detach().numpy() == 0).all() for m in net.modules() if isinstance(m, nn.Linear))
    text = repr(net)
    assert text == ("Sequential(\n  (0): Linear(in_features=3, out_features=2, bias=True)\n  (1): ReLU()\n"
                    "  (2): Sequential(\n    (0): Linear(in_features=2, out_features=1, bias=True)\n  )\n)")
    seen = []
    h = net[0].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    net(qf.ones((4, 3)))
    h.remove()
    net(qf.ones((4, 3)))
    assert seen == [(4, 2)]


def test_containers():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4 and [n for n, _ in ml.named_parameters()][-2:] == ["3.weight", "3.bias"]
    md = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    assert sorted(n for n, _ in md.named_parameters()) == ["dec.bias", "dec.weight", "enc.bias", "enc.weight"]
    assert "enc" in md and md["dec"].out_features == 2
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in seq.named_parameters()] == ["fc.weight", "fc.bias"]
    assert isinstance(seq[1], nn.ReLU) and len(seq[:1]) == 1
    with pytest.raises(IndexError, match="out of range"):
        seq[5]
    pl = nn.ParameterList([qf.ones(2), qf.zeros(3)])
    assert [p.shape for p in pl.parameters()] == [(2,), (3,)]


def test_to_double_and_requires_grad():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net[1].running_mean.dtype == np.float64 and net[1].num_batches_tracked.dtype == np.int64
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    assert net.num_parameters(trainable_only=True) == 0


def test_parameter_basics():
    p = nn.Parameter(np.zeros(3, np.float32))
    assert p.requires_grad and p.is_leaf and isinstance(p, qf.Tensor)
    assert "Parameter containing" in repr(p)
    with pytest.raises(TypeError):
        nn.Parameter(np.zeros(3, np.int64))
