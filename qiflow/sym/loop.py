"""Jacobians of vectors whose length is known only at run time.

``JacobianRows`` holds a compiled inner function giving one row: the gradient
of ``sum(expression * seed)`` for a one-hot ``seed``; its forward runs it once
per element (what Theano's ``scan`` did for ``jacobian``).
"""
import numpy as np

from .._state import QiflowError
from ..ops.base import Op, apply
from .graph import Variable, Constant, leaves
from .shared import SharedVariable
from .types import TensorType


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
    from .grad import grad
    from .function import function
    from ..ops.reduce import sum as _sum
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
