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
