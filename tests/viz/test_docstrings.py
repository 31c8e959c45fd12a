"""The examples in qiflow.viz's docstrings run and print what they say."""
import doctest
import importlib

import pytest

import qiflow as qf

MODULES = ["qiflow.viz", "qiflow.viz.draw", "qiflow.viz.explain", "qiflow.viz.graph", "qiflow.viz.dot",
           "qiflow.viz.scopes", "qiflow.viz.plots"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(mod, extraglobs={"qf": qf}, optionflags=flags, report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"
