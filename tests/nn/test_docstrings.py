"""The examples in the nn/optim modules' docstrings run and print what they say."""
import doctest
import importlib

import pytest

import qiflow as qf

MODULES = ["qiflow.nn", "qiflow.nn.module", "qiflow.nn.containers", "qiflow.nn.linear", "qiflow.nn.conv",
           "qiflow.nn.pooling", "qiflow.nn.norm", "qiflow.nn.dropout", "qiflow.nn.embedding", "qiflow.nn.rnn",
           "qiflow.nn.activation", "qiflow.nn.loss", "qiflow.nn.init", "qiflow.nn.functional", "qiflow.nn.utils",
           "qiflow.ops.conv", "qiflow.ops.pool", "qiflow.ops.dense", "qiflow.ops.xent", "qiflow.ops.rnn", "qiflow.optim", "qiflow.optim.optimizer",
           "qiflow.optim.sgd", "qiflow.optim.adam", "qiflow.optim.rmsprop", "qiflow.optim.adagrad",
           "qiflow.optim.lr_scheduler"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(mod, extraglobs={"qf": qf}, optionflags=flags, report=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"
