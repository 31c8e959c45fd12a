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


def _undefined_through(roots, wrt, blocked):
    """The first op with an undefined gradient (a random draw), reached from the
    roots without crossing ``blocked`` variables, whose differentiable inputs
    depend on one of ``wrt``, as (op, w), or None."""
    from .graph import toposort, ancestors
    want = {id(w) for w in wrt}
    stop = {id(b) for b in blocked}
    for node in toposort(roots, stop):
        if getattr(node.op, "grad_undefined", False):
            for v in ancestors([i for i in node.inputs if i.dtype.kind in "fc"], stop):
                if id(v) in want:
                    return node.op, v
    return None


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", stabilize=True,
         known_grads=None, return_disconnected="zero"):
    """d cost / d wrt for a scalar ``cost``; ``wrt`` is a variable or a list of them.

    ``consider_constant``: variables through which no gradient flows.
    ``disconnected_inputs``: 'raise' (default), 'warn' or 'ignore' for a ``wrt``
    the cost does not depend on ('warn' and 'ignore' return zeros).  A ``wrt``
    the cost depends on only through integer casts, comparisons or rounding
    gets a zero gradient (as in Theano); one reached through a random draw
    raises (its gradient is undefined).
    ``known_grads``: ``{variable: gradient}`` to start from (with or instead of
    the cost: ``cost`` may then be None).

    >>> x = T.dvector('x'); y = T.dvector('y')
    >>> g = T.grad(None, x, known_grads={x * y: T.ones_like(x)})
    >>> T.function([x, y], g)([1.0, 2.0], [3.0, 4.0]).tolist()
    [3.0, 4.0]
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"grad: disconnected_inputs must be 'raise', 'warn' or 'ignore', "
                         f"got {disconnected_inputs!r}")
    if return_disconnected not in ("zero", "None"):
        raise ValueError(f"grad: return_disconnected must be 'zero' or 'None', got "
                         f"{return_disconnected!r}")
    known = list((known_grads or {}).items())
    if cost is None and not known:
        raise TypeError("grad: give a cost or known_grads")
    if cost is not None and not isinstance(cost, Variable):
        raise TypeError(f"grad: cost must be a symbolic variable, got {type(cost).__name__}")
    if cost is not None and cost.ndim != 0:
        raise QiflowError(f"grad: cost must be a scalar, got {cost.type} (sum or average it first)")
    for k, (v, g) in enumerate(known):
        if not isinstance(v, Variable):
            raise TypeError(f"grad: known_grads key {k} is a {type(v).__name__}, not a variable")
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
    if cost is not None and cost.dtype.kind not in "fc":
        raise TypeError(f"grad: cost {cost!r} has type {cost.type}; it must be a float")
    blocked = list(consider_constant or [])
    if stabilize and cost is not None:
        from .rewrites.registry import stabilize_for_grad
        # what is kept: wrt, the constants and the known gradients' variables stay the same objects
        cost = stabilize_for_grad(cost, list(wrt) + blocked + [v for v, _ in known])
    roots = ([cost] if cost is not None else []) + [v for v, _ in known]
    seeds = ([E.ones_like(cost)] if cost is not None else []) + [
        _as_grad(v, g) for v, g in known]
    undefined = _undefined_through(roots, wrt, blocked)
    if undefined is not None:
        op, w = undefined
        raise QiflowError(f"grad: the cost depends on {w!r} through the random draw {op!r}, "
                          "whose gradient is undefined (as in Theano); pass the parameter in "
                          "consider_constant if no gradient should flow through it")
    saved = [(v, v.requires_grad) for v in blocked]
    for v in blocked:
        v.requires_grad = False
    try:
        res = autodiff._sweep(roots, seeds, retain_graph=True, create_graph=True, targets=wrt)
    finally:
        for v, r in saved:
            v.requires_grad = r
    from .graph import ancestors
    reached = {id(v) for v in ancestors(roots, stop={id(b) for b in blocked})}
    out = []
    for w, g in zip(wrt, res):
        if g is None and id(w) in reached:
            g = E.zeros_like(w)      # connected through integer casts, comparisons, rounding
        elif g is None and return_disconnected == "None" and disconnected_inputs != "raise":
            out.append(None)
            continue
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


def _as_grad(v, g):
    from .graph import as_variable
    g = as_variable(g, (v.type.dtype,))
    if g.ndim != v.ndim:
        raise QiflowError(f"grad: the known gradient of {v!r} ({v.type}) has ndim {g.ndim}")
    return g if g.dtype == v.dtype else E.cast(g, v.dtype)
