"""The tracing interpreter: what happens while ``qf.compile`` traces a function
(the compiler of traced functions is ``compiled.py``).

A traced call must equal eager execution on *every* later call, so nothing a
function reads may be frozen at its trace-time value.  While tracing, the
``Tracer`` is the innermost interpreter (``qiflow.ops.base``) and sees every
primitive and every write:

* an op that touches a tensor or a symbolic value builds a graph node.  A
  tensor that existed before the trace (a *live* tensor: parameters, buffers,
  optimizer state, gradients) becomes a shared variable reading its data at
  call time; a tensor made during the trace (the tracer is told of every new
  tensor) is a constant, unless something outside keeps it (``settle``), and
  aliases (``detach()``, ``.data``) stand for the tensor they alias;
* in-place ops (``p.sub_(lr * g)``, ``t += x``, ``copy_``, optimizer steps)
  and ``t.data = v`` become updates of the compiled function;
* ``.grad`` reads and writes go through the tracer: the compiled function is
  specialised on whether each gradient it reads was None at call time, a
  gradient computed by ``backward()`` is a symbolic value held by a handle
  tensor, and every ``.grad`` assignment is replayed;
* ``backward()`` on a traced value runs the engine's sweep symbolically;
* Python numbers that code asks for through ``scalar`` (an optimizer's
  learning rate) become inputs read again on every call;
* reading a value in Python (``.item()``, ``.numpy()``, ``float(t)``, ``if t``)
  raises :class:`TraceError`: the compiler then runs the function eagerly.

No class is patched and no heap is scanned: all of this is the interpreter.
"""
import weakref

import numpy as np

from ..ops import base as _base
from ..ops.base import TraceError
from ..ops.elementwise import cast
from ..ops.movement import broadcast_to, stop_gradient
from ..sym.graph import Variable, Constant, build, as_variable
from ..sym.shared import SharedVariable, TensorContainer
from ..sym.graph import TensorType


class _Cap:
    """A tensor the trace reads: its variable (``shared``) and its value so far.

    kind: 'live' (existed before the trace), 'grad' (a live tensor's .grad
    from before the trace, read through its owner at call time), 'temp' (made
    during the trace; settled by ``settle``), 'handle' (a stand-in the tracer
    made for a symbolic value, e.g. a gradient).
    """
    __slots__ = ("tensor", "shared", "current", "written", "kind", "initial", "version")

    def __init__(self, tensor, shared, kind, current=None):
        self.tensor, self.shared, self.kind = tensor, shared, kind
        self.current = shared if current is None else current
        self.written = False
        self.initial = None
        self.version = tensor._vc[0]


class _Unsettled:
    """The container of a tensor made during the trace, until ``settle`` decides."""
    __slots__ = ()

    @property
    def value(self):
        raise TraceError("internal: a tensor made during the trace was read before it was settled")


class GradContainer:
    """Reads (and writes in place) a tensor's current .grad at call time."""
    __slots__ = ("tensor",)

    def __init__(self, t):
        self.tensor = t

    @property
    def value(self):
        g = self.tensor._grad
        return np.zeros_like(self.tensor._data) if g is None else g._data

    @value.setter
    def value(self, v):
        t = self.tensor
        g = t._grad
        if g is None:
            t._grad = _base.Tensor._wrap(np.array(v))
        elif g._data.shape == np.shape(v):
            if v is not g._data:
                np.copyto(g._data, v, casting="unsafe")
        else:
            g._data = np.array(v, dtype=g._data.dtype)


class Tracer(_base.Interpreter):
    """The state of one trace (see the module docstring)."""

    allows_eager_backward = False

    def __init__(self, args):
        super().__init__()
        self.caps = {}           # id(tensor) -> _Cap
        self.alias = {}          # id(alias) -> the tensor it aliases (detach(), .data)
        self.created = set()     # ids of tensors made during the trace
        self.keep = []           # keeps traced objects alive while their ids are in use
        self.converted = {}      # id(tensor) -> variable: eager graphs recorded before the trace
        self.grad_first = {}     # id(t) -> (t, .grad when the trace first touched it)
        self.grad_seen = {}      # id(t) -> (t, .grad at call time): read before any assignment
        self.grad_set = {}       # id(t) -> t: .grad assigned during the trace
        self.scalars = []        # (getter, dtype, variable): numbers read again per call
        self.args = args         # (argument, stand-in variable) per array argument
        self.arg_grads = {}      # argument index -> its gradient variable
        self.arg_grad_inputs = {}    # argument index -> input holding its call-time .grad
        self.value_guards = []   # (object, attribute, value): Python state the trace depends on

    # ------------------------------------------------------------ values
    def _source(self, t):
        while id(t) in self.alias:
            t = self.alias[id(t)]
        return t

    def value(self, t):
        """The symbolic value of tensor t in the trace so far (an alias such as
        ``detach()`` or ``.data`` is cut from the graph, as eagerly)."""
        src = self._source(t)
        v = self._value(src)
        if src is not t and v.requires_grad:
            v = stop_gradient(v)
        return v

    def _value(self, t):
        cap = self.caps.get(id(t))
        if cap is not None:
            return cap.current
        v = self.converted.get(id(t))
        if v is not None:
            return v
        if t._op is not None and t._inputs is not None and id(t) not in self.created:
            return self._convert(t)
        d = t._data
        rg = bool(t.requires_grad) and d.dtype.kind in "fc"
        if id(t) in self.created:
            sh = SharedVariable(TensorType(d.dtype, d.shape), _Unsettled(), t.name)
            kind = "temp"
        else:
            sh = SharedVariable(TensorType(d.dtype, d.shape), TensorContainer(t), t.name)
            kind = "live"
        sh.requires_grad = rg
        cap = self.caps[id(t)] = _Cap(t, sh, kind)
        if kind == "temp":
            cap.initial = np.array(d)
        self.keep.append(t)
        return sh

    def _convert(self, root):
        """An eager graph recorded before the trace, as symbolic nodes."""
        T = _base.Tensor
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
            stack.extend((i, False) for i in t._inputs if isinstance(i, T))
        for t in order:
            args = [self.value(i) if isinstance(i, T) else i for i in t._inputs]
            self.converted[id(t)] = build(t._op, args)
            self.keep.append(t)
        return self.converted[id(root)]

    def sym(self, a):
        """a as the trace sees it: tensors by their symbolic value."""
        if isinstance(a, _base.Tensor):
            return self.value(a)
        return a

    def handle(self, v, like=None):
        """A tensor standing for the symbolic value v (a gradient), for user code."""
        d = np.broadcast_to(np.zeros((), v.dtype), tuple(0 if s is None else s for s in v.type.shape))
        t = _base.Tensor.__new__(_base.Tensor)
        t._data, t._grad, t._op, t._inputs, t._vc = d, None, None, None, _base.FRESH
        t._hooks, t._retain, t.name, t.requires_grad = None, False, None, False
        self.caps[id(t)] = _Cap(t, None, "handle", current=v)
        self.keep.append(t)
        return t

    # ------------------------------------------------------- interpreter
    def apply(self, op, args):
        T = _base.Tensor
        if not any(isinstance(a, (T, Variable)) for a in args):
            out = self.parent.apply(op, args)         # numbers and plain arrays: a constant
            if isinstance(out, T):
                self.created.add(id(out))
                self.keep.append(out)
            return out
        out = build(op, [self.sym(a) for a in args])
        if not _grad_enabled():
            out.requires_grad = False   # as eagerly: no_grad records nothing to differentiate
        return out

    def apply_into(self, op, dst, args):
        if not isinstance(dst, _base.Tensor):
            raise TraceError(f"{op.name} in place on a symbolic value inside a traced function")
        src = self._source(dst)
        new = build(op, [self.sym(a) for a in args])
        self.write(src, new)
        return dst

    def write(self, t, value):
        """The value of tensor t from here on in the trace is ``value``."""
        self._value(t)
        cap = self.caps[id(t)]
        d = t._data
        value = self.sym(value)
        if not isinstance(value, Variable):
            value = as_variable(value, (d.dtype,))
        if value.dtype != d.dtype:
            value = cast(value, d.dtype)
        if cap.kind != "handle" and value.type.shape != d.shape:
            value = broadcast_to(value, d.shape)
        if not _grad_enabled() and value.requires_grad:
            value = stop_gradient(value)     # no_grad: the new value carries no gradient
        cap.current = value
        cap.written = True

    def assign_data(self, t, value):
        self.write(self._source(t), value)

    def setitem(self, t, index, value, array_index):
        raise TraceError("item assignment (t[i] = v) on a tensor inside a traced function")

    def new_tensor(self, t, source=None):
        if source is not None:
            self.alias[id(t)] = source
        else:
            self.created.add(id(t))
        self.keep.append(t)

    def read_value(self, t):
        s = self._source(t)
        cap = self.caps.get(id(s))
        if (cap is not None and (cap.kind in ("live", "grad", "handle") or cap.written)) or \
                (id(s) not in self.created and cap is None):
            raise TraceError("the function reads the value of a tensor in Python (.item(), .numpy(), "
                             "float(t), if t ...): the compiled function would replay that value "
                             "forever (compute with qiflow operations, or keep this code outside)")

    def scalar(self, value, getter, dtype=None):
        dt = np.dtype(dtype) if dtype is not None else np.asarray(value).dtype
        for g, d, v in self.scalars:
            if g == getter and d == dt:
                return v
        v = Variable(TensorType(dt, ()), name="scalar")
        v.requires_grad = False
        self.scalars.append((getter, dt, v))
        return v

    def guard_attr(self, obj, name):
        """The trace depends on the Python attribute ``obj.<name>`` (its value now):
        the compiled function runs only while the attribute keeps that value, and
        traces again otherwise (``DistributedDataParallel.no_sync()`` uses it)."""
        value = getattr(obj, name)
        if not any(o is obj and n == name for o, n, _ in self.value_guards):
            self.value_guards.append((obj, name, value))
        return value

    # ------------------------------------------------------------- grads
    def _touch_grad(self, t):
        if id(t) not in self.grad_first:
            self.grad_first[id(t)] = (t, t._grad)
            self.keep.append(t)

    def read_grad(self, t, g):
        self._touch_grad(t)
        if id(t) not in self.grad_set and id(t) not in self.grad_seen:
            # this read observes the call-time value: the compiled function is
            # specialised on it (None or not) and reads it at call time
            self.grad_seen[id(t)] = (t, g)
            if g is not None and id(g) not in self.caps and id(g) not in self.created:
                d = g._data
                sh = SharedVariable(TensorType(d.dtype, d.shape), GradContainer(t), name="grad")
                sh.requires_grad = False
                self.caps[id(g)] = _Cap(g, sh, "grad")
                self.keep.append(g)
        return g

    def write_grad(self, t, g):
        self._touch_grad(t)
        self.grad_set[id(t)] = t
        return g

    def backward(self, var, grad):
        """``loss.backward()`` on a traced value: symbolic gradients into ``.grad``."""
        from .. import autodiff
        from ..sym.rewrites import stabilize_for_grad
        from ..ops.elementwise import ones_like
        if not var.requires_grad:
            raise RuntimeError("backward: the output does not require grad (computed under no_grad, or "
                               "from tensors that do not require grad)")
        if grad is None:
            if None in var.type.shape or int(np.prod(var.type.shape)) != 1:
                raise RuntimeError(f"backward: output has shape {var.type.shape}; pass grad "
                                   "(e.g. qf.ones_like(y)) for a non-scalar output")
            grad = ones_like(var)
        else:
            grad = self.sym(grad)
        caps = [c for c in self.caps.values() if c.kind in ("live", "temp") and c.tensor.requires_grad
                and c.shared.requires_grad]
        args = [j for j, (_, v) in enumerate(self.args) if v.requires_grad]
        wrt = [c.shared for c in caps] + [self.args[j][1] for j in args]
        if not wrt:
            raise RuntimeError("backward: nothing that requires grad was used")
        cost = stabilize_for_grad(var, wrt) if var.ndim == 0 else var
        res = autodiff._sweep([cost], [grad], retain_graph=True, create_graph=True, targets=wrt)
        for c, g in zip(caps, res):
            if g is None:
                continue
            t = c.tensor
            old = t.grad
            if old is not None:
                g = self.value(old) + g
            t.grad = self.handle(g)
            if t._hooks:
                autodiff.run_post_hooks(t)
        for j, g in zip(args, res[len(caps):]):
            if g is None:
                continue
            old = self.arg_grads[j] if j in self.arg_grads else self.arg_grad_input(j)
            self.arg_grads[j] = g if old is None else old + g

    def arg_grad_input(self, j):
        """An input holding argument j's call-time .grad (None when it was None)."""
        v = self.arg_grad_inputs.get(j)
        if v is None:
            a, stand = self.args[j]
            if not isinstance(a, _base.Tensor) or a._grad is None:
                return None
            v = Variable(stand.type, name=f"{stand.name}.grad")
            v.requires_grad = False
            self.arg_grad_inputs[j] = v
        return v

    # -------------------------------------------------------------- end
    def finish(self):
        """Give every touched ``.grad`` back its call-time value; returns
        [(tensor, final .grad during the trace, .grad at call time)]."""
        out = []
        for t, g0 in self.grad_first.values():
            out.append((t, t._grad, g0))
            t._grad = g0
        return out

    def untraced_changes(self):
        """Captured tensors changed in place by code the trace could not follow."""
        return [c.tensor for c in self.caps.values()
                if c.kind in ("live", "grad") and c.tensor._vc[0] != c.version]

    def settle(self):
        """Tensors made during the trace: one that nothing outside kept (a scratch
        buffer) is a constant, made afresh on every call as eagerly; one that was
        stored somewhere (a lazily created state) stays bound to that tensor, and
        in-place changes to it are updates, as for a live tensor.  Returns the
        givens that replace the former by constants."""
        temps = [c for c in self.caps.values() if c.kind == "temp"]
        refs = [weakref.ref(c.tensor) for c in temps]
        for c in temps:
            c.tensor = None
        self.keep, self.converted, self.alias = [], {}, {}
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


def _grad_enabled():
    from .. import _state
    return _state.grad_enabled


def is_tracing():
    return _base.active(Tracer) is not None


def current_tracer():
    """The active trace (a :class:`Tracer`), or None outside ``qf.compile``'s tracing."""
    return _base.active(Tracer) if _base._top is not None else None


