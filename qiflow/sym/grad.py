"""Symbolic gradients: ``grad``, ``jacobian``, ``hessian``.

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
        from .rewrites import stabilize_for_grad
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


def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    """d expression / d wrt for a vector (or scalar) ``expression``: one row per
    element of ``expression``, each of wrt's shape.

    >>> x = T.dvector('x'); J = T.jacobian(x ** 2, x)
    >>> T.function([x], J)([1.0, 2.0]).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    """
    single = isinstance(wrt, Variable)
    wrts = [wrt] if single else list(wrt)
    if expression.ndim == 0:
        res = grad(expression, wrts, consider_constant, disconnected_inputs)
        return res[0] if single else res
    if expression.ndim != 1:
        raise QiflowError(f"jacobian: expression must be a scalar or a vector, got {expression.type} "
                          "(flatten it first)")
    n = expression.type.shape[0]
    if n is not None:
        from ..ops.join import stack
        rows = [grad(expression[i], wrts, consider_constant, disconnected_inputs) for i in range(n)]
        res = [stack([r[k] for r in rows]) for k in range(len(wrts))]
    else:
        from .loop import jacobian_rows
        res = jacobian_rows(expression, wrts, consider_constant, disconnected_inputs)
    return res[0] if single else res


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """Second derivatives of a scalar cost: ``jacobian(grad(cost, wrt), wrt)``
    for each vector ``wrt``.

    >>> x = T.dvector('x'); H = T.hessian((x ** 3).sum(), x)
    >>> T.function([x], H)([1.0, 2.0]).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    single = isinstance(wrt, Variable)
    wrts = [wrt] if single else list(wrt)
    out = []
    for w in wrts:
        if w.ndim != 1:
            raise QiflowError(f"hessian: wrt must be vectors, got {w!r} of type {w.type}")
        g = grad(cost, w, consider_constant, disconnected_inputs)
        out.append(jacobian(g, w, consider_constant, disconnected_inputs))
    return out[0] if single else out
