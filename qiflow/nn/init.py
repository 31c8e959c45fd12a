"""Weight initialisation, in place, with PyTorch's names and formulas.

Every function fills the tensor's array in place and returns the tensor.
Randomness comes from ``generator`` (a ``numpy.random.Generator``) or from
the global one seeded by ``qf.manual_seed``.

>>> w = qf.nn.Parameter(qf.empty(256, 128))
>>> _ = qf.nn.init.xavier_uniform_(w, generator=qf.Generator(0))
>>> bool(abs(w).max() <= (6 / (128 + 256)) ** 0.5)
True
"""
import math

import numpy as np

from ..random import _gen
from .._state import QiflowError


def calculate_gain(nonlinearity, param=None):
    """The gain PyTorch recommends for a nonlinearity (tanh: 5/3, relu: sqrt 2 ...)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise QiflowError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(t):
    shape = t.shape
    if len(shape) < 2:
        raise QiflowError(f"init: fan in and fan out need a tensor with at least 2 dimensions, "
                          f"got shape {tuple(shape)}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fill(t, values):
    np.copyto(t._data, values, casting="unsafe")
    t._version += 1
    return t


def uniform_(t, a=0.0, b=1.0, generator=None):
    """Fill with samples of U(a, b)."""
    return _fill(t, _gen(generator).uniform(a, b, t.shape))


def normal_(t, mean=0.0, std=1.0, generator=None):
    """Fill with samples of N(mean, std**2)."""
    return _fill(t, _gen(generator).normal(mean, std, t.shape))


def trunc_normal_(t, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std**2) samples redrawn until they fall in [a, b]."""
    rng = _gen(generator)
    out = rng.normal(mean, std, t.shape)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(t, out)


def constant_(t, val):
    """Fill with ``val``."""
    t._data.fill(val)
    t._version += 1
    return t


def zeros_(t):
    """Fill with 0."""
    return constant_(t, 0)


def ones_(t):
    """Fill with 1."""
    return constant_(t, 1)


def eye_(t):
    """Identity matrix (2-D tensors)."""
    if t.ndim != 2:
        raise QiflowError(f"eye_: needs a 2-D tensor, got shape {tuple(t.shape)}")
    return _fill(t, np.eye(*t.shape))


def xavier_uniform_(t, gain=1.0, generator=None):
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a, generator)


def xavier_normal_(t, gain=1.0, generator=None):
    """Glorot normal: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(t, a, mode, nonlinearity):
    if mode not in ("fan_in", "fan_out"):
        raise QiflowError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise QiflowError(f"kaiming init: tensor of shape {tuple(t.shape)} has a zero fan")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(t, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan)."""
    b = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -b, b, generator)


def kaiming_normal_(t, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std**2) with std = gain / sqrt(fan)."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity), generator)


def orthogonal_(t, gain=1.0, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one."""
    if t.ndim < 2:
        raise QiflowError(f"orthogonal_: needs at least 2 dimensions, got shape {tuple(t.shape)}")
    rows = t.shape[0]
    cols = t._data.size // rows
    flat = _gen(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(t, gain * q.reshape(t.shape))


# names without the trailing underscore, and Glorot/He aliases
uniform, normal, constant, zeros, ones = uniform_, normal_, constant_, zeros_, ones_
xavier_uniform, xavier_normal = xavier_uniform_, xavier_normal_
glorot_uniform, glorot_uniform_ = xavier_uniform_, xavier_uniform_
glorot_normal, glorot_normal_ = xavier_normal_, xavier_normal_
kaiming_uniform, kaiming_normal = kaiming_uniform_, kaiming_normal_
he_uniform, he_normal = kaiming_uniform_, kaiming_normal_
