"""The two front doors each speak their own dialect: the same names mean PyTorch's
thing on eager tensors and Theano's/NumPy's on ``qiflow.sym`` variables."""
import numpy as np

import qiflow as qf
from qiflow import sym as T

A = np.arange(6.0).reshape(2, 3)


def test_eager_speaks_pytorch_and_sym_speaks_theano():
    x = T.dmatrix("x")
    f = T.function([x], [x.max(axis=1), x.transpose(), x.std(), T.max(x, 1), x.sum(axis=0)])
    smax, strans, sstd, smax2, ssum = f(A)
    t = qf.tensor(A)
    # sym: NumPy's meanings
    np.testing.assert_array_equal(smax, A.max(1))
    np.testing.assert_array_equal(smax2, A.max(1))
    np.testing.assert_array_equal(strans, A.T)
    np.testing.assert_allclose(sstd, A.std())                     # biased, NumPy's
    np.testing.assert_array_equal(ssum, A.sum(0))
    # eager: PyTorch's meanings
    v, i = t.max(1)
    assert v.tolist() == A.max(1).tolist() and i.tolist() == [2, 2]
    assert t.transpose(0, 1).tolist() == A.T.tolist()
    np.testing.assert_allclose(t.std().item(), A.std(ddof=1))      # unbiased, PyTorch's
    assert t.sum(dim=0).tolist() == A.sum(0).tolist()


def test_sym_split_and_equal_keep_numpy_meanings():
    x = T.dvector("x")
    f = T.function([x], [T.eq(x, 2.0)] + list(x.split([1, 3])))
    eq, *parts = f(np.arange(5.0))
    assert eq.tolist() == [False, False, True, False, False]
    assert [p.tolist() for p in parts] == [[0.0], [1.0, 2.0], [3.0, 4.0]]       # split points
    assert [p.tolist() for p in qf.split(qf.arange(5.0), [1, 4])] == [[0.0], [1.0, 2.0, 3.0, 4.0]]
    assert qf.equal(qf.arange(3), qf.arange(3)) is True
