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

The block pushes an interpreter (``ops.base``): every primitive passes
through it while it is active, and outside the block nothing is checked or
recorded and nothing costs anything.

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

from .ops import base as _base
from .ops.base import Symbolic
from .tensor import Tensor

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "AnomalyError"]

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


def _origin(op, out):
    entry = _origins.get((id(out), id(op)))
    if entry is not None and entry[0]() is out:
        return entry[1]
    return "<unknown line: the node was made while detect_anomaly was off>"


def _values(x):
    """The ndarray behind a tensor/array/number, or None for symbolic or missing values."""
    if x is None or isinstance(x, Symbolic):
        return None
    if isinstance(x, Tensor):
        x = x._data
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
    """Check the output array of a recorded node; remember where it was made."""
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


def check_backward(op, inputs, output, grads):
    """Check the gradients a vjp returned."""
    for i, g in enumerate(grads):
        a = _values(g)
        kind = _kind(a)
        if kind is None:
            continue
        shapes = ", ".join(_describe(x) for x in inputs)
        out = output._data if isinstance(output, Tensor) else output
        raise AnomalyError(
            f"detect_anomaly: the backward of {op!r} produced "
            f"{_NAMES[kind]} in the gradient of input {i} "
            f"({_count(a, kind)}; inputs {shapes}; output {_describe(out)}); "
            f"the node was created at {_origin(op, out)}")


class _Anomaly(_base.Interpreter):
    """Checks every recorded op's output and every vjp's gradients."""

    intercepts_vjp = True
    by_set = False          # pushed by set_detect_anomaly (may stay after the call returns)

    def __init__(self, enabled):
        super().__init__()
        self.enabled = enabled

    def _below(self):
        p = self.parent
        while isinstance(p, _Anomaly):
            p = p.parent
        return p

    def apply(self, op, args):
        out = self._below().apply(op, args)
        if self.enabled and isinstance(out, Tensor) and out._op is op:
            check_forward(op, args, out._data)
        return out

    def vjp(self, op, ctx, inputs, output, grad):
        gin = self._below().vjp(op, ctx, inputs, output, grad)
        if self.enabled:
            check_backward(op, inputs, output, gin)
        return gin


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

    def __init__(self, enabled=True, check_nan=None):
        # check_nan: PyTorch's name for the same switch (qiflow's checks are all about NaN/inf)
        self.enabled = bool(enabled) and (check_nan is None or bool(check_nan))
        self._active = []

    def __enter__(self):
        self._active.append(_base.push(_Anomaly(self.enabled)))
        return self

    def __exit__(self, *exc):
        _base.pop(self._active.pop())
        return False


def is_anomaly_enabled():
    a = _base.active(_Anomaly)
    return a is not None and a.enabled


def _switch(mode):
    """Make anomaly checking ``mode`` from now on; returns the interpreter pushed, or None."""
    cur = _base.active(_Anomaly)
    if cur is not None and cur.by_set:
        cur.enabled = mode
        if not mode and _base._top is cur:
            _base.pop(cur)          # nothing left to check: take it off the stack
        return None
    if (cur is not None and cur.enabled) == mode:
        return None
    interp = _Anomaly(mode)
    interp.by_set = True
    return _base.push(interp)


class set_detect_anomaly:
    """PyTorch's ``set_detect_anomaly(mode, check_nan=True)``: switch anomaly checking on or
    off at once; used in a ``with`` block, the previous mode comes back at its end.

    Differences from PyTorch, both stricter: qiflow also checks forward passes
    (the first op that *creates* a NaN or inf raises, see :class:`detect_anomaly`),
    and it raises instead of warning.

    >>> with qf.set_detect_anomaly(True):
    ...     qf.is_anomaly_enabled()
    True
    """

    def __init__(self, mode, check_nan=True):
        self.prev = is_anomaly_enabled()
        self._pushed = _switch(bool(mode) and bool(check_nan))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._pushed is not None and _base._top is self._pushed:
            _base.pop(self._pushed)
        else:
            _switch(self.prev)
        return False
