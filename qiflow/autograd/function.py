"""User-defined differentiable functions with PyTorch's contract: ``Function``.

A subclass writes two static methods::

    class Cube(qf.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x * x

and is used as ``Cube.apply(x)``.  ``forward`` runs without recording (as in
PyTorch); each output is then joined to the inputs by one ``FunctionOutput``
node whose vjp calls ``backward``.  Because the forward is written with
qiflow's operations and the node is an ordinary primitive, the same class
works in every mode: eager, ``backward()``, second order (when ``backward``
itself uses qiflow operations), inside ``T.function`` (the forward's
operations are rewritten and fused like any others), under ``qf.compile``,
``viz.draw``, ``explain``, ``profile`` and ``detect_anomaly``.

>>> class Cube(qf.autograd.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x * x * x
...     @staticmethod
...     def backward(ctx, grad):
...         (x,) = ctx.saved_tensors
...         return grad * 3 * x * x
>>> x = qf.tensor([1.0, 2.0], requires_grad=True)
>>> Cube.apply(x).sum().backward(); x.grad.tolist()
[3.0, 12.0]

Differences from PyTorch, each a clear error or documented: ``backward`` of a
function with several outputs runs once per output that receives a gradient
(with zeros for the others), which gives the same gradients for any backward
that is linear in its gradients, as a correct one is; ``ctx.mark_dirty``
(in-place forwards) is not supported.
"""
import numpy as np

from .. import _state
from .._state import QiflowError
from ..ops import base as _base
from ..ops.base import Op, apply, Symbolic
from ..ops.elementwise import zeros_like
from ..ops.movement import stop_gradient


class FunctionCtx:
    """What ``forward`` leaves for ``backward`` (PyTorch's ``ctx``)."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._versions = ()
        self._non_diff = set()
        self.materialize_grads = True

    def save_for_backward(self, *tensors):
        """Keep tensors for ``backward`` (read back as ``ctx.saved_tensors``)."""
        T = _base.Tensor
        for t in tensors:
            if t is not None and not isinstance(t, (T, Symbolic)):
                raise TypeError(f"save_for_backward: expected tensors (or None), got {type(t).__name__}")
        self._saved = tensors
        self._versions = tuple(t._vc[0] if isinstance(t, T) else None for t in tensors)

    @property
    def saved_tensors(self):
        T = _base.Tensor
        for t, v in zip(self._saved, self._versions):
            if isinstance(t, T) and v is not None and t._vc[0] != v:
                raise RuntimeError("a tensor saved with ctx.save_for_backward was modified in place "
                                   f"after it was saved (shape {t.shape}); save a copy instead")
        return self._saved

    def mark_non_differentiable(self, *outputs):
        """Outputs that never carry a gradient (indices, masks)."""
        self._non_diff.update(id(o) for o in outputs)

    def set_materialize_grads(self, value):
        """With False, ``backward`` receives None for outputs without a gradient."""
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors):
        raise QiflowError("ctx.mark_dirty: in-place forwards of autograd.Function are not supported "
                          "in qiflow; return a new tensor instead")


class _Record:
    """One application of a Function: its class, context, the tensor inputs'
    positions and its outputs (cut from the graph; shapes for zero gradients)."""
    __slots__ = ("cls", "ctx", "n_args", "diff_pos", "values", "__weakref__")

    def __init__(self, cls, ctx, n_args, diff_pos):
        self.cls, self.ctx, self.n_args, self.diff_pos = cls, ctx, n_args, diff_pos
        self.values = ()

    @property
    def n_out(self):
        return len(self.values)


class FunctionOutput(Op):
    """Output k of a user Function: forward passes the (already computed) value
    through; the vjp calls the Function's ``backward``.  Inputs: the value, then
    the Function's tensor inputs (so the engine reaches them)."""
    __slots__ = ("record", "k")
    props = ("record", "k")
    view_map = {0: [0]}

    def __init__(self, record, k):
        self.record, self.k = record, k

    @property
    def name(self):
        r = self.record
        return r.cls.__name__ if r.n_out == 1 else f"{r.cls.__name__}[{self.k}]"

    def infer(self, y, *inputs):
        return y.shape, y.dtype

    def forward(self, y, *inputs):
        return y

    def vjp(self, ctx, inputs, output, grad):
        r = self.record
        grads = [None] * r.n_out
        grads[self.k] = grad
        raw = isinstance(grad, np.ndarray)
        T = _base.Tensor
        if raw:
            # user code sees tensors: run it as plain eager code, nothing recorded
            with _base.suspended():
                prev = _state.grad_enabled
                _state.grad_enabled = False
                try:
                    gs = [None if g is None else T._wrap(g) for g in grads]
                    res = self._call_backward(gs, lambda j: T._wrap(np.zeros_like(r.values[j]._data)))
                finally:
                    _state.grad_enabled = prev
            res = [None if g is None else (g._data if isinstance(g, T) else np.asarray(g)) for g in res]
        else:
            res = self._call_backward(grads, lambda j: zeros_like(r.values[j]))
        return (None,) + tuple(res[p] for p in r.diff_pos)

    def _call_backward(self, grads, zeros):
        r = self.record
        if r.ctx.materialize_grads:
            grads = [zeros(j) if g is None else g for j, g in enumerate(grads)]
        out = r.cls.backward(r.ctx, *grads)
        out = list(out) if isinstance(out, (tuple, list)) else [out]
        if len(out) != r.n_args:
            raise QiflowError(f"{r.cls.__name__}.backward returned {len(out)} gradients; forward took "
                              f"{r.n_args} inputs (return one per input, None for those without one)")
        return out

    def __repr__(self):
        return self.name

    def format(self, args):
        return f"{self.name}({', '.join(args[1:])})"


class Function:
    """Base class of user-defined differentiable functions (PyTorch's contract)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass defines forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass defines backward(ctx, *grad_outputs)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Override (with a ``forward`` that takes no ctx) to save what ``backward`` needs."""
        raise NotImplementedError("setup_context is only called when a subclass defines it")

    @classmethod
    def apply(cls, *args):
        """Run ``forward`` and connect its outputs to ``args`` through ``backward``."""
        T = _base.Tensor
        tensorish = [isinstance(a, (T, Symbolic)) for a in args]
        needs = tuple(bool(t and getattr(a, "requires_grad", False)) for a, t in zip(args, tensorish))
        ctx = FunctionCtx(needs)
        prev = _state.grad_enabled
        _state.grad_enabled = False
        try:
            if cls.setup_context is not Function.setup_context:
                # PyTorch 2's style: forward(*args) without ctx, then setup_context(ctx, inputs, output)
                out = cls.forward(*args)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args)
        finally:
            _state.grad_enabled = prev
        single = not isinstance(out, (tuple, list))
        outs = [out] if single else list(out)
        for k, o in enumerate(outs):
            if not isinstance(o, (T, Symbolic)):
                raise QiflowError(f"{cls.__name__}.forward returned a {type(o).__name__} as output {k}; "
                                  "return tensors (qiflow operations on the inputs)")
        record = _Record(cls, ctx, len(args), [k for k, t in enumerate(tensorish) if t])
        record.values = tuple(stop_gradient(o) if getattr(o, "requires_grad", False) else o for o in outs)
        diff_inputs = [args[k] for k in record.diff_pos]
        result = []
        for k, o in enumerate(record.values):
            if id(outs[k]) in ctx._non_diff or not any(needs) or not prev:
                result.append(o)
                continue
            result.append(apply(FunctionOutput(record, k), o, *diff_inputs))
        return result[0] if single else tuple(result)


def once_differentiable(backward):
    """Mark a ``backward`` as not differentiable itself (PyTorch's decorator of that name): it
    runs without recording, so a second-order gradient through it raises instead of being wrong.
    """
    import functools

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        prev = _state.grad_enabled
        _state.grad_enabled = False
        try:
            out = backward(ctx, *grads)
        finally:
            _state.grad_enabled = prev
        return out
    return wrapper
