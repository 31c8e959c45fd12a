"""Theano meanings found missing by running the deeplearning.net tutorial
programs through qiflow.compat.theano (issue 13, "Must show"); each test is
written from Theano's documented semantics."""
import numpy as np
import pytest

import qiflow as qf
from qiflow import sym as T
from qiflow import QiflowError
from qiflow.ops import linalg as L


def fd_grad(f, x, eps=1e-6):
    """Central differences of a scalar function of one float64 array."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        g[i] = (f(xp) - f(xm)) / (2 * eps)
    return g


# ---------------------------------------------------------------- T.dot, N-D
DOT_SHAPES = [((4, 2, 3), (3, 5)), ((4, 2, 3), (3,)), ((2, 3), (4, 3, 5)),
              ((2, 2, 3), (4, 3, 5)), ((3,), (4, 3, 2)), ((2, 3), (3, 4))]


@pytest.mark.parametrize("sa,sb", DOT_SHAPES)
def test_dot_of_ndim_above_two_is_numpys_dot(sa, sb):
    # Theano's T.dot on N-D operands is numpy.dot: the sum over a's last axis
    # and b's second-to-last axis
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    x = T.TensorType("float64", (False,) * len(sa))("x")
    y = T.TensorType("float64", (False,) * len(sb))("y")
    out = T.dot(x, y)
    assert out.ndim == np.dot(a, b).ndim
    np.testing.assert_allclose(T.function([x, y], out)(a, b), np.dot(a, b), rtol=1e-12)
    np.testing.assert_allclose(L.dot(qf.tensor(a), qf.tensor(b)).numpy(), np.dot(a, b),
                               rtol=1e-12)


@pytest.mark.parametrize("sa,sb", DOT_SHAPES[:4])
def test_dot_of_ndim_above_two_gradients_by_finite_differences(sa, sb):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    w = rng.standard_normal(np.dot(a, b).shape)
    x = T.TensorType("float64", (False,) * len(sa))("x")
    y = T.TensorType("float64", (False,) * len(sb))("y")
    cost = (T.dot(x, y) * w).sum()
    ga, gb = T.function([x, y], T.grad(cost, [x, y]))(a, b)
    np.testing.assert_allclose(ga, fd_grad(lambda v: (np.dot(v, b) * w).sum(), a), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(gb, fd_grad(lambda v: (np.dot(a, v) * w).sum(), b), rtol=1e-6,
                               atol=1e-8)


def test_dot_of_ndim_above_two_with_unknown_sizes_and_a_mismatch():
    x, W = T.dtensor3("x"), T.dmatrix("W")
    f = T.function([x, W], T.dot(x, W))
    assert f(np.ones((5, 2, 3)), np.ones((3, 4))).shape == (5, 2, 4)
    with pytest.raises(Exception, match=r"3.*4|4.*3"):
        f(np.ones((5, 2, 3)), np.ones((4, 4)))
    with pytest.raises(QiflowError, match=r"(?i)einsum.*\[2, 3\].*\[4, 2, 5\]"):
        L.dot(qf.ones((2, 3)), qf.ones((4, 2, 5)))
