"""Every damaged MNIST file is a ``DataFormatError`` that names the file and what was expected.

Nothing here may escape as a raw ``UnpicklingError``, ``zlib.error`` or NumPy reshape error:
those are what the command line would have shown as a traceback.
"""
import gzip
import os
import pickle
import struct

import numpy as np
import pytest

import qiflow as qf
from qiflow.datasets import DataFormatError, UnsafePickleError, read_idx, read_pkl_gz


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("QIFLOW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("QIFLOW_OFFLINE", "1")


def _idx(arr):
    arr = np.ascontiguousarray(arr, np.uint8)
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def _idx_folder(folder, labels=None):
    rng = np.random.default_rng(0)
    os.makedirs(folder, exist_ok=True)
    tx = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    ty = rng.integers(0, 10, 60, dtype=np.uint8) if labels is None else labels
    parts = {"train-images-idx3-ubyte": tx, "train-labels-idx1-ubyte": ty,
             "t10k-images-idx3-ubyte": tx[:12], "t10k-labels-idx1-ubyte": ty[:12]}
    for name, a in parts.items():
        (folder / name).write_bytes(_idx(a))
    return folder


def _good_sets():
    x = np.zeros((20, 784), np.float32)
    y = np.arange(20, dtype=np.int64) % 10
    return ((x, y), (x[:5], y[:5]), (x[:5], y[:5]))


PKL = gzip.compress(pickle.dumps(_good_sets(), protocol=2))
DAMAGED_PKL = {
    # gzip intact, the pickle stream inside damaged: UnpicklingError "invalid load key"
    "bad_opcode": gzip.compress(b"\x80\x02}q\x00(X\x01\x00\x00\x00a" + b"\x00" * 50),
    # the first half of a real gzipped pickle: EOFError inside gzip
    "truncated_gzip": PKL[: len(PKL) // 2],
    # gzip header, then garbage deflate data: zlib.error (not an OSError)
    "bad_deflate": PKL[:10] + bytes(range(256)) * 4,
    # a complete pickle whose stream was cut: "pickle data was truncated"
    "truncated_pickle": gzip.compress(pickle.dumps(_good_sets(), protocol=2)[:300]),
    "empty": b"",
}


@pytest.mark.parametrize("case", sorted(DAMAGED_PKL))
def test_damaged_pkl_gz_names_the_file_and_the_expected_layout(tmp_path, case):
    folder = tmp_path / case
    folder.mkdir()
    path = folder / "mnist.pkl.gz"
    path.write_bytes(DAMAGED_PKL[case])
    for load in (lambda: read_pkl_gz(path), lambda: qf.datasets.mnist(str(folder))):
        with pytest.raises(DataFormatError) as err:
            load()
        assert str(path) in str(err.value)
        assert "expected" in str(err.value) and "(train_x, train_y)" in str(err.value)


def test_a_pickle_that_asks_for_code_is_still_refused_as_unsafe(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(print)))
    with pytest.raises(UnsafePickleError, match="builtins.print"):
        read_pkl_gz(path)


@pytest.mark.parametrize("labels,needle", [
    (np.full(60, 42, np.uint8), "the label 42; expected classes 0..9"),
    (np.zeros((60, 2), np.uint8), r"labels of shape \(60, 2\)"),
])
def test_idx_labels_that_are_not_classes_name_the_file(tmp_path, labels, needle):
    folder = _idx_folder(tmp_path / "d", labels)
    with pytest.raises(DataFormatError, match=needle) as err:
        qf.datasets.mnist(str(folder))
    assert "train-labels-idx1-ubyte" in str(err.value)


def test_idx_header_whose_size_overflows_int64_is_a_clear_error(tmp_path):
    # 2^31 x 2^31 x 2^31 elements: an int64 product wraps to 0 and matched the empty data
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2 ** 31, 2 ** 31, 2 ** 31))
    with pytest.raises(DataFormatError, match=r"header \(shape \(2147483648, 2147483648, 2147483648\)") as err:
        read_idx(path)
    assert str(path) in str(err.value) and str(2 ** 93) in str(err.value)


@pytest.mark.parametrize("content,needle", [
    (b"", "the file is empty"),
    (b"\x1f\x8b\x08\x00garbage", "damaged gzip file"),
    (bytes([0, 0, 8, 2, 0, 0]), "truncated inside its header"),
])
def test_idx_damage_names_the_file(tmp_path, content, needle):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(DataFormatError, match=needle) as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_npz_with_wrong_arrays_names_the_file(tmp_path):
    path = tmp_path / "mnist.npz"
    x, y = np.zeros((5, 10), np.uint8), np.zeros(5, np.uint8)
    np.savez(path, train_x=x, train_y=y, valid_x=x, valid_y=y, test_x=x, test_y=y)
    with pytest.raises(DataFormatError, match=r"images \(5, 10\)") as err:
        qf.datasets.mnist(str(path))
    assert str(path) in str(err.value)
    path.write_bytes(b"PK\x03\x04junk")
    with pytest.raises(DataFormatError, match="pickle-free .npz") as err:
        qf.datasets.mnist(str(path))
    assert str(path) in str(err.value)


def test_pixels_outside_zero_one_are_refused(tmp_path):
    (x, y), v, t = _good_sets()
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(((x + np.nan, y), v, t), protocol=2)))
    with pytest.raises(DataFormatError, match=r"outside \[0, 1\]"):
        read_pkl_gz(path)
