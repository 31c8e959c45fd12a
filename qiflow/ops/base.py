"""The operator protocol and ``apply``, the one place that decides the mode.

An operator is one class with three methods:

* ``infer(*types)`` -> ``(shape, dtype)`` of the output, where each input type
  is a ``(shape, dtype)`` pair and unknown dimensions are ``None``; raises a
  clear error naming the op and the shapes;
* ``forward(*arrays)`` -> ndarray, computed with NumPy;
* ``vjp(inputs, output, grad)`` -> one gradient (or None) per input, written
  only with qiflow functions and operators, so that the same code runs on
  NumPy arrays (fast first-order backward), on Tensors (``create_graph``) and
  on symbolic Variables (``sym.grad``).

``apply(op, *args)`` builds a symbolic node when any argument is symbolic;
otherwise it computes now and records the op on the output tensor when a
gradient is needed and grad mode is on.
"""
import numpy as np

from .. import _state


class Op:
    """Base class of every primitive.

    ``props`` names the attributes that parametrise the op; two ops of the same
    class with equal props are interchangeable (used to merge graphs).
    """

    __slots__ = ()
    props = ()
    #: True when the gradient is zero almost everywhere (floor, sign ...)
    #: or undefined (comparisons): the engine does not differentiate through.
    differentiable = True

    def infer(self, *types):
        from .shapes import broadcast_types
        return broadcast_types(self, types)

    def forward(self, *arrays):
        raise NotImplementedError

    def vjp(self, inputs, output, grad):
        raise NotImplementedError(f"{self.name} has no gradient")

    @property
    def name(self):
        return type(self).__name__

    def _key(self):
        return (type(self),) + tuple(_hashable(getattr(self, p)) for p in self.props)

    def __eq__(self, other):
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        if not self.props:
            return self.name
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self.props)
        return f"{self.name}({args})"


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, np.ndarray):
        return (v.dtype.str, v.shape, v.tobytes())
    return v


class Symbolic:
    """Marker base class of symbolic variables (``qiflow.sym.Variable``)."""

    __slots__ = ()


# Filled in by qiflow.tensor and qiflow.sym at import time.
Tensor = None
_build_symbolic = None
#: Set by qiflow.sym.tracing while ``qf.compile`` traces a function: it turns an op
#: on tensors into a graph node (returns None to compute eagerly as usual).
_trace_hook = None


def apply(op, *args):
    """Run ``op`` on ``args`` (Tensors, symbolic Variables, arrays or numbers)."""
    if _trace_hook is not None:
        node = _trace_hook(op, args)
        if node is not None:
            return node
    T = Tensor
    n = len(args)
    # one or two tensors (nearly every call): no loop, no argument list
    if n == 2 and isinstance(args[0], T) and isinstance(args[1], T):
        a, b = args
        x, y = a.data, b.data
        try:
            out = op.forward(x, y)
        except _state.QiflowError:
            raise
        except Exception as exc:
            raise _forward_error(op, [x, y], exc) from exc
        track = a.requires_grad or b.requires_grad
        vsum = a._version + b._version
    elif n == 1 and isinstance(args[0], T):
        a = args[0]
        x = a.data
        try:
            out = op.forward(x)
        except _state.QiflowError:
            raise
        except Exception as exc:
            raise _forward_error(op, [x], exc) from exc
        track = a.requires_grad
        vsum = a._version
    else:
        arrays = []
        track = False
        found = False
        vsum = 0
        for a in args:
            if isinstance(a, T):
                found = True
                arrays.append(a.data)
                if a.requires_grad:
                    track = True
                vsum += a._version
            elif isinstance(a, Symbolic):
                return _build_symbolic(op, args)
            else:
                arrays.append(a)
        try:
            out = op.forward(*arrays)
        except _state.QiflowError:
            raise
        except Exception as exc:
            raise _forward_error(op, arrays, exc) from exc
        if out.__class__ is not np.ndarray:
            out = np.asarray(out)
        if not found:
            if _state.raw_mode:
                return out
            if not any(isinstance(a, np.ndarray) for a in arrays):
                # only Python numbers: give floats the default dtype
                from ..backend import get_default_dtype
                if out.dtype.kind == "f":
                    out = out.astype(get_default_dtype(), copy=False)
    if out.__class__ is not np.ndarray:
        out = np.asarray(out)
    t = T.__new__(T)
    t.data = out
    t.grad = None
    t._version = 0
    t._hooks = None
    t._retain = False
    t.name = None
    if track and _state.grad_enabled and op.differentiable and out.dtype.kind in "fc":
        t.requires_grad = True
        t._op = op
        t._inputs = args
        t._vsum = vsum
        if _state.anomaly:
            _state.anomaly_check_forward(op, args, out)
    else:
        t.requires_grad = False
        t._op = None
        t._inputs = None
        t._vsum = 0
    return t


def _forward_error(op, arrays, exc):
    shapes = ", ".join(_describe(a) for a in arrays)
    return _state.QiflowError(f"{op!r}: cannot compute on inputs ({shapes}): {exc}")


def _describe(a):
    if isinstance(a, np.ndarray):
        return f"{a.dtype}{list(a.shape)}"
    return repr(a)
