"""Every example in every qiflow module's docstrings runs and prints what it says.

The modules are found by walking the package, so a new module is covered without
being listed here.
"""
import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import qiflow as qf
from qiflow import sym as T

MODULES = ["qiflow"] + sorted(m.name for m in pkgutil.walk_packages(qf.__path__, "qiflow.")
                              if not m.name.endswith("__main__"))


def test_the_walk_finds_every_front_door():
    for name in ("qiflow.tensor", "qiflow.sym.function", "qiflow.nn.conv", "qiflow.optim.adam",
                 "qiflow.viz.explain", "qiflow.train", "qiflow.io"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(mod, extraglobs={"qf": qf, "T": T, "np": np}, optionflags=flags,
                             report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"
