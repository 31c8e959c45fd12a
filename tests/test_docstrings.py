"""Every example in every qiflow module's docstrings runs and prints what it says.

The modules are found by walking the package, so a new module is covered without
being listed here.  Each module's examples run inside their own temporary folder
with the environment restored afterwards, so an example that writes ``ckpt.npz``
or sets ``QIFLOW_CACHE`` leaves nothing behind in the shared temp folder, the
checkout or the other tests.
"""
import doctest
import importlib
import os
import pkgutil
import re
import tempfile

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


@pytest.fixture
def in_tmp_dir(tmp_path, monkeypatch):
    """Run in a fresh folder with a copy of the environment (undone after the test)."""
    monkeypatch.chdir(tmp_path)
    saved = dict(os.environ)
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, in_tmp_dir):
    mod = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(mod, extraglobs={"qf": qf, "T": T, "np": np}, optionflags=flags,
                             report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"


def _examples(mod):
    finder = doctest.DocTestFinder(exclude_empty=True)
    for test in finder.find(mod, mod.__name__):
        for ex in test.examples:
            yield test.name, ex.source


def test_no_example_writes_to_an_absolute_temp_path():
    # A path like "/tmp/ckpt.npz" is shared by every user and test run of the machine.
    temp = re.escape(tempfile.gettempdir().rstrip("/"))
    pattern = re.compile(rf"['\"](/tmp|{temp})/")
    bad = [(where, src.strip()) for name in MODULES
           for where, src in _examples(importlib.import_module(name)) if pattern.search(src)]
    assert not bad, bad
