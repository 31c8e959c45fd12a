"""What the calls of a traced function become (installed by ``tracing.start``).

``apply`` on tensors builds graph nodes; ``t.data`` of a live tensor is a
watched array; ``t.grad`` reads and writes are noted; in-place methods,
``backward``, ``opt.step`` / ``zero_grad`` and the conversions that would read
a value are replaced for the duration of the trace.
"""
import numpy as np

from .. import _state
from ..tensor import Tensor
from ..ops.elementwise import zeros_like, ones_like
from . import tracing as _tr
from .tracing import TraceError, _DATA, _GRAD, _ORIG, _raw
from .graph import Variable, build, as_variable
from .watched import WatchedArray


def _apply_hook(op, args):
    ctx = _tr._active
    if ctx is None or _state.raw_mode:
        return None
    for a in args:
        if isinstance(a, (Tensor, Variable)) or a.__class__ is WatchedArray or (
                a.__class__ is np.ndarray and id(a) in ctx.live_data):
            break
    else:
        return None                 # numbers and plain arrays: a constant, computed now
    out = build(op, [ctx.as_sym(a) for a in args])
    if not _state.grad_enabled:
        out.requires_grad = False   # as eagerly: no_grad records nothing to differentiate
    return out


def _capture_hook(a):
    ctx = _tr._active
    if isinstance(a, Tensor):
        return ctx.capture(a)
    return ctx.data_value(a)


def _data_get(t):
    d = _DATA.__get__(t, Tensor)
    ctx = _tr._active
    if ctx is not None and id(t) in ctx.live and d.__class__ is np.ndarray:
        return ctx.watch(t, d)
    return d


def _data_set(t, value):
    ctx = _tr._active
    if ctx is not None and id(t) in ctx.live:
        ctx.assign(t, value)
    else:
        _DATA.__set__(t, value)


def _grad_get(t):
    g = _GRAD.__get__(t, Tensor)
    ctx = _tr._active
    if ctx is not None and id(t) in ctx.live and id(t) not in ctx.grad_set:
        ctx.touch_grad(t, g)
        ctx.grad_seen.setdefault(id(t), (t, g))
        if isinstance(g, Tensor):
            ctx.grad_owner[id(g)] = t
    return g


def _grad_set(t, value):
    ctx = _tr._active
    if ctx is not None and id(t) in ctx.live:
        ctx.touch_grad(t, _GRAD.__get__(t, Tensor))
        ctx.grad_set[id(t)] = t
    _GRAD.__set__(t, value)


# ------------------------------------------------------- patched methods
def _inplace(self, what, fn, other=None):
    ctx = _tr._active
    self._check_inplace(what, other)
    cur = ctx.capture(self)
    o = ctx.as_sym(other)
    if what == "zero_":
        new = zeros_like(cur)
    elif what == "fill_":
        new = zeros_like(cur) + o
    elif what == "copy_":
        new = o if isinstance(o, Variable) else as_variable(o, (cur.dtype,))
    elif what == "clamp_":
        raise TraceError("clamp_ inside a traced function: use qf.clip")
    else:
        ctx.inplace_target = self
        try:
            fn(cur, o if isinstance(o, Variable) else as_variable(o, (cur.dtype,)))
        finally:
            ctx.inplace_target = None
        return self
    ctx.write(_raw(self), new)
    return self


def _setitem(self, index, value):
    raise TraceError("item assignment (t[i] = v) on a tensor inside a traced function")


def _backward(self, grad=None, retain_graph=False, create_graph=False):
    return symbolic_backward(_tr._active.capture(self), grad)


def _array(self, dtype=None, copy=None):
    d = self.data
    if d.__class__ is WatchedArray:
        raise TraceError("np.asarray(t) of a captured tensor while tracing reads its value; the "
                         "compiled function would replay that value forever")
    return d if dtype is None else d.astype(dtype)


def _repr(self):
    ctx, _tr._active = _tr._active, None
    try:
        return _ORIG["repr"](self)
    finally:
        _tr._active = ctx


def _to_array(data, dtype=None):
    if isinstance(data, (WatchedArray, Variable)):
        raise TraceError("making a new tensor from a captured or traced value (qf.tensor(t)) while "
                         "tracing: the compiled function would replay its trace-time value")
    return _ORIG["to_array"](data, dtype)


def _wrap(cls, array, requires_grad=False):
    if isinstance(array, Variable):
        return array
    return _ORIG["wrap"].__func__(cls, array, requires_grad)


def _guarded_sweep(roots, root_grads, retain_graph, create_graph, targets=None):
    if not all(isinstance(r, Variable) for r in roots):
        raise TraceError("an eager backward (qf.grad or backward on a tensor computed before the "
                         "trace) inside a traced function")
    return _ORIG["sweep"](roots, root_grads, retain_graph, create_graph, targets)


def _no_raw_sweep(*args, **kwargs):
    raise TraceError("an eager backward (qf.grad or backward on a tensor computed before the "
                     "trace) inside a traced function")


def _zero_grad(p, set_to_none):
    if set_to_none:
        p.grad = None           # whatever it was: the result does not depend on it
        return
    g = p.grad
    if g is None:
        return
    if isinstance(g, Variable):
        p.grad = zeros_like(g)
    else:
        g.data.fill(0)


def _opt_step(self, closure=None):
    ctx = _tr._active
    if closure is not None:
        raise TraceError("opt.step(closure) inside a traced function")
    grads = {}
    for g in self.param_groups:
        for p in g["params"]:
            pg = p.grad
            if id(p) in ctx.grad_set:
                grads[id(p)] = (p, ctx.capture(pg) if isinstance(pg, Tensor) else pg)
            ctx.stepped.add(id(p))
    ctx.steps.append((self, grads))


def _opt_zero_grad(self, set_to_none=True):
    for g in self.param_groups:
        for p in g["params"]:
            _zero_grad(p, set_to_none)


def _module_zero_grad(self, set_to_none=True):
    for p in self.parameters():
        _zero_grad(p, set_to_none)


def symbolic_backward(var, grad=None):
    """``loss.backward()`` inside a traced function: symbolic gradients into ``.grad``."""
    ctx = _tr._active
    if ctx is None:
        raise RuntimeError("backward() on a symbolic variable: use T.grad(cost, wrt) (or call it "
                           "inside a function compiled with qf.compile)")
    from .. import autodiff
    if not var.requires_grad:
        raise RuntimeError("backward: the output does not require grad (computed under no_grad, or "
                           "from tensors that do not require grad)")
    if grad is None:
        if None in var.type.shape or int(np.prod(var.type.shape)) != 1:
            raise RuntimeError(f"backward: output has shape {var.type.shape}; pass grad "
                               "(e.g. qf.ones_like(y)) for a non-scalar output")
        grad = ones_like(var)
    else:
        grad = ctx.as_sym(grad)
    caps = [c for c in ctx.caps.values()
            if c.kind != "grad" and c.tensor.requires_grad and c.shared.requires_grad]
    args = [j for j, (_, v) in enumerate(ctx.args) if v.requires_grad]
    wrt = [c.shared for c in caps] + [ctx.args[j][1] for j in args]
    if not wrt:
        raise RuntimeError("backward: nothing that requires grad was used")
    from .rewrites import stabilize_for_grad
    cost = stabilize_for_grad(var, wrt) if var.ndim == 0 else var
    res = autodiff._sweep([cost], [grad], retain_graph=True, create_graph=True, targets=wrt)
    for c, g in zip(caps, res):
        if g is None:
            continue
        t = c.tensor
        old = t.grad            # (watched: the compiled function depends on whether it was None)
        if old is not None:
            g = (old if isinstance(old, Variable) else ctx.capture(old)) + g
        t.grad = g
    for j, g in zip(args, res[len(caps):]):
        if g is None:
            continue
        old = ctx.arg_grads[j] if j in ctx.arg_grads else ctx.arg_grad_input(j)
        ctx.arg_grads[j] = g if old is None else old + g


def record_write(dst, value):
    if _tr._active is None:
        raise TraceError("not tracing")
    return _tr._active.write(dst, value)
