"""Tracing eager code: ``qf.compile(fn)`` / ``@qf.jit``.

The first call with a given signature (shapes and dtypes of the array
arguments, values of the others) runs ``fn`` once on symbolic stand-ins and
compiles what it did:

* eager Tensors the function reaches (model parameters, buffers, optimizer
  state) become shared variables bound to those tensors: every call reads
  their current data, and in-place updates write into it;
* ``loss.backward()`` computes symbolic gradients (the engine's sweep) and
  puts them in ``.grad``;
* in-place updates inside ``qf.no_grad()`` (``p -= lr * p.grad``, ``v.mul_(0.9)``,
  ``p.data -= ...``) become updates of the compiled function;
* ``opt.step()`` / ``opt.zero_grad()`` of a ``qiflow.optim`` optimizer are
  replayed after the compiled graph (its update already runs in place on NumPy
  arrays, allocation-free), with the compiled gradients.

Later calls with the same signature run the compiled function; a new
signature, or a captured tensor whose shape or dtype changed, traces again, so
a stale graph never runs.  What cannot be traced (Python control flow on
values, ``.item()``, drawing random numbers inside the function) falls back to
eager execution with a warning (``strict=True`` raises instead).

>>> import qiflow as qf
>>> w = qf.tensor([1.0, 2.0], requires_grad=True)
>>> @qf.jit
... def step(x):
...     loss = ((x * w).sum() - 1) ** 2
...     loss.backward()
...     with qf.no_grad():
...         w.sub_(0.1 * w.grad)
...     w.grad = None
...     return loss
>>> float(step(qf.tensor([1.0, 1.0]))), w.tolist()
(4.0, [0.6000000238418579, 1.600000023841858])
"""
import functools
import gc
import warnings

import numpy as np

from .. import _state
from .. import random as _random
from ..tensor import Tensor
from ..ops.elementwise import cast, zeros_like, ones_like
from ..ops.movement import broadcast_to
from .. import backend as _backend
from . import graph as _graph
from .graph import Variable, build
from .shared import tensor_shared, SharedVariable
from .types import TensorType

_active = None
_REAL_STEP = [None]      # Optimizer.step as it was before tracing patched it


class TraceError(RuntimeError):
    """The function does something a compiled graph cannot replay."""


def is_tracing():
    return _active is not None


class _Cap:
    __slots__ = ("tensor", "shared", "current", "written", "grad0")

    def __init__(self, tensor, shared):
        self.tensor, self.shared, self.current = tensor, shared, shared
        self.written = False
        self.grad0 = tensor.grad


class _Ctx:
    def __init__(self):
        self.caps = {}          # id(tensor) -> _Cap
        self.owner = {}         # id(array) -> tensor (captured tensors' data)
        self.converted = {}     # id(eager non-leaf tensor) -> variable
        self.keep = []          # keeps traced objects alive while ids are in use
        self.scratch = {}       # id(ndarray) -> (ndarray, variable): arrays written via out=
        self.grads = {}         # id(tensor) -> tensor whose .grad the trace set
        self.steps = []         # deferred optimizer steps: (optimizer, {id(p): variable})
        self.inplace_target = None
        self.stepped = set()    # ids of parameters a deferred step updates

    # ----------------------------------------------------------- capture
    def capture(self, t):
        cap = self.caps.get(id(t))
        if cap is not None:
            if id(t) in self.stepped:
                raise TraceError("a parameter is used after opt.step() inside the traced function; "
                                 "keep opt.step() last")
            return cap.current
        v = self.converted.get(id(t))
        if v is not None:
            return v
        if t._op is not None and t._inputs is not None:
            return self._convert(t)
        sh = tensor_shared(t)
        cap = self.caps[id(t)] = _Cap(t, sh)
        self.owner[id(t.data)] = t
        self.keep.append(t)
        return sh

    def _convert(self, root):
        """An eager graph (recorded because a parameter required grad) as symbolic nodes."""
        order, seen = [], set()
        stack = [(root, False)]
        while stack:
            t, ready = stack.pop()
            if ready:
                order.append(t)
                continue
            if id(t) in seen or id(t) in self.converted or id(t) in self.caps:
                continue
            seen.add(id(t))
            if t._op is None or t._inputs is None:
                continue
            stack.append((t, True))
            stack.extend((i, False) for i in t._inputs if isinstance(i, Tensor))
        for t in order:
            args = [self.capture(i) if isinstance(i, Tensor) else i for i in t._inputs]
            self.converted[id(t)] = build(t._op, args)
            self.keep.append(t)
        return self.converted[id(root)]

    # ------------------------------------------------------------ writes
    def write(self, dst, value):
        if isinstance(dst, Variable):
            t = self.inplace_target
            if t is None:
                raise TraceError("cannot write into a symbolic value here")
        else:
            t = self.owner.get(id(dst))
            if t is None:
                if isinstance(dst, np.ndarray):
                    self.scratch[id(dst)] = (dst, value)
                    return dst
                raise TraceError(f"cannot write into a {type(dst).__name__}")
        self.capture(t)
        cap = self.caps[id(t)]
        d = t.data
        if value.dtype != d.dtype:
            value = cast(value, d.dtype)
        if value.type.shape != d.shape:
            value = broadcast_to(value, d.shape)
        cap.current = value
        cap.written = True
        return dst

    def value_of(self, a):
        """A real array read by traced NumPy code: its traced value when known."""
        if isinstance(a, np.ndarray):
            s = self.scratch.get(id(a))
            if s is not None and s[0] is a:
                return s[1]
            t = self.owner.get(id(a))
            if t is not None:
                return self.caps[id(t)].current
        return a


def record_write(dst, value):
    if _active is None:
        raise TraceError("not tracing")
    return _active.write(dst, value)


def _capture_hook(t):
    return _active.capture(t)


# ------------------------------------------------------------- patched methods
def _inplace(self, what, fn, other=None):
    ctx = _active
    self._check_inplace(what, other)
    cur = ctx.capture(self)
    o = other
    if isinstance(o, Tensor):
        o = ctx.capture(o)
    if what == "zero_":
        new = zeros_like(cur)
    elif what == "fill_":
        new = zeros_like(cur) + o
    elif what == "copy_":
        new = o if isinstance(o, Variable) else _graph.as_variable(o, (cur.dtype,))
    elif what == "clamp_":
        raise TraceError("clamp_ inside a traced function: use qf.clip")
    else:
        ctx.inplace_target = self
        try:
            fn(cur, o if isinstance(o, Variable) else _graph.as_variable(o, (cur.dtype,)))
        finally:
            ctx.inplace_target = None
        return self
    ctx.write(self.data, new)
    return self


def _setitem(self, index, value):
    raise TraceError("item assignment (t[i] = v) on a tensor inside a traced function")


def symbolic_backward(var, grad=None):
    ctx = _active
    if ctx is None:
        raise RuntimeError("backward() on a symbolic variable: use T.grad(cost, wrt) (or call it "
                           "inside a function compiled with qf.compile)")
    from .. import autodiff
    if grad is None:
        if None in var.type.shape or int(np.prod(var.type.shape)) != 1:
            raise RuntimeError(f"backward: output has shape {var.type.shape}; pass grad "
                               "(e.g. qf.ones_like(y)) for a non-scalar output")
        grad = ones_like(var)
    elif isinstance(grad, Tensor):
        grad = ctx.capture(grad)
    caps = [c for c in ctx.caps.values() if c.tensor.requires_grad and c.shared.requires_grad]
    wrt = [c.shared for c in caps]
    if not wrt:
        raise RuntimeError("backward: nothing that requires grad was used")
    from .rewrites import stabilize_for_grad
    cost = stabilize_for_grad(var, wrt) if var.ndim == 0 else var
    res = autodiff._sweep([cost], [grad], retain_graph=True, create_graph=True, targets=wrt)
    for c, g in zip(caps, res):
        if g is None:
            continue
        t = c.tensor
        old = t.grad
        if isinstance(old, Variable):
            g = old + g
        elif isinstance(old, Tensor):
            g = g + _grad_reader(t)
        t.grad = g
        ctx.grads[id(t)] = t


class _GradContainer:
    """Reads a tensor's current .grad at call time (zeros when it is None)."""
    __slots__ = ("tensor",)

    def __init__(self, t): self.tensor = t

    @property
    def value(self):
        g = self.tensor.grad
        return np.zeros_like(self.tensor.data) if g is None else g.data


def _grad_reader(t):
    d = t.data
    return SharedVariable(TensorType(d.dtype, d.shape), _GradContainer(t), name="grad")


def _opt_step(self, closure=None):
    ctx = _active
    if closure is not None:
        raise TraceError("opt.step(closure) inside a traced function")
    grads = {}
    for g in self.param_groups:
        for p in g["params"]:
            if isinstance(p.grad, Variable):
                grads[id(p)] = (p, p.grad)
            ctx.stepped.add(id(p))
    ctx.steps.append((self, grads))


def _opt_zero_grad(self, set_to_none=True):
    for g in self.param_groups:
        for p in g["params"]:
            if p.grad is None:
                continue
            p.grad = None if set_to_none else zeros_like(_active.capture(p))
            _active.grads[id(p)] = p


# ------------------------------------------------------------------ compile
class _Entry:
    __slots__ = ("fn", "in_pos", "structure", "n_user", "grad_slots", "steps", "guards", "eager",
                 "single")

    def run(self, args):
        res = self.fn(*[a.data if a.__class__ is Tensor else _arr(a)
                        for a in [args[k] for k in self.in_pos]])
        for opt, pairs, step in self.steps:
            for p, k in pairs:
                p.grad = Tensor._wrap(res[k])
            step(opt)
        for t, k in self.grad_slots:
            t.grad = None if k is None else Tensor._wrap(res[k])
        if self.single:
            return Tensor._wrap(res[0])
        return _rebuild(self.structure, res)

    def guard(self):
        for t, shape, dtype in self.guards:
            d = t.data
            if d.shape != shape or d.dtype != dtype:
                return False
        return True


def _arr(a):
    return a.data if isinstance(a, Tensor) else a


def _flatten(out, leaves):
    if isinstance(out, (list, tuple)):
        return (type(out), [_flatten(o, leaves) for o in out])
    if isinstance(out, dict):
        return (dict, [(k, _flatten(v, leaves)) for k, v in out.items()])
    if isinstance(out, (Variable, Tensor)):
        leaves.append(out)
        return ("leaf", len(leaves) - 1)
    return ("const", out)


def _rebuild(s, res):
    kind = s[0]
    if kind == "leaf":
        return Tensor._wrap(res[s[1]])
    if kind == "const":
        return s[1]
    if kind is dict:
        return {k: _rebuild(v, res) for k, v in s[1]}
    items = [_rebuild(v, res) for v in s[1]]
    return items if kind is list else kind(items)


def _sig(a):
    if isinstance(a, Tensor):
        d = a.data
        return (d.shape, d.dtype, a.requires_grad)
    if isinstance(a, np.ndarray):
        return ("a", a.shape, a.dtype.str)
    if isinstance(a, (int, float, bool, str, type(None))):
        return (type(a), a)
    if isinstance(a, (list, tuple)):
        return (type(a),) + tuple(_sig(x) for x in a)
    return ("id", id(a))


class Compiled:
    """A traced and compiled version of an eager function (see ``compile``)."""

    def __init__(self, fn, mode=None, strict=False):
        self.fn, self.mode, self.strict = fn, mode, strict
        self.cache = {}
        self.traces = 0
        functools.update_wrapper(self, fn)

    def __get__(self, obj, objtype=None):
        # decorating a method: bind the instance (it becomes part of the signature)
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        key = (tuple(map(_sig, args)), _state.grad_enabled, _backend._default_float)
        if kwargs:
            key += tuple((k, _sig(v)) for k, v in kwargs.items())
        e = self.cache.get(key)
        if e is None or (e.guards and not e.guard()):
            e = self._trace(args, kwargs, key)
        if e.eager:
            return self.fn(*args, **kwargs)
        return e.run(args)

    def _trace(self, args, kwargs, key):
        global _active
        if _active is not None:
            raise TraceError("qf.compile: nested tracing is not supported")
        ctx = _Ctx()
        stand, in_pos = [], []
        targs = list(args)
        for k, a in enumerate(args):
            if isinstance(a, (Tensor, np.ndarray)):
                d = _arr(a)
                v = Variable(TensorType(d.dtype, d.shape), name=f"arg{k}")
                v.requires_grad = bool(getattr(a, "requires_grad", False))
                stand.append(v)
                in_pos.append(k)
                targs[k] = v
        rng = (_random._global, dict(_random._global.bit_generator.state))
        # every live tensor's version: an in-place change the trace did not record
        # (NumPy on .data, e.g. batch-norm running statistics) must not go unnoticed
        versions = [(o, o._version) for o in gc.get_objects() if isinstance(o, Tensor)]
        from ..optim.optimizer import Optimizer
        saved = (Tensor._inplace, Tensor.__setitem__, Optimizer.step, Optimizer.zero_grad)
        _REAL_STEP[0] = saved[2]
        _active = ctx
        _graph.capture_hook = _capture_hook
        Tensor._inplace, Tensor.__setitem__ = _inplace, _setitem
        Optimizer.step, Optimizer.zero_grad = _opt_step, _opt_zero_grad
        self.traces += 1
        try:
            out = self.fn(*targs, **kwargs)
            if _random._global is not rng[0] or _random._global.bit_generator.state != rng[1]:
                raise TraceError("the function draws random numbers (e.g. dropout in training mode); "
                                 "a compiled graph would replay the same numbers on every call")
            for t, v in versions:
                if t._version != v and not (id(t) in ctx.caps and ctx.caps[id(t)].written):
                    raise TraceError(f"a tensor of shape {t.data.shape} was modified in place by code "
                                     "the trace cannot follow (NumPy on .data, e.g. batch-norm running "
                                     "statistics in training mode)")
            del versions
            entry = self._build(ctx, stand, in_pos, out)
        except Exception as exc:
            _restore(ctx)
            if self.strict:
                raise
            warnings.warn(f"qf.compile: could not trace {getattr(self.fn, '__name__', 'fn')} "
                          f"({type(exc).__name__}: {exc}); running it eagerly", stacklevel=3)
            entry = _Entry()
            entry.eager, entry.guards = True, ()
        finally:
            _active = None
            _graph.capture_hook = None
            Tensor._inplace, Tensor.__setitem__, Optimizer.step, Optimizer.zero_grad = saved
        if not entry.eager:
            _restore(ctx)
        self.cache[key] = entry
        return entry

    def _build(self, ctx, stand, in_pos, out):
        from .function import function
        leaves = []
        structure = _flatten(out, leaves)
        outs = [ctx.capture(v) if isinstance(v, Tensor) else v for v in leaves]
        n_user = len(outs)
        steps = []
        for opt, grads in ctx.steps:
            pairs = []
            for p, g in grads.values():
                pairs.append((p, len(outs)))
                outs.append(g)
            steps.append((opt, pairs, _REAL_STEP[0]))
        grad_slots = []
        for t in ctx.grads.values():
            g = t.grad
            if isinstance(g, Variable):
                grad_slots.append((t, len(outs)))
                outs.append(g)
            elif g is None:
                grad_slots.append((t, None))
        updates = [(c.shared, c.current) for c in ctx.caps.values() if c.written]
        f = function(stand, outs, updates=updates, on_unused_input="ignore", mode=self.mode,
                     name=getattr(self.fn, "__name__", None))
        e = _Entry()
        e.fn, e.in_pos, e.structure, e.n_user = f, in_pos, structure, n_user
        e.grad_slots, e.steps, e.eager = grad_slots, steps, False
        e.single = structure[0] == "leaf" and structure[1] == 0
        e.guards = tuple((c.tensor, c.tensor.data.shape, c.tensor.data.dtype) for c in ctx.caps.values())
        return e


def _restore(ctx):
    """Undo what tracing left on real tensors (symbolic .grad values)."""
    for c in ctx.caps.values():
        if isinstance(c.tensor.grad, Variable) or id(c.tensor) in ctx.grads:
            c.tensor.grad = c.grad0
    for t in ctx.grads.values():
        if id(t) not in ctx.caps and isinstance(t.grad, Variable):
            t.grad = None


def compile(fn=None, *, mode=None, strict=False):
    """Trace ``fn`` on symbolic stand-ins and compile it (also a decorator: ``@qf.jit``).

    ``mode``: as for ``T.function`` (e.g. ``'no_rewrites'``); ``strict``: raise
    instead of falling back to eager execution when the function cannot be traced.
    """
    if fn is None:
        return lambda f: Compiled(f, mode, strict)
    return Compiled(fn, mode, strict)


jit = compile
