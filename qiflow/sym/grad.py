"""Symbolic gradients: ``grad`` (``jacobian`` and ``hessian`` are in ``jacobian.py``).

``grad`` runs qiflow's one backward engine (``qiflow.autodiff._sweep``) on the
symbolic graph: each op's vjp receives variables and returns variables, so the
result is a graph that the compiler optimises like any other.

Before differentiating, the cost graph goes through the stabilising rewrites
(``log(sigmoid z)`` -> ``-softplus(-z)``, ``log(softmax x)`` -> ``log_softmax x``
...), so the gradient is built from the stable forms too (Theano reaches the
same result by simplifying the gradient afterwards).

>>> from qiflow import sym as T
>>> x = T.dscalar('x'); gy = T.grad(x ** 2, x)
>>> T.function([x], gy)(4)
array(8.)
"""
import warnings

from .. import autodiff
from .._state import QiflowError
from ..ops import elementwise as E
from .graph import Variable, Constant


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", stabilize=True):
    """d cost / d wrt for a scalar ``cost``; ``wrt`` is a variable or a list of them.

    ``consider_constant``: variables through which no gradient flows.
    ``disconnected_inputs``: 'raise' (default), 'warn' or 'ignore' for a ``wrt``
    the cost does not depend on ('warn' and 'ignore' return zeros).
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"grad: disconnected_inputs must be 'raise', 'warn' or 'ignore', "
                         f"got {disconnected_inputs!r}")
    if not isinstance(cost, Variable):
        raise TypeError(f"grad: cost must be a symbolic variable, got {type(cost).__name__}")
    if cost.ndim != 0:
        raise QiflowError(f"grad: cost must be a scalar, got {cost.type} (sum or average it first)")
    single = isinstance(wrt, Variable)
    wrt = [wrt] if single else list(wrt)
    for i, w in enumerate(wrt):
        if not isinstance(w, Variable):
            raise TypeError(f"grad: wrt[{i}] is a {type(w).__name__}, not a symbolic variable")
        if isinstance(w, Constant):
            raise TypeError(f"grad: wrt[{i}] is a constant ({w!r})")
        if w.dtype.kind not in "fc":
            raise TypeError(f"grad: cannot differentiate with respect to {w!r} of integer type "
                            f"{w.type}")
    if cost.dtype.kind not in "fc":
        raise TypeError(f"grad: cost {cost!r} has type {cost.type}; it must be a float")
    if stabilize:
        from .rewrites.registry import stabilize_for_grad
        cost = stabilize_for_grad(cost, wrt)
    blocked = list(consider_constant or [])
    saved = [(v, v.requires_grad) for v in blocked]
    for v in blocked:
        v.requires_grad = False
    try:
        root = E.ones_like(cost)
        res = autodiff._sweep([cost], [root], retain_graph=True, create_graph=True, targets=wrt)
    finally:
        for v, r in saved:
            v.requires_grad = r
    out = []
    for w, g in zip(wrt, res):
        if g is None:
            if disconnected_inputs == "raise":
                raise QiflowError(
                    f"grad: the cost does not depend on {w!r} ({w.type}); pass "
                    "disconnected_inputs='ignore' (zeros) or 'warn' if this is intended")
            if disconnected_inputs == "warn":
                warnings.warn(f"grad: the cost does not depend on {w!r}; its gradient is zero",
                              stacklevel=2)
            g = E.zeros_like(w)
        elif g.dtype != w.dtype:
            g = E.cast(g, w.dtype)
        out.append(g)
    return out[0] if single else out
