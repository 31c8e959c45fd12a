"""Numerical gradient checking by central differences (seed 002's method).

>>> x = qf.tensor([0.3, -1.2], dtype="float64", requires_grad=True)
>>> qf.gradcheck(lambda t: (t.sin() * t).sum(), [x])
True
"""
import warnings

import numpy as np

from .tensor import Tensor
from .autodiff import grad as _grad


class GradcheckError(AssertionError):
    pass


def _as_list(inputs):
    return [inputs] if isinstance(inputs, Tensor) else list(inputs)


def _scalarize(out, weights):
    """Sum of out * weights over all outputs, as a Python float or a Tensor."""
    outs = out if isinstance(out, (list, tuple)) else [out]
    if weights is None:       # plain sum: numerical_grad of a scalar function
        weights = [1.0] * len(outs)
    total = None
    for o, w in zip(outs, weights):
        term = (o * w).sum()
        total = term if total is None else total + term
    return total


def numerical_grad(fn, inputs, eps=1e-6, weights=None):
    """Central-difference gradient of sum(fn(*inputs) * weights) for each float input
    (weights default to ones: the plain sum of the outputs)."""
    inputs = _as_list(inputs)
    out = []
    for x in inputs:
        if not (isinstance(x, Tensor) and x.requires_grad):
            out.append(None)
            continue
        g = np.zeros_like(x._data)
        flat, gflat = x._data.reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            orig = flat[i]
            flat[i] = orig + eps
            fp = float(_scalarize(fn(*inputs), weights).item())
            flat[i] = orig - eps
            fm = float(_scalarize(fn(*inputs), weights).item())
            flat[i] = orig
            gflat[i] = (fp - fm) / (2 * eps)
        out.append(g)
    return out


def _weights(fn, inputs, seed):
    outs = fn(*inputs)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    rng = np.random.default_rng(seed)
    return [Tensor(rng.standard_normal(o.shape).astype(o.dtype)) for o in outs]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Compare analytic gradients of ``fn`` with central differences.

    Non-scalar outputs are reduced with fixed random weights.  Returns True, or
    raises naming the input, the worst element, and both values.  Use float64
    inputs: float32 is too coarse for differences and gives a warning.
    """
    inputs = _as_list(inputs)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    if any(x.dtype != np.float64 for x in diff):
        warnings.warn("gradcheck: inputs are not float64; central differences will be inaccurate",
                      stacklevel=2)
    weights = _weights(fn, inputs, seed)
    total = _scalarize(fn(*inputs), weights)
    # An output cut from every input (e.g. the gradient of floor) has a zero gradient.
    analytic = (_grad(total, diff, allow_unused=True) if getattr(total, "requires_grad", False)
                else [None] * len(diff))
    numeric = [n for n in numerical_grad(fn, inputs, eps, weights) if n is not None]
    for k, (x, a, n) in enumerate(zip(diff, analytic, numeric)):
        a = np.zeros_like(n) if a is None else a._data
        err = np.abs(a - n) - (atol + rtol * np.abs(n))
        if err.size and err.max() > 0:
            i = np.unravel_index(int(np.argmax(err)), err.shape)
            pos = next(j for j, t in enumerate(inputs) if t is x)   # not index(): == is elementwise
            msg = (f"gradcheck: gradient of input {pos} (shape {x.shape}) is wrong at "
                   f"index {tuple(int(j) for j in i)}: analytic {a[i]!r}, numeric {n[i]!r} "
                   f"(atol={atol}, rtol={rtol})")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=1):
    """Check second derivatives: gradcheck of the (recorded) first gradient."""
    inputs = _as_list(inputs)
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    weights = _weights(fn, inputs, seed)

    def first(*xs):
        ds = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        gs = _grad(_scalarize(fn(*xs), weights), ds, create_graph=True, allow_unused=True)
        return [g if g is not None else x * 0 for g, x in zip(gs, ds)]

    if not diff:
        raise ValueError("gradgradcheck: no input requires grad")
    return gradcheck(first, inputs, eps, atol, rtol, raise_exception, seed + 1)
