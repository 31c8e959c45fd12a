import sys

import pytest


@pytest.fixture
def theano():
    """``import theano`` resolved to qiflow.compat.theano for one test (then undone)."""
    from qiflow.compat import theano as qt
    had = {k: sys.modules[k] for k in list(sys.modules) if k == "theano" or k.startswith("theano.")}
    for k in had:
        del sys.modules[k]
    assert qt.install(force=True)
    import theano as th
    old = th.config.floatX
    try:
        yield th
    finally:
        th.config.floatX = old
        qt.uninstall()
        sys.modules.update(had)


@pytest.fixture
def digits():
    """sklearn's 8x8 digits scaled to [0, 1], split train / valid / test."""
    datasets = pytest.importorskip("sklearn.datasets")
    import numpy as np
    d = datasets.load_digits()
    x = (d.data / 16.0).astype("float32")
    y = d.target.astype("int32")
    order = np.random.RandomState(0).permutation(len(y))
    x, y = x[order], y[order]
    return (x[:1200], y[:1200]), (x[1200:1500], y[1200:1500]), (x[1500:], y[1500:])
