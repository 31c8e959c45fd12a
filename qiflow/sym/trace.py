"""Tracing eager code: ``qf.compile(fn)`` / ``@qf.jit``.

The first call with a given signature (shapes and dtypes of the array
arguments, found also inside lists, tuples and dicts; values of the others)
runs ``fn`` once on symbolic stand-ins and compiles what it did:

* eager Tensors the function reaches (model parameters, buffers, optimizer
  state, gradients) become shared variables bound to those tensors from their
  first use: every call reads their current data, and in-place updates write
  into it (``tracing.py`` says how each kind of access is followed);
* ``loss.backward()`` computes symbolic gradients (the engine's sweep) and
  puts them in ``.grad`` of captured tensors and of tensor arguments that
  require grad, accumulating as eagerly: the compiled function is specialised
  on whether each ``.grad`` it reads was None, so it adds to an existing
  gradient and replaces a missing one;
* in-place updates inside ``qf.no_grad()`` (``p -= lr * p.grad``, ``v.mul_(0.9)``,
  ``p.data -= ...``) become updates of the compiled function;
* ``opt.step()`` / ``opt.zero_grad()`` of a ``qiflow.optim`` optimizer are
  replayed after the compiled graph (its update already runs in place on NumPy
  arrays, allocation-free), with the compiled gradients.

Later calls with the same signature run the compiled function; a new
signature, a captured tensor whose shape, dtype or requires_grad changed, or a
``.grad`` that became (or stopped being) None traces again, so a stale graph
never runs.  What cannot be traced (Python control flow on values, ``.item()``,
drawing random numbers inside the function) falls back to eager execution
with a warning (``strict=True`` raises instead).

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
from .. import backend as _backend
from . import tracing
from .tracing import TraceError, is_tracing  # noqa: F401
from .tracehooks import symbolic_backward, record_write  # noqa: F401
from .graph import Variable
from .types import TensorType

_MAX_VARIANTS = 8      # traces kept per signature (e.g. .grad None / not None)


class _Entry:
    __slots__ = ("fn", "paths", "flat", "grad_paths", "structure", "single", "steps", "grad_slots",
                 "arg_grad_slots", "guards", "grad_guards", "eager", "pinned")

    def run(self, args, kwargs):
        if self.flat:
            vals = [_arr(args[k]) for k in self.paths]
        else:
            vals = [_arr(_get(args, kwargs, p)) for p in self.paths]
        for p in self.grad_paths:
            vals.append(_get(args, kwargs, p).grad.data)
        res = self.fn(*vals)
        for opt, pairs, step in self.steps:
            before = [p.grad for p, _ in pairs]
            for p, k in pairs:
                p.grad = None if k is None else Tensor._wrap(res[k])
            step(opt)
            for (p, _), g in zip(pairs, before):      # the step sees the traced grads; the
                p.grad = g                            # grad slots below give the final ones
        for t, k in self.grad_slots:
            t.grad = None if k is None else Tensor._wrap(res[k])
        for p, k in self.arg_grad_slots:
            _get(args, kwargs, p).grad = Tensor._wrap(res[k])
        if self.single:
            return Tensor._wrap(res[0])
        return _rebuild(self.structure, res)

    def guard(self):
        for t, shape, dtype, rg in self.guards:
            d = t.data
            if d.shape != shape or d.dtype != dtype or t.requires_grad != rg:
                return False
        for t, want in self.grad_guards:
            g = t.grad
            if want is None:
                if g is not None:
                    return False
            elif g is None or g.data.shape != want[0] or g.data.dtype != want[1]:
                return False
        return True


def _arr(a):
    return a.data if isinstance(a, Tensor) else a


def _get(args, kwargs, path):
    x = args[path[0]] if isinstance(path[0], int) else kwargs[path[0]]
    for k in path[1:]:
        x = x[k]
    return x


def _is_seq(x):
    return isinstance(x, (list, tuple))


def _standins(x, path, found):
    """x with every array (Tensor or ndarray) replaced by a symbolic stand-in."""
    if isinstance(x, (Tensor, np.ndarray)):
        d = _arr(x)
        name = (f"arg{path[0]}" if isinstance(path[0], int) else path[0]) + "".join(
            f"[{k!r}]" for k in path[1:])
        v = Variable(TensorType(d.dtype, d.shape), name=name)
        v.requires_grad = bool(getattr(x, "requires_grad", False))
        found.append((path, x, v))
        return v
    if _is_seq(x):
        items = [_standins(v, path + (k,), found) for k, v in enumerate(x)]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)
    if isinstance(x, dict):
        return type(x)((k, _standins(v, path + (k,), found)) for k, v in x.items())
    return x


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


def _sig(a, pins=None):
    if isinstance(a, Tensor):
        d = a.data
        if a.requires_grad:
            return (d.shape, d.dtype, True, a.grad is None)
        return (d.shape, d.dtype, False)
    if isinstance(a, np.ndarray):
        return ("a", a.shape, a.dtype.str)
    if isinstance(a, (int, float, bool, str, type(None))):
        return (type(a), a)
    if isinstance(a, np.generic):
        return (type(a), a.item())
    if _is_seq(a):
        return (type(a),) + tuple(_sig(x, pins) for x in a)
    if isinstance(a, dict):
        return (type(a),) + tuple((k, _sig(v, pins)) for k, v in a.items())
    if pins is not None:
        pins.append(a)          # the entry keeps it alive, so its id is never reused
    return ("id", id(a))


class Compiled:
    """A traced and compiled version of an eager function (see ``compile``).

    ``cache`` maps each signature to its latest trace, ``variants`` to all the
    traces kept for it (e.g. one with ``.grad`` None and one accumulating), and
    ``traces`` counts them.
    """

    def __init__(self, fn, mode=None, strict=False):
        self.fn, self.mode, self.strict = fn, mode, strict
        self.cache = {}
        self.variants = {}
        self.traces = 0
        functools.update_wrapper(self, fn)

    def __get__(self, obj, objtype=None):
        # decorating a method: bind the instance (it becomes part of the signature)
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        if tracing._active is not None:
            return self.fn(*args, **kwargs)          # inside another trace: becomes part of it
        key = (tuple(map(_sig, args)), _state.grad_enabled, _backend._default_float)
        if kwargs:
            key += tuple((k, _sig(v)) for k, v in kwargs.items())
        for e in self.variants.get(key, ()):
            if e.guard():
                break
        else:
            e = self._trace(args, kwargs, key)
        if e.eager:
            return self.fn(*args, **kwargs)
        return e.run(args, kwargs)

    def _trace(self, args, kwargs, key):
        found = []
        targs = [_standins(a, (k,), found) for k, a in enumerate(args)]
        tkw = {k: _standins(v, (k,), found) for k, v in kwargs.items()}
        rng = (_random._global, dict(_random._global.bit_generator.state))
        # every live tensor (and its version: an in-place change the trace did not
        # follow, e.g. NumPy on a saved array, must not go unnoticed)
        live = [o for o in gc.get_objects() if issubclass(type(o), Tensor)]
        versions = [(o, o._version) for o in live]
        ctx = tracing.Ctx(live)
        ctx.args = [(a, v) for _, a, v in found]
        self.traces += 1
        try:
            tracing.start(ctx)
            try:
                out = self.fn(*targs, **tkw)
                if _random._global is not rng[0] or _random._global.bit_generator.state != rng[1]:
                    raise TraceError("the function draws random numbers (e.g. dropout in training "
                                     "mode); a compiled graph would replay the same numbers on "
                                     "every call")
                for t, v in versions:
                    if t._version != v and not (id(t) in ctx.caps and ctx.caps[id(t)].written):
                        raise TraceError(f"a tensor of shape {t.data.shape} was modified in place by "
                                         "code the trace cannot follow (NumPy on .data, e.g. batch-norm "
                                         "running statistics in training mode)")
            finally:
                tracing.stop(ctx)
            leaves = []
            structure = _flatten(out, leaves)
            outs = [ctx.capture(v) if isinstance(v, Tensor) else v for v in leaves]
            del out, leaves          # (so that settle_temps sees which tensors outlive the call)
            entry = self._build(ctx, found, structure, outs)
        except Exception as exc:
            if self.strict:
                raise
            warnings.warn(f"qf.compile: could not trace {getattr(self.fn, '__name__', 'fn')} "
                          f"({type(exc).__name__}: {exc}); running it eagerly", stacklevel=3)
            entry = _Entry()
            entry.eager, entry.guards, entry.grad_guards = True, (), ()
        del versions, live
        entry.pinned = []
        for a in args:
            _sig(a, entry.pinned)
        for v in kwargs.values():
            _sig(v, entry.pinned)
        vs = self.variants.setdefault(key, [])
        vs.append(entry)
        del vs[:-_MAX_VARIANTS]
        self.cache[key] = entry
        return entry

    def _build(self, ctx, found, structure, outs):
        from .function import function
        steps = []
        for opt, grads in ctx.steps:
            pairs = []
            for p, g in grads.values():
                pairs.append((p, None if g is None else len(outs)))
                if g is not None:
                    outs.append(g)
            steps.append((opt, pairs, tracing.real_step()))
        grad_slots = _grad_slots(ctx, outs)
        arg_grad_slots = []
        for j, g in ctx.arg_grads.items():
            arg_grad_slots.append((found[j][0], len(outs)))
            outs.append(g)
        givens = ctx.settle_temps()
        updates = [(c.shared, c.current) for c in ctx.caps.values()
                   if c.written and c.kind in ("live", "grad", "kept")]
        grad_in = sorted(ctx.arg_grad_inputs.items())
        inputs = [v for _, _, v in found] + [v for _, v in grad_in]
        f = function(inputs, outs, updates=updates, givens=givens, on_unused_input="ignore",
                     mode=self.mode, name=getattr(self.fn, "__name__", None))
        e = _Entry()
        e.fn, e.structure, e.eager = f, structure, False
        paths = [p for p, _, _ in found]
        e.flat = all(len(p) == 1 and isinstance(p[0], int) for p in paths)
        e.paths = [p[0] for p in paths] if e.flat else paths
        e.grad_paths = [paths[j] for j, _ in grad_in]
        e.steps, e.grad_slots, e.arg_grad_slots = steps, grad_slots, arg_grad_slots
        e.single = structure[0] == "leaf" and structure[1] == 0
        e.guards = tuple((c.tensor, c.tensor.data.shape, c.tensor.data.dtype, c.tensor.requires_grad)
                         for c in ctx.caps.values() if c.kind in ("live", "kept"))
        e.grad_guards = tuple((t, None if g is None else (g.data.shape, g.data.dtype))
                              for t, g in ctx.grad_seen.values())
        return e


def _grad_slots(ctx, outs):
    """(tensor, output index or None) for each .grad the trace assigned; adds the outputs.
    (A function of its own, so that no local keeps a tensor made during the trace alive.)"""
    slots = []
    for t, g, g0 in ctx.grad_final:
        if id(t) not in ctx.grad_set or g is g0:
            continue
        if g is None:
            slots.append((t, None))
            continue
        slots.append((t, len(outs)))
        outs.append(ctx.capture(g) if isinstance(g, Tensor) else g)
    ctx.grad_final = []
    return slots


def compile(fn=None, *, mode=None, strict=False):
    """Trace ``fn`` on symbolic stand-ins and compile it (also a decorator: ``@qf.jit``).

    ``mode``: as for ``T.function`` (e.g. ``'no_rewrites'``); ``strict``: raise
    instead of falling back to eager execution when the function cannot be traced.

    Each call gives what eager execution of ``fn`` would give at that moment:

    * array arguments (Tensors and ndarrays, also inside lists, tuples and dicts)
      are inputs; other arguments are part of the signature (a new value traces
      again);
    * tensors the function reaches from outside (parameters, buffers, optimizer
      state, ``.grad``) are read at call time, however they are used (operators,
      ``no_grad`` code, ``.data`` with NumPy ufuncs); in-place changes to them
      are replayed; ``backward()`` accumulates into ``.grad`` of captured
      tensors and of tensor arguments that require grad, as eagerly;
    * code that needs a captured tensor's value in Python (``.item()``,
      ``float(t)``, ``if t > 0``, ``np.asarray(t)``) cannot be compiled: the
      function then runs eagerly, with a warning.

    Like ``jax.jit``, Python values the function reads from its closure or from
    globals (``lr = 0.1``, a NumPy array kept in a variable, ``len(dataset)``)
    are frozen at trace time: pass them as arguments (a new value traces again)
    or keep them in tensors.

    >>> import qiflow as qf
    >>> w = qf.tensor([1.0, 2.0], requires_grad=True)
    >>> f = qf.compile(lambda x: ((x * w).sum() ** 2).backward())
    >>> f(qf.tensor([1.0, 1.0])); f(qf.tensor([1.0, 1.0])); w.grad.tolist()   # accumulates
    [12.0, 12.0]
    """
    if fn is None:
        return lambda f: Compiled(f, mode, strict)
    return Compiled(fn, mode, strict)


jit = compile
