"""Anomaly detection: find the first operation that makes a NaN or an inf.

Inside ``with qf.detect_anomaly():`` every recorded operation checks its
output, and every step of a backward pass checks the gradients it produces.
The first non-finite value raises :class:`AnomalyError`, which names the op,
the shapes of its inputs and the line of *your* code that created the node
(the first frame outside the qiflow package), so a NaN loss can be traced
back to ``log(0)`` instead of being discovered epochs later.

A value is blamed on an op only when the op *creates* it: a NaN output whose
inputs held no NaN, or an inf output whose inputs were all finite.  Values
that merely flow through (a ``-inf`` mask added to logits) are not reported.

Outside the block nothing is checked and nothing is recorded: the only cost
is one boolean test per op that ``apply`` and the engine already make.

>>> x = qf.tensor([1.0, 0.0], requires_grad=True)
>>> with qf.detect_anomaly():
...     y = qf.log(x)
Traceback (most recent call last):
qiflow.anomaly.AnomalyError: detect_anomaly: Log produced inf in its forward pass (1 of 2 values) ...
"""
import contextlib
import linecache
import os
import sys
import weakref

import numpy as np

from . import _state
from .ops.base import Symbolic
from .tensor import Tensor

__all__ = ["detect_anomaly", "AnomalyError"]

_PKG = os.path.dirname(os.path.abspath(__file__)) + os.sep


class AnomalyError(FloatingPointError):
    """A NaN or inf first appeared in the forward or backward of the named op."""


# (id(output array), id(op)) -> (weakref to the array, "file:line: source").
# Keyed by the array because apply() hands the checker the output ndarray;
# the op id disambiguates ops that return their input unchanged (a no-op cast).
_origins = {}


def _user_site():
    """``file:line: source`` of the innermost frame outside the qiflow package."""
    f = sys._getframe(2)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_PKG):
        f = f.f_back
    if f is None:
        return "<unknown line>"
    filename, lineno = f.f_code.co_filename, f.f_lineno
    src = linecache.getline(filename, lineno).strip()
    return f"{filename}:{lineno}" + (f": {src}" if src else "")


def _remember(out, op, site):
    key = (id(out), id(op))

    def forget(_ref, key=key):
        _origins.pop(key, None)

    try:
        _origins[key] = (weakref.ref(out, forget), site)
    except TypeError:        # not weak-referenceable: keep no origin rather than leak
        pass


def _origin(node):
    entry = _origins.get((id(node.data), id(node._op)))
    if entry is not None and entry[0]() is node.data:
        return entry[1]
    return "<unknown line: the node was made while detect_anomaly was off>"


def _values(x):
    """The ndarray behind a tensor/array/number, or None for symbolic or missing values."""
    if x is None or isinstance(x, Symbolic):
        return None
    if isinstance(x, Tensor):
        x = x.data
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (int, float, complex, np.generic)):
        return np.asarray(x)
    return None


def _kind(a):
    """'nan', 'inf' or None: the worst non-finite value in a (float/complex) array."""
    if a is None or a.dtype.kind not in "fc":
        return None
    if a.size and np.isfinite(a).all():
        return None
    if np.isnan(a).any():
        return "nan"
    if np.isinf(a).any():
        return "inf"
    return None


_NAMES = {"nan": "NaN", "inf": "inf"}


def _describe(x):
    if isinstance(x, (int, float, complex)) and not isinstance(x, bool):
        return repr(x)
    a = _values(x)
    if a is None:
        return type(x).__name__
    return f"{a.dtype}{list(a.shape)}" if a.ndim else f"{a.dtype} scalar"


def _count(a, kind):
    n = int(np.isnan(a).sum()) if kind == "nan" else int(np.isinf(a).sum())
    return f"{n} of {a.size} values"


def check_forward(op, args, out):
    """Called by ``apply`` for each recorded node while anomaly mode is on."""
    site = _user_site()
    _remember(out, op, site)
    kind = _kind(out)
    if kind is None:
        return
    inherited = [_kind(_values(a)) for a in args]
    if kind == "nan" and "nan" in inherited or kind == "inf" and any(inherited):
        return          # the non-finite value came in through an input
    shapes = ", ".join(_describe(a) for a in args)
    raise AnomalyError(
        f"detect_anomaly: {op!r} produced {_NAMES[kind]} in its forward "
        f"pass ({_count(out, kind)}) from finite inputs ({shapes}); created at {site}")


def check_backward(node, grads):
    """Called by the engine after each vjp while anomaly mode is on."""
    for i, g in enumerate(grads):
        a = _values(g)
        kind = _kind(a)
        if kind is None:
            continue
        inputs = node._inputs or ()
        shapes = ", ".join(_describe(x) for x in inputs)
        raise AnomalyError(
            f"detect_anomaly: the backward of {node._op!r} produced "
            f"{_NAMES[kind]} in the gradient of input {i} "
            f"({_count(a, kind)}; inputs {shapes}; output {_describe(node)}); "
            f"the node was created at {_origin(node)}")


class detect_anomaly(contextlib.ContextDecorator):
    """Raise at the first op whose forward or backward makes a NaN or inf.

    Works as a context manager or a decorator; nests and restores the previous
    mode on exit.  ``detect_anomaly(False)`` switches checking off inside.

    >>> x = qf.tensor([-1.0, 4.0], requires_grad=True)
    >>> with qf.detect_anomaly():
    ...     y = qf.sqrt(x)
    Traceback (most recent call last):
    qiflow.anomaly.AnomalyError: detect_anomaly: Sqrt produced NaN in its forward pass (1 of 2 ...
    """

    def __init__(self, enabled=True):
        self.enabled = bool(enabled)
        self._prev = []

    def __enter__(self):
        self._prev.append(_state.anomaly)
        _state.anomaly = self.enabled
        return self

    def __exit__(self, *exc):
        _state.anomaly = self._prev.pop()
        return False


def is_anomaly_enabled():
    return _state.anomaly


_state.anomaly_check_forward = check_forward
_state.anomaly_check_backward = check_backward
