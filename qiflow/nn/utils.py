"""Gradient clipping and parameter/vector conversion.

>>> p = qf.nn.Parameter(qf.zeros(2)); p.grad = qf.tensor([3.0, 4.0])
>>> qf.nn.utils.clip_grad_norm_([p], 1.0).item()
5.0
>>> [round(v, 3) for v in p.grad.tolist()]
[0.6, 0.8]
"""
import math

import numpy as np

from .._state import QiflowError
from ..autodiff import no_grad
from ..ops import elementwise as E, reduce as R
from ..ops.join import stack
from ..ops.linalg import dot
from ..ops.movement import reshape
from ..tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so their joint norm is at most ``max_norm``.

    Returns the total norm before clipping (a 0-d tensor), as PyTorch does.
    Written with qiflow ops (and in-place ``mul_``), so a traced training step
    clips inside the compiled function.
    """
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.asarray(0.0, np.float32))
    norm_type = float(norm_type)
    with no_grad():
        if norm_type == math.inf:
            norms = [R.max(E.abs(g)) if g.numel() else None for g in grads]
            norms = [n for n in norms if n is not None]
            total = R.max(stack(norms)) if norms else Tensor(np.asarray(0.0, grads[0].dtype))
        else:
            parts = []
            for g in grads:
                if norm_type == 2.0:
                    flat = reshape(g, (-1,))
                    parts.append(dot(flat, flat))        # one BLAS pass, no temporary
                else:
                    parts.append(R.sum(E.abs(g) ** norm_type))
            total = R.sum(stack(parts)) ** (1.0 / norm_type)
        if error_if_nonfinite and not math.isfinite(float(total)):
            raise QiflowError(f"clip_grad_norm_: the total gradient norm is {float(total)}; pass "
                              "error_if_nonfinite=False to clip anyway")
        coef = E.clip(float(max_norm) / (total + 1e-6), None, 1.0)
        for g in grads:
            g.mul_(coef)
    return total


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element to [-clip_value, clip_value], in place."""
    c = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-c, c)


def parameters_to_vector(parameters):
    """All parameters flattened and joined into one 1-D tensor (a copy)."""
    return Tensor(np.concatenate([p._data.ravel() for p in parameters]))


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into the parameters, in place."""
    v = vec._data if isinstance(vec, Tensor) else np.asarray(vec)
    i = 0
    for p in parameters:
        n = p._data.size
        if i + n > v.size:
            raise QiflowError(f"vector_to_parameters: vector of length {v.size} is too short")
        np.copyto(p._data, v[i:i + n].reshape(p.shape), casting="unsafe")
        p._version += 1
        i += n
    if i != v.size:
        raise QiflowError(f"vector_to_parameters: vector of length {v.size} has {v.size - i} extra values")
