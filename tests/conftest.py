"""Shared test fixtures: every test starts from the default dtype and a fixed seed."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import _state
from qiflow.ops import base as _base


@pytest.fixture(autouse=True)
def _fresh_state():
    qf.set_default_dtype("float32")
    qf.manual_seed(0)
    np.random.seed(0)
    yield
    qf.set_default_dtype("float32")
    _state.grad_enabled = True
    leaked = list(_base._stack)
    while _base._stack:                     # a test must leave no interpreter behind
        _base.pop(_base._stack[-1])
    assert not leaked, f"interpreters left on the stack: {leaked}"


def write_mnist_idx(folder, n_train=3000, n_test=600, seed=0):
    """MNIST-shaped IDX files of ``qf.datasets.make_images`` (10 learnable classes) in ``folder``."""
    import os
    import struct

    def write(path, arr):
        arr = np.ascontiguousarray(arr, np.uint8)
        with open(path, "wb") as f:
            f.write(bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes())

    os.makedirs(folder, exist_ok=True)
    x, y = qf.datasets.make_images(n_train + n_test, seed=seed)
    write(os.path.join(folder, "train-images-idx3-ubyte"), x[:n_train])
    write(os.path.join(folder, "train-labels-idx1-ubyte"), y[:n_train])
    write(os.path.join(folder, "t10k-images-idx3-ubyte"), x[n_train:])
    write(os.path.join(folder, "t10k-labels-idx1-ubyte"), y[n_train:])
    return str(folder)


@pytest.fixture(scope="session")
def mnist_writer():
    """``write_mnist_idx`` itself, for tests that need a second data set (a fixture, because
    ``from conftest import ...`` finds whichever conftest module was imported last)."""
    return write_mnist_idx


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory):
    """A folder of small synthetic MNIST IDX files (3000 training, 600 test images)."""
    return write_mnist_idx(tmp_path_factory.mktemp("mnist-idx"))
