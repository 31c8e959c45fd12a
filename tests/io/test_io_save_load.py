"""qf.save / qf.load: round trips, no pickle, atomic writes, refusals."""
import math
import os
import pickle
import zipfile

import numpy as np
import pytest

import qiflow as qf
from qiflow.io import CheckpointError, atomic_write


def _sample():
    return {
        "model": {"0.weight": qf.randn(4, 3, requires_grad=True), "0.bias": qf.zeros(4)},
        "optimizer": {"state": {0: {"step": 7, "exp_avg": np.ones((4, 3), np.float32)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1]}]},
        "rng": qf.Generator(5).bit_generator.state,  # 128-bit integers
        "epoch": 3, "best": float("inf"), "nan": float("nan"), "name": "lenet", "none": None,
        "flags": [True, False], "half": np.arange(6, dtype=np.float16).reshape(2, 3),
        "i8": np.array([-1, 2], np.int8), "mask": np.array([True, False]),
        "scalar": np.float32(2.5), "empty": np.zeros((0, 3)), "f64": np.float64(1) / 3,
    }


def _same(a, b):
    if isinstance(a, qf.Tensor):
        assert isinstance(b, qf.Tensor) and a.requires_grad == b.requires_grad
        a, b = a.detach().numpy(), b.detach().numpy()
    if isinstance(a, (np.ndarray, np.generic)):
        assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b) and [type(k) for k in a] == [type(k) for k in b]
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b)
    else:
        assert type(a) is type(b) and a == b


def test_round_trip(tmp_path):
    obj = _sample()
    path = tmp_path / "ckpt.qf"
    qf.save(obj, path)
    assert os.listdir(tmp_path) == ["ckpt.qf"]  # exactly the given name, no temp files left
    _same(obj, qf.load(path))
    _same([1, (2, "x")], (qf.save([1, (2, "x")], path), qf.load(path))[1])


def test_file_is_plain_npz_without_pickle(tmp_path):
    path = tmp_path / "c.npz"
    qf.save(_sample(), path)
    with zipfile.ZipFile(path) as zf:
        assert all(n.endswith(".npy") for n in zf.namelist())
    with np.load(path, allow_pickle=False) as z:  # numpy itself can read every entry
        assert all(z[k] is not None for k in z.files)


def test_rng_state_restores_the_stream(tmp_path):
    g = qf.Generator(11)
    g.random(3)
    qf.save({"rng": g.bit_generator.state}, tmp_path / "r.npz")
    expected = g.random(4)
    h = qf.Generator(0)
    h.bit_generator.state = qf.load(tmp_path / "r.npz")["rng"]
    assert np.array_equal(h.random(4), expected)


@pytest.mark.parametrize("bad, match", [
    ({"x": object()}, r"obj\['x'\]"),
    ({(1, 2): 3}, "keys must be str or int"),
    ({"a": [np.array([1, "s"], dtype=object)]}, "object arrays"),
])
def test_save_refuses_unsupported_values(tmp_path, bad, match):
    with pytest.raises(TypeError, match=match):
        qf.save(bad, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_failed_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    qf.save({"w": np.arange(5)}, path)
    before = path.read_bytes()
    calls = []
    real = np.lib.format.write_array

    def dies_midway(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(np.lib.format, "write_array", dies_midway)
    with pytest.raises(OSError, match="disk full"):
        qf.save({"w": np.zeros(10), "v": np.ones(10)}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.npz"]
    monkeypatch.undo()
    assert qf.load(path)["w"].tolist() == [0, 1, 2, 3, 4]


def test_atomic_write_replaces_only_on_success(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(p, "w") as f:
            f.write("new")
            raise RuntimeError("boom")
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["f.txt"]
    with atomic_write(p, "w") as f:
        f.write("new")
    assert p.read_text() == "new"


def test_truncated_files_are_refused(tmp_path):
    path = tmp_path / "full.npz"
    qf.save(_sample(), path)
    data = path.read_bytes()
    for cut in (0, 10, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1):
        p = tmp_path / f"cut{cut}.npz"
        p.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="cut"):
            qf.load(p)


def test_corrupted_bytes_are_refused(tmp_path):
    path = tmp_path / "c.npz"
    qf.save({"w": np.arange(1000.0)}, path)
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF  # inside the first array's data: the zip CRC catches it
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        qf.load(path)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickles_are_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pt"
    p.write_bytes(pickle.dumps({"w": _Evil(str(marker))}))
    with pytest.raises(CheckpointError, match="pickle"):
        qf.load(p)
    assert not marker.exists()


def test_zip_with_pickle_inside_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "torch_style.pt"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps(_Evil(str(marker))))
    with pytest.raises(CheckpointError, match="pickle"):
        qf.load(p)
    assert not marker.exists()


def test_forged_qiflow_archive_with_object_array_is_refused(tmp_path):
    good = tmp_path / "good.npz"
    qf.save({"w": np.zeros(2)}, good)
    bad = tmp_path / "bad.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        dst.writestr("__qiflow__.npy", src.read("__qiflow__.npy"))
        with dst.open("a0.npy", "w") as f:
            np.lib.format.write_array(f, np.array([_Evil(str(tmp_path / "x"))], dtype=object),
                                      allow_pickle=True)
    with pytest.raises(CheckpointError, match="pickled objects"):
        qf.load(bad)
    assert not (tmp_path / "x").exists()


def test_foreign_files_are_refused(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    np.save(tmp_path / "one.npy", np.ones(2))
    (tmp_path / "text.txt").write_text("hello world")
    (tmp_path / "empty.npz").write_bytes(b"")
    for name, match in [("plain.npz", "no qiflow metadata"), ("one.npy", "single .npy"),
                        ("text.txt", "not a qiflow checkpoint"), ("empty.npz", "empty")]:
        with pytest.raises(CheckpointError, match=match):
            qf.load(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="no such file"):
        qf.load(tmp_path / "missing.npz")
    with pytest.raises(IsADirectoryError):
        qf.load(tmp_path)


def test_module_and_optimizer_state_round_trip(tmp_path):
    def make():
        qf.manual_seed(3)
        net = qf.nn.Sequential(qf.nn.Linear(4, 8), qf.nn.Tanh(), qf.nn.BatchNorm1d(8), qf.nn.Linear(8, 2))
        return net, qf.optim.Adam(net.parameters(), lr=0.01)

    def step(net, opt, x):
        opt.zero_grad()
        (net(x) ** 2).mean().backward()
        opt.step()

    x = qf.randn(16, 4, generator=qf.Generator(1))
    net, opt = make()
    step(net, opt, x)
    qf.save({"model": net.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "s.npz")
    step(net, opt, x)
    expected = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}

    net2, opt2 = make()
    state = qf.load(tmp_path / "s.npz")
    net2.load_state_dict(state["model"])
    opt2.load_state_dict(state["optimizer"])
    step(net2, opt2, x)
    for k, v in net2.state_dict().items():
        np.testing.assert_array_equal(v.detach().numpy(), expected[k], err_msg=k)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_saved_file_gets_ordinary_permissions(tmp_path):
    qf.save({"a": 1}, tmp_path / "p.npz")
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(tmp_path / "p.npz").st_mode & 0o777 == 0o666 & ~mask
