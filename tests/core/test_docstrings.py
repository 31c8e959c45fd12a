"""The examples in the core modules' docstrings run and print what they say."""
import doctest
import importlib

import pytest

import qiflow as qf

MODULES = ["qiflow", "qiflow.tensor", "qiflow.autodiff", "qiflow.functional", "qiflow.gradcheck",
           "qiflow.creation", "qiflow.backend", "qiflow.ops.elementwise", "qiflow.ops.reduce",
           "qiflow.ops.movement", "qiflow.ops.indexing", "qiflow.ops.linalg", "qiflow.ops.join",
           "qiflow.losses"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(mod, extraglobs={"qf": qf}, optionflags=flags, report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"
