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
from ..tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so their joint norm is at most ``max_norm``.

    Returns the total norm before clipping (a 0-d tensor), as PyTorch does.
    """
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.asarray(0.0, np.float32))
    norm_type = float(norm_type)
    dtype = grads[0].data.dtype
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g.data))) if g.data.size else 0.0 for g in grads)
    else:
        acc = 0.0
        for g in grads:
            d = g.data.ravel()
            if norm_type == 2.0:
                acc += float(np.dot(d, d))   # one BLAS pass, no temporary
            else:
                acc += float(np.sum(np.abs(d) ** norm_type))
        total = acc ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise QiflowError(f"clip_grad_norm_: the total gradient norm is {total}; pass "
                          "error_if_nonfinite=False to clip anyway")
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            np.multiply(g.data, np.asarray(coef, g.data.dtype), out=g.data)
            g._version += 1
    return Tensor(np.asarray(total, dtype))


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element to [-clip_value, clip_value], in place."""
    c = float(clip_value)
    for g in _grads(parameters):
        np.clip(g.data, -c, c, out=g.data)
        g._version += 1


def parameters_to_vector(parameters):
    """All parameters flattened and joined into one 1-D tensor (a copy)."""
    return Tensor(np.concatenate([p.data.ravel() for p in parameters]))


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into the parameters, in place."""
    v = vec.data if isinstance(vec, Tensor) else np.asarray(vec)
    i = 0
    for p in parameters:
        n = p.data.size
        if i + n > v.size:
            raise QiflowError(f"vector_to_parameters: vector of length {v.size} is too short")
        np.copyto(p.data, v[i:i + n].reshape(p.shape), casting="unsafe")
        p._version += 1
        i += n
    if i != v.size:
        raise QiflowError(f"vector_to_parameters: vector of length {v.size} has {v.size - i} extra values")
