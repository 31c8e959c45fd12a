"""Shared test fixtures: every test starts from the default dtype and a fixed seed."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import _state


@pytest.fixture(autouse=True)
def _fresh_state():
    qf.set_default_dtype("float32")
    qf.manual_seed(0)
    np.random.seed(0)
    yield
    qf.set_default_dtype("float32")
    _state.grad_enabled = True
    _state.raw_mode = False
    _state.anomaly = False
