"""``F.group_norm`` and ``F.normalize``, composites of qiflow ops.

>>> x = qf.arange(8.0).reshape(1, 4, 2)
>>> [round(v, 4) for v in qf.nn.functional.group_norm(x, 2)[0, 0].tolist()]
[-1.3416, -0.4472]
>>> [round(v, 4) for v in qf.nn.functional.normalize(qf.tensor([[3.0, 4.0]]))[0].tolist()]
[0.6, 0.8]
"""
import math

import numpy as np

from .._state import QiflowError
from ..ops import elementwise as E
from ..ops import reduce as R
from ..ops.movement import reshape


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise (N, C, *) input over each group of C / num_groups channels and all
    positions (biased variance), then scale and shift per channel, PyTorch's rule."""
    shape = tuple(input.shape)
    if len(shape) < 2:
        raise QiflowError(f"group_norm: expected input (N, C, *), got shape {shape}")
    N, C = shape[0], shape[1]
    G = int(num_groups)
    if G < 1 or C % G:
        raise QiflowError(f"group_norm: {C} channels (input {shape}) cannot be split into {num_groups} groups")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            raise QiflowError(f"group_norm: {name} must have shape ({C},), got {tuple(t.shape)}")
    g = reshape(input, (N, G, -1))
    mean = R.mean(g, 2, keepdims=True)
    d = g - mean
    var = R.mean(d * d, 2, keepdims=True)
    y = reshape(d * (1.0 / E.sqrt(var + eps)), shape)
    bshape = (1, C) + (1,) * (len(shape) - 2)
    if weight is not None:
        y = y * reshape(weight, bshape)
    if bias is not None:
        y = y + reshape(bias, bshape)
    return y


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """x / max(||x||_p, eps) along ``dim``, PyTorch's ``F.normalize`` (p may be inf).

    A zero vector stays zero with a zero (not NaN) gradient: below eps the
    norm is replaced by the constant eps before any root is taken.
    """
    shape = tuple(input.shape)
    nd = len(shape)
    if not -max(nd, 1) <= dim < max(nd, 1):
        raise QiflowError(f"normalize: dim {dim} is out of range for input of shape {shape}")
    p = float(p)
    if not p > 0:
        raise QiflowError(f"normalize: p must be > 0 (or inf), got {p}")
    a = E.abs(input)
    if math.isinf(p):
        norm = E.maximum(R.max(a, dim, keepdims=True), eps)
        return input / norm
    s = R.sum(a * a if p == 2 else a ** p, dim, keepdims=True)
    floor = np.asarray(eps ** p, dtype=input.dtype)
    if not floor > 0:    # eps**p underflows in this dtype: clamp after the root instead
        return input / E.maximum(s ** (1.0 / p), eps)
    # where s <= eps**p the norm is the constant eps: no gradient through the root at 0
    safe = E.where(s > floor, s, floor)
    norm = E.sqrt(safe) if p == 2 else safe ** (1.0 / p)
    return input / norm
