"""Tracing eager code: ``qf.compile(fn)`` / ``@qf.jit``.

The first call with a given signature (shapes and dtypes of the array
arguments, found also inside lists, tuples and dicts; values of the others)
runs ``fn`` once with the tracing interpreter active (``tracer.py``) on
symbolic stand-ins and compiles what it did with ``T.function``:

* eager Tensors the function reaches (model parameters, buffers, optimizer
  state, gradients) become shared variables bound to those tensors: every call
  reads their current data, and in-place updates write into it;
* ``loss.backward()`` computes symbolic gradients (the engine's sweep) and
  puts them in ``.grad`` of captured tensors and of tensor arguments that
  require grad, accumulating as eagerly: the compiled function is specialised
  on whether each ``.grad`` it reads was None, so it adds to an existing
  gradient and replaces a missing one;
* in-place updates (``p -= lr * p.grad`` inside ``no_grad``, ``v.mul_(0.9)``,
  ``p.data = ...``, a ``qiflow.optim`` optimizer's ``step()``) become updates
  of the compiled function; an optimizer's learning rate is read on every call.

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
import warnings

import numpy as np

from .. import _state
from .. import random as _random
from .. import backend as _backend
from ..ops import base as _base
from ..ops.base import TraceError
from ..tensor import Tensor
from ..sym.graph import Variable
from ..sym.graph import TensorType
from .tracer import Tracer

_MAX_VARIANTS = 8      # traces kept per signature (e.g. .grad None / not None)


class _Entry:
    __slots__ = ("fn", "paths", "flat", "grad_paths", "structure", "single", "grad_slots",
                 "arg_grad_slots", "guards", "grad_guards", "value_guards", "eager", "pinned",
                 "scalars")

    def run(self, args, kwargs):
        if self.flat:
            vals = [_arr(args[k]) for k in self.paths]
        else:
            vals = [_arr(_get(args, kwargs, p)) for p in self.paths]
        for p in self.grad_paths:
            vals.append(_get(args, kwargs, p)._grad._data)
        for getter, dtype in self.scalars:
            vals.append(np.asarray(getter(), dtype))
        res = self.fn(*vals)
        for t, k in self.grad_slots:
            t.grad = None if k is None else Tensor._wrap(res[k])
        for p, k in self.arg_grad_slots:
            _get(args, kwargs, p).grad = Tensor._wrap(res[k])
        if self.single:
            return Tensor._wrap(res[0])
        return _rebuild(self.structure, res)

    def guard(self):
        for t, shape, dtype, rg in self.guards:
            d = t._data
            if d.shape != shape or d.dtype != dtype or t.requires_grad != rg:
                return False
        for t, want in self.grad_guards:
            g = t._grad
            if want is None:
                if g is not None:
                    return False
            elif g is None or g._data.shape != want[0] or g._data.dtype != want[1]:
                return False
        for obj, name, value in self.value_guards:
            if getattr(obj, name) != value:
                return False
        return True


def _arr(a):
    return a._data if isinstance(a, Tensor) else a


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
        d = a._data
        if a.requires_grad:
            return (d.shape, d.dtype, True, a._grad is None)
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
        if _base._top is not None and _base.active(Tracer) is not None:
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
        tr = Tracer([(a, v) for _, a, v in found])
        self.traces += 1
        try:
            _base.push(tr)
            try:
                out = self.fn(*targs, **tkw)
                if _random._global is not rng[0] or _random._global.bit_generator.state != rng[1]:
                    raise TraceError("the function draws random numbers (e.g. dropout in training "
                                     "mode); a compiled graph would replay the same numbers on "
                                     "every call")
                for t in tr.untraced_changes():
                    raise TraceError(f"a tensor of shape {t._data.shape} was modified in place by "
                                     "code the trace cannot follow")
            finally:
                _base.pop(tr)
                grad_final = tr.finish()
            leaves = []
            structure = _flatten(out, leaves)
            outs = [tr.value(v) if isinstance(v, Tensor) else v for v in leaves]
            del out, leaves          # (so that settle sees which tensors outlive the call)
            entry = self._build(tr, found, structure, outs, grad_final)
        except Exception as exc:
            if self.strict:
                raise
            warnings.warn(f"qf.compile: could not trace {getattr(self.fn, '__name__', 'fn')} "
                          f"({type(exc).__name__}: {exc}); running it eagerly", stacklevel=3)
            entry = _Entry()
            entry.eager, entry.guards, entry.grad_guards, entry.value_guards = True, (), (), ()
        del tr
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

    def _build(self, tr, found, structure, outs, grad_final):
        from ..sym.function import function
        grad_slots = _grad_slots(tr, outs, grad_final)
        arg_grad_slots = []
        for j, g in tr.arg_grads.items():
            arg_grad_slots.append((found[j][0], len(outs)))
            outs.append(g)
        guards = tuple((c.tensor, c.tensor._data.shape, c.tensor._data.dtype, c.tensor.requires_grad)
                       for c in tr.caps.values() if c.kind == "live")
        grad_guards = tuple((t, None if g0 is None else (g0._data.shape, g0._data.dtype))
                            for t, g0 in tr.grad_seen.values())
        givens = tr.settle()
        guards += tuple((c.tensor, c.tensor._data.shape, c.tensor._data.dtype, c.tensor.requires_grad)
                        for c in tr.caps.values() if c.kind == "kept")
        updates = [(c.shared, c.current) for c in tr.caps.values()
                   if c.written and c.kind in ("live", "grad", "kept")]
        grad_in = sorted(tr.arg_grad_inputs.items())
        inputs = [v for _, _, v in found] + [v for _, v in grad_in] + [v for _, _, v in tr.scalars]
        f = function(inputs, outs, updates=updates, givens=givens, on_unused_input="ignore",
                     mode=self.mode, name=getattr(self.fn, "__name__", None))
        e = _Entry()
        e.fn, e.structure, e.eager = f, structure, False
        paths = [p for p, _, _ in found]
        e.flat = all(len(p) == 1 and isinstance(p[0], int) for p in paths)
        e.paths = [p[0] for p in paths] if e.flat else paths
        e.grad_paths = [paths[j] for j, _ in grad_in]
        e.scalars = [(g, d) for g, d, _ in tr.scalars]
        e.grad_slots, e.arg_grad_slots = grad_slots, arg_grad_slots
        e.single = structure[0] == "leaf" and structure[1] == 0
        e.guards, e.grad_guards = guards, grad_guards
        e.value_guards = tuple(tr.value_guards)
        return e


def _grad_slots(tr, outs, grad_final):
    """(tensor, output index or None) for each .grad the trace assigned; adds the outputs."""
    slots = []
    for t, g, g0 in grad_final:
        if id(t) not in tr.grad_set or g is g0:
            continue
        if g is None:
            slots.append((t, None))
            continue
        slots.append((t, len(outs)))
        outs.append(tr.value(g))
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
      state, ``.grad``) are read at call time, however they are used; in-place
      changes to them are replayed; ``backward()`` accumulates into ``.grad``
      of captured tensors and of tensor arguments that require grad, as eagerly;
    * code that needs a captured tensor's value in Python (``.item()``,
      ``float(t)``, ``if t > 0``, ``t.numpy()``) cannot be compiled: the function
      then runs eagerly, with a warning.

    Like ``jax.jit``, Python values the function reads from its closure or from
    globals (``lr = 0.1``, a NumPy array kept in a variable, ``len(dataset)``)
    are frozen at trace time: pass them as arguments (a new value traces again)
    or keep them in tensors.  (A ``qiflow.optim`` optimizer's hyperparameters
    are read on every call, so learning-rate schedulers work.)

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
