"""Jacobians and Hessians built from ``grad``.

A vector whose length is known when the graph is built gets one ``grad`` per
element; otherwise ``JacobianRows`` holds a compiled inner function giving one row: the gradient
of ``sum(expression * seed)`` for a one-hot ``seed``; its forward runs it once
per element (what Theano's ``scan`` did for ``jacobian``).
"""
import numpy as np

from .._state import QiflowError
from ..ops.base import Op, apply
from ..ops.join import stack
from ..ops.reduce import sum as _sum
from .function import function
from .grad import grad
from .graph import Variable, Constant, leaves, TensorType
from .shared import SharedVariable


class JacobianRows(Op):
    """Stacks d(sum(expression * e_i))/d(wrt) over i; inputs: the inner graph's free inputs."""
    __slots__ = ("inner", "n_in", "wrt_type", "key")
    props = ("key",)
    differentiable = False
    view_map = {}

    def __init__(self, inner, n_in, wrt_type, key):
        self.inner, self.n_in, self.wrt_type, self.key = inner, n_in, wrt_type, key

    def infer(self, *types):
        return (None,) + tuple(self.wrt_type.shape), self.wrt_type.dtype

    def forward(self, length_of, *args):
        n = np.shape(length_of)[0]
        seed = np.zeros(n, dtype=np.asarray(length_of).dtype)
        rows = []
        for i in range(n):
            seed[i] = 1
            rows.append(np.asarray(self.inner(*args, seed)))
            seed[i] = 0
        if not rows:
            return np.zeros((0,) + tuple(0 if d is None else d for d in self.wrt_type.shape),
                            self.wrt_type.dtype)
        return np.stack(rows)


def jacobian_rows(expression, wrts, consider_constant, disconnected_inputs):
    seed = Variable(TensorType(expression.dtype, expression.type.shape), name="seed")
    seed.requires_grad = False
    gs = grad(_sum(expression * seed), wrts, consider_constant, disconnected_inputs)
    free = [v for v in leaves(list(gs) + [expression])
            if not isinstance(v, (Constant, SharedVariable)) and v is not seed]
    out = []
    for w, g in zip(wrts, gs):
        inner = function(free + [seed], g, on_unused_input="ignore")
        op = JacobianRows(inner, len(free), w.type, id(inner))
        out.append(apply(op, expression, *free))
    if not out:
        raise QiflowError("jacobian: nothing to differentiate")
    return out


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
        rows = [grad(expression[i], wrts, consider_constant, disconnected_inputs) for i in range(n)]
        res = [stack([r[k] for r in rows]) for k in range(len(wrts))]
    else:
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
