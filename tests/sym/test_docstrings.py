"""The examples in qiflow.sym's docstrings run and print what they say."""
import doctest
import importlib

import numpy as np
import pytest

import qiflow as qf
from qiflow import sym as T

MODULES = ["qiflow.sym", "qiflow.sym.types", "qiflow.sym.graph", "qiflow.sym.ops", "qiflow.sym.shared",
           "qiflow.sym.grad", "qiflow.sym.function", "qiflow.sym.printing", "qiflow.sym.nnet",
           "qiflow.sym.rewrites", "qiflow.sym.trace"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(mod, extraglobs={"qf": qf, "T": T, "np": np}, optionflags=flags,
                             report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"
