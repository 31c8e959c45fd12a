"""What happens while ``qf.compile`` traces a function (the compiler is in ``trace.py``).

A traced call must equal eager execution on *every* later call, so nothing a
function reads may be frozen at its trace-time value.  While tracing:

* every qiflow op that touches a tensor builds a graph node (``apply`` calls
  :func:`tracehooks._apply_hook` first), also under ``no_grad`` and also when no
  argument is symbolic.  A tensor that existed before the trace (a *live*
  tensor: parameters, buffers, optimizer state, gradients) becomes a shared
  variable reading its data at call time; a tensor made during the trace is a
  constant, unless something outside keeps it (``Ctx.settle_temps``);
* ``t.data`` of a live tensor is a watched array (``watched.py``): NumPy
  ufuncs, ``np.sum``-style functions and the common array methods on it build
  nodes too, writes (``out=``, ``np.copyto``, ``a[...] = v``, ``fill``) become
  updates, and reading its value (``item``, ``float``, ``bool``, ``tolist``,
  ``np.asarray(t)``, ``qf.tensor(t)``) raises :class:`TraceError`, after which
  the compiler runs the function eagerly (never a silently frozen value);
* ``t.grad`` is watched: the compiled function is specialised on whether each
  gradient it reads was None at call time (so ``backward()`` accumulates
  exactly as it does eagerly) and replays every ``.grad`` assignment;
* ``backward()`` runs the engine's sweep symbolically, for captured tensors and
  for tensor arguments that require grad.
"""
import sys
import weakref

import numpy as np

from ..tensor import Tensor
from ..ops import base as _base
from ..ops.elementwise import cast
from ..ops.movement import broadcast_to
from ..functional import stop_gradient
from . import graph as _graph
from .graph import Variable, Constant, build, as_variable
from .shared import tensor_shared, SharedVariable, TensorContainer
from .types import TensorType
from .watched import WatchedArray

_tensor_mod = sys.modules["qiflow.tensor"]      # (``qiflow.tensor`` the name is the function)
_active = None
_DATA = Tensor.__dict__["data"]          # the slot descriptors, used while the properties are in place
_GRAD = Tensor.__dict__["grad"]


def _raw(t):
    return _DATA.__get__(t, Tensor)


def _raw_grad(t):
    return _GRAD.__get__(t, Tensor)


class TraceError(RuntimeError):
    """The function does something a compiled graph cannot replay."""


def is_tracing():
    return _active is not None


class _Cap:
    """A captured tensor: its variable (``shared``) and its value so far in the trace.

    kind: 'live' (existed before the trace), 'grad' (a live tensor's .grad, read
    through it), 'temp' (made during the trace; settled by ``settle_temps``).
    """
    __slots__ = ("tensor", "shared", "current", "written", "kind", "initial")

    def __init__(self, tensor, shared, kind):
        self.tensor, self.shared, self.current, self.kind = tensor, shared, shared, kind
        self.written = False
        self.initial = None


class _Unsettled:
    """The container of a tensor made during the trace, until ``settle_temps`` decides."""
    __slots__ = ()

    @property
    def value(self):
        raise TraceError("internal: a tensor made during the trace was read before it was settled")


class Ctx:
    """The state of one trace."""

    def __init__(self, live):
        self.live = {id(t): t for t in live}               # tensors that existed before the trace
        self.live_data = {id(_raw(t)): t for t in live}    # their arrays
        self.caps = {}           # id(tensor) -> _Cap
        self.owner = {}          # id(array or watched view) -> tensor whose data it is
        self.views = {}          # id(tensor) -> (array, watched view)
        self.converted = {}      # id(tensor) -> variable (eager graphs, aliases of live data)
        self.keep = []           # keeps traced objects alive while their ids are in use
        self.scratch = {}        # id(ndarray) -> (ndarray, variable): arrays written via out=
        self.steps = []          # deferred optimizer steps: (optimizer, {id(p): (p, grad or None)})
        self.stepped = set()     # ids of parameters a deferred step updates
        self.inplace_target = None
        self.grad_first = {}     # id(t) -> (t, t.grad when the trace first touched it)
        self.grad_seen = {}      # id(t) -> (t, .grad at call start): read before any assignment
        self.grad_set = {}       # id(t) -> t: .grad assigned during the trace
        self.grad_owner = {}     # id(real .grad tensor of a live tensor) -> that tensor
        self.grad_final = []     # (t, .grad at the end, .grad at the start), filled by stop()
        self.args = []           # (argument, stand-in variable) per array argument
        self.arg_grads = {}      # argument index -> its gradient variable
        self.arg_grad_inputs = {}    # argument index -> input variable holding its call-time .grad
        self.saved = []

    # ----------------------------------------------------------- capture
    def capture(self, t):
        k = id(t)
        cap = self.caps.get(k)
        if cap is not None:
            if k in self.stepped:
                raise TraceError("a parameter is used after opt.step() inside the traced function; "
                                 "keep opt.step() last")
            return cap.current
        v = self.converted.get(k)
        if v is not None:
            return v
        d = _raw(t)
        if d.__class__ is WatchedArray:
            # made during the trace around a live tensor's data (t.detach(), Tensor._wrap(p.data))
            v = self.converted[k] = self.data_value(d)
            self.keep.append(t)
            return v
        if t._op is not None and t._inputs is not None:
            return self._convert(t)
        if k in self.grad_owner:
            p = self.grad_owner[k]
            sh = SharedVariable(TensorType(d.dtype, d.shape), _GradContainer(p), name="grad")
            sh.requires_grad = False
            kind = "grad"
        elif k in self.live:
            sh = tensor_shared(t)
            sh.requires_grad = bool(t.requires_grad) and d.dtype.kind in "fc"
            kind = "live"
        else:
            sh = SharedVariable(TensorType(d.dtype, d.shape), _Unsettled(), getattr(t, "name", None))
            sh.requires_grad = bool(t.requires_grad) and d.dtype.kind in "fc"
            kind = "temp"
        cap = self.caps[k] = _Cap(t, sh, kind)
        if kind == "temp":
            cap.initial = np.array(d)
        self.owner[id(d)] = t
        self.keep.append(t)
        return sh

    def _convert(self, root):
        """An eager graph recorded before the trace as symbolic nodes."""
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

    def watch(self, t, d):
        """The watched view of live tensor t's array d (one per array, so ``out=`` finds it)."""
        e = self.views.get(id(t))
        if e is None or e[0] is not d:
            v = d.view(WatchedArray)
            self.views[id(t)] = e = (d, v)
            self.owner[id(v)] = t
            self.keep.append(v)
        return e[1]

    def data_value(self, a):
        """The traced value of ``t.data`` (cut from the graph, as ``.data`` is), or None."""
        t = self.owner.get(id(a)) if a.__class__ is WatchedArray else self.live_data.get(id(a))
        if t is None:
            if a.__class__ is WatchedArray:
                raise TraceError("NumPy on a slice or view of a captured tensor's .data inside a traced "
                                 "function: use qiflow operations on the tensor itself")
            return None
        v = self.capture(t)
        return stop_gradient(v) if v.requires_grad else v

    def as_sym(self, a):
        if isinstance(a, Tensor):
            return self.capture(a)
        if isinstance(a, np.ndarray):
            v = self.data_value(a)
            return a if v is None else v
        return a

    # ------------------------------------------------------------ writes
    def write(self, dst, value):
        if isinstance(dst, Variable):
            t = self.inplace_target
            if t is None:
                raise TraceError("cannot write into a symbolic value here")
            d = _raw(t)
            if d.__class__ is WatchedArray:          # an alias of a live tensor's data (detach())
                t = self.owner.get(id(d))
                if t is None:
                    raise TraceError("writing into a view of a captured tensor inside a traced function")
        else:
            t = self.owner.get(id(dst))
            if t is None:
                t = self.live_data.get(id(dst))
            if t is None:
                if dst.__class__ is WatchedArray:
                    raise TraceError("writing into a slice or view of a captured tensor's .data inside "
                                     "a traced function")
                if isinstance(dst, np.ndarray):
                    self.scratch[id(dst)] = (dst, value)
                    return dst
                raise TraceError(f"cannot write into a {type(dst).__name__}")
        self.capture(t)
        cap = self.caps[id(t)]
        d = _raw(t)
        value = self.as_sym(value)
        if not isinstance(value, Variable):
            value = as_variable(value, (d.dtype,))
        if value.dtype != d.dtype:
            value = cast(value, d.dtype)
        if value.type.shape != d.shape:
            value = broadcast_to(value, d.shape)
        cap.current = value
        cap.written = True
        return dst

    def assign(self, t, value):
        """``t.data = value`` on a live tensor."""
        self.capture(t)
        cap = self.caps[id(t)]
        value = self.as_sym(value)
        cap.current = value if isinstance(value, Variable) else as_variable(value)
        cap.written = True

    def value_of(self, a):
        """A real array read by traced NumPy code: its traced value when known."""
        if isinstance(a, np.ndarray):
            s = self.scratch.get(id(a))
            if s is not None and s[0] is a:
                return s[1]
            v = self.data_value(a)
            if v is not None:
                return v
        return a

    def settle_temps(self):
        """Tensors made during the trace: one that nothing outside kept (a scratch
        buffer) is a constant, made afresh on every call as eagerly; one that was
        stored somewhere (a lazily created state) stays bound to that tensor, and
        in-place changes to it are updates, as for a live tensor.  Returns the
        givens that replace the former by constants."""
        temps = [c for c in self.caps.values() if c.kind == "temp"]
        refs = [weakref.ref(c.tensor) for c in temps]
        for c in temps:
            c.tensor = None
        self.keep, self.owner, self.converted, self.inplace_target = [], {}, {}, None
        givens = {}
        for c, r in zip(temps, refs):
            t = r()
            if t is None:
                givens[c.shared] = Constant(c.initial)
                c.kind = "dead"
            else:
                c.tensor, c.kind = t, "kept"
                c.shared.container = TensorContainer(t)
        return givens

    # ------------------------------------------------------------- grads
    def touch_grad(self, t, g):
        if id(t) not in self.grad_first:
            self.grad_first[id(t)] = (t, g)

    def arg_grad_input(self, j):
        """An input holding argument j's call-time .grad (None when it was None)."""
        v = self.arg_grad_inputs.get(j)
        if v is None:
            a, stand = self.args[j]
            if not isinstance(a, Tensor) or _raw_grad(a) is None:
                return None
            v = Variable(stand.type, name=f"{stand.name}.grad")
            v.requires_grad = False
            self.arg_grad_inputs[j] = v
        return v


class _GradContainer:
    """Reads (and writes in place) a tensor's current .grad at call time."""
    __slots__ = ("tensor",)

    def __init__(self, t):
        self.tensor = t

    @property
    def value(self):
        g = self.tensor.grad
        return np.zeros_like(self.tensor.data) if g is None else g.data

    @value.setter
    def value(self, v):
        g = self.tensor.grad
        if g is None:
            self.tensor.grad = Tensor._wrap(np.array(v))
        elif g.data.shape == np.shape(v):
            if v is not g.data:
                np.copyto(g.data, v, casting="unsafe")
        else:
            g.data = np.array(v, dtype=g.data.dtype)


# ------------------------------------------------------------ start / stop
_ORIG = {}


def _patches():
    from .. import autodiff
    from ..optim.optimizer import Optimizer
    from . import tracehooks as h
    out = [(Tensor, "data", property(h._data_get, h._data_set)),
           (Tensor, "grad", property(h._grad_get, h._grad_set)),
           (Tensor, "_inplace", h._inplace), (Tensor, "__setitem__", h._setitem),
           (Tensor, "backward", h._backward), (Tensor, "__array__", h._array),
           (Tensor, "__repr__", h._repr), (Tensor, "_wrap", classmethod(h._wrap)),
           (_tensor_mod, "to_array", h._to_array), (autodiff, "_sweep", h._guarded_sweep),
           (Optimizer, "step", h._opt_step), (Optimizer, "zero_grad", h._opt_zero_grad),
           (_base, "_trace_hook", h._apply_hook), (_graph, "capture_hook", h._capture_hook)]
    if hasattr(autodiff, "_sweep_raw"):
        out.append((autodiff, "_sweep_raw", h._no_raw_sweep))
    mod = sys.modules.get("qiflow.nn.module")
    if mod is not None:
        out.append((mod.Module, "zero_grad", h._module_zero_grad))
    return out


def start(ctx):
    """Install the tracing hooks (restored by ``stop``)."""
    global _active
    if _active is not None:
        raise TraceError("qf.compile: nested tracing is not supported")
    from .. import autodiff
    from ..optim.optimizer import Optimizer
    _ORIG.update(repr=Tensor.__repr__, to_array=_tensor_mod.to_array, wrap=Tensor.__dict__["_wrap"],
                 sweep=autodiff._sweep, step=Optimizer.step)
    try:
        for owner, name, new in _patches():
            ctx.saved.append((owner, name, owner.__dict__.get(name, _MISSING)
                              if isinstance(owner, type) else getattr(owner, name)))
            setattr(owner, name, new)
    except BaseException:
        stop(ctx)
        raise
    _active = ctx


_MISSING = object()


def stop(ctx):
    """Remove the hooks and give every touched ``.grad`` back its call-time value."""
    global _active
    _active = None
    for owner, name, old in reversed(ctx.saved):
        if old is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, old)
    ctx.saved = []
    for t, g0 in ctx.grad_first.values():
        ctx.grad_final.append((t, _raw_grad(t), g0))
        _GRAD.__set__(t, g0)


def real_step():
    return _ORIG["step"]
