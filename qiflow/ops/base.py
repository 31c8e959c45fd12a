"""The operator protocol, the interpreter stack and ``apply``, the one place
that decides the mode.

An operator (a *primitive*) is one class.  Everything any part of qiflow
needs to know about it comes from the class itself:

* ``infer(*types)`` -> ``(shape, dtype)`` of the output.  Each input type has
  ``.shape`` (a tuple whose unknown sizes are ``None`` or symbolic size
  tokens, see ``shapes.py``) and ``.dtype``; raises a clear error naming the
  op and the shapes.  The compiler also runs it on symbolic sizes, so a size
  that is copied from an input must be copied as it is.
* ``forward(*arrays)`` -> ndarray, computed with NumPy.
* ``vjp(ctx, inputs, output, grad)`` -> one gradient (or None) per input,
  written only with qiflow's public functions, so that the same code runs on
  NumPy arrays (fast first-order backward), on Tensors (``create_graph``) and
  on symbolic Variables (``sym.grad``).  ``ctx`` says which inputs need a
  gradient (``ctx.needs_input_grad``), holds what ``forward_and_save`` saved
  (``ctx.saved``, None when not available) and the array namespace
  (``ctx.xp``).
* aliasing, as PyTensor's ``view_map``/``destroy_map``: ``view_map`` is
  ``{0: [k, ...]}`` when the output may be a view of inputs k (``None``, the
  default, means "unknown": consumers then assume it may alias every input);
  ``destroy_map`` is ``{0: [k]}`` when the op writes its result into input k.
* ``ufunc``: for elementwise ops computed by one NumPy ufunc, that ufunc (the
  compiler then writes the result into a dead buffer with ``out=``);
  ``elementwise = True`` marks ops that broadcast their inputs elementwise.
* ``format(args)``: how the node prints (``(a + b)``, ``sum(x, axis=1)``).

``apply(op, *args)`` hands the primitive to the innermost active interpreter
(``push``/``pop``, or ``with interpreting(i):``): tracing, profiling, anomaly
checking and the engine's first-order value strategy are interpreters.  With
none active it evaluates eagerly: symbolic arguments build an ``Apply`` node
(``qiflow.sym``), otherwise the op runs now and, when a gradient is needed
and grad mode is on, the output tensor records the op and its inputs.
"""
import numpy as np

from .. import _state
from .shapes import broadcast_types


class Op:
    """Base class of every primitive (see the module docstring for the protocol).

    ``props`` names the attributes that parametrise the op; two ops of the same
    class with equal props are interchangeable (used to merge graphs).
    """

    __slots__ = ()
    props = ()
    #: False when the gradient is zero almost everywhere (floor, sign ...) or
    #: undefined (comparisons): outputs never require grad.
    differentiable = True
    #: {0: [input indices]} the output may be a view of; None: unknown (may alias any)
    view_map = None
    #: {0: [input index]} the op writes its output into
    destroy_map = {}
    #: broadcasts its inputs elementwise (fusable into one kernel by the compiler)
    elementwise = False
    #: the NumPy ufunc computing forward, for elementwise ops that have one
    ufunc = None
    #: forward_and_save(*arrays) -> (output, saved) exists: eager recording keeps
    #: ``saved`` on the node for the vjp (``ctx.saved``)
    saves = False
    #: forward_into(out, *arrays): write the result into ``out`` (used by apply_into)
    forward_into = None
    #: the inputs may be swapped (a drawing does not number them)
    commutative = False
    #: positions of the inputs whose shape alone the op reads, never their values
    #: (``zeros_like(x)``, ``sum_to_like(g, x)``): a scan's gradient passes a stand-in
    #: of the right shape there instead of keeping the forward loop's values
    shape_inputs = ()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        vjp = cls.__dict__.get("vjp")
        code = getattr(vjp, "__code__", None)
        if code is not None and not code.co_flags & 0x04 and code.co_argcount == 4:
            raise TypeError(f"{cls.__name__}.vjp{code.co_varnames[:4]}: a vjp takes a context first, "
                            "vjp(self, ctx, inputs, output, grad) (ctx.needs_input_grad, ctx.saved)")
        REGISTRY.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)

    def infer(self, *types):
        return broadcast_types(self, types)

    def forward(self, *arrays):
        raise NotImplementedError(f"{self.name} has no forward")

    def vjp(self, ctx, inputs, output, grad):
        raise NotImplementedError(f"{self.name} has no gradient")

    @property
    def name(self):
        return type(self).__name__

    def format(self, args):
        """The node as text, given its inputs as text: ``name(a, b, prop=value)``."""
        props = [f"{p}={getattr(self, p)!r}" for p in self.props if getattr(self, p) is not None]
        return f"{_snake(self.name)}({', '.join(list(args) + props)})"

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


#: every Op subclass, by module-qualified name (the op table and the docs read it)
REGISTRY = {}

#: The version counter of tensors never changed in place (op outputs, new
#: tensors): shared, and never incremented; a tensor gets its own counter
#: (``own_counter``) before its first in-place change or its first view.
FRESH = [0]


def own_counter(t):
    """t's own version counter (made on first need; see ``FRESH``)."""
    vc = t._vc
    if vc is FRESH:
        vc = t._vc = [0]
    return vc


def _snake(name):
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(c.lower())
    return "".join(out)


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, np.ndarray):
        return (v.dtype.str, v.shape, v.tobytes())
    return v


def static_shape(x):
    """The shape known at graph-build time: a tuple (entries may be None when symbolic)."""
    if x.__class__ is np.ndarray:
        return x.shape                 # the backward pass's common case first
    if isinstance(x, Tensor):
        return x._data.shape
    if isinstance(x, Symbolic):
        return tuple(x.type.shape)
    return tuple(np.shape(x))


def aliases(op):
    """Input indices the output of ``op`` may share memory with (all when unknown)."""
    vm = op.view_map
    if vm is None:
        return None
    return tuple(vm.get(0, ())) + tuple(op.destroy_map.get(0, ()))


class Symbolic:
    """Marker base class of symbolic variables (``qiflow.sym.Variable``)."""

    __slots__ = ()


class TraceError(RuntimeError):
    """A traced function does something a compiled graph cannot replay."""


# ---------------------------------------------------------------- contexts
class VjpContext:
    """What a vjp may know besides its inputs: which inputs need a gradient,
    what the forward saved, and the array namespace.  The engine reuses one
    context for a whole sweep: a vjp reads it and never keeps it."""

    __slots__ = ("needs_input_grad", "saved", "xp", "create_graph")

    def __init__(self, needs_input_grad=None, saved=None, create_graph=False):
        self.needs_input_grad = needs_input_grad
        self.saved = saved
        self.xp = np
        self.create_graph = create_graph


#: ``needs_input_grad`` of a node whose n inputs all need a gradient, by n
_ALL_TRUE = tuple((True,) * n for n in range(256))


def all_needed(n):
    """``needs_input_grad`` of a node whose n inputs all need a gradient."""
    return _ALL_TRUE[n] if n < 256 else (True,) * n


def full_context(n_inputs):
    """A context for calling a vjp outside the engine (all gradients wanted)."""
    return VjpContext(all_needed(n_inputs))


# -------------------------------------------------------------- interpreters
class Interpreter:
    """A mode: receives every primitive application while it is the innermost.

    ``apply(op, args)`` runs the op (usually by delegating to ``self.parent``,
    the interpreter below, after or before doing its own work); ``vjp(op,
    ctx, inputs, output, grad)`` runs an op's vjp for the engine (interpreters
    that time or check backward passes set ``intercepts_vjp``).
    """

    intercepts_vjp = False
    #: False while tracing: a backward through eagerly recorded tensors cannot be traced
    allows_eager_backward = True

    def __init__(self):
        self.parent = None

    def apply(self, op, args):
        return self.parent.apply(op, args)

    def vjp(self, op, ctx, inputs, output, grad):
        return self.parent.vjp(op, ctx, inputs, output, grad)

    # hooks with a default: interpreters that watch tensors override them
    def new_tensor(self, t, source=None):
        """A tensor was created outside ``apply`` (factories; ``source``: the
        tensor whose memory it shares, for ``detach()`` and ``.data``)."""
        if self.parent is not None:
            self.parent.new_tensor(t, source)

    def read_value(self, t):
        """Python code reads t's values (``.item()``, ``.numpy()``, ``bool(t)``)."""
        if self.parent is not None:
            self.parent.read_value(t)

    def assign_data(self, t, array):
        """``t.data = value``: t's values are replaced by ``array``."""
        return self.parent.assign_data(t, array)

    def backward(self, var, grad):
        """``var.backward(grad)`` on a symbolic value."""
        return self.parent.backward(var, grad)

    def read_grad(self, t, g):
        """``t.grad`` is read; returns what the reader gets (``g`` by default)."""
        return g if self.parent is None else self.parent.read_grad(t, g)

    def write_grad(self, t, g):
        """``t.grad = g``; returns the value to store."""
        return g if self.parent is None else self.parent.write_grad(t, g)

    def scalar(self, value, getter, dtype=None):
        """A Python number that code computes with (a learning rate): its value
        now, or (while tracing) a stand-in read again through ``getter`` per call."""
        return value if self.parent is None else self.parent.scalar(value, getter, dtype)

    def apply_into(self, op, dst, args):
        """``dst <- op(*args)`` in dst's memory (see ``apply_into``)."""
        return self.parent.apply_into(op, dst, args)

    def setitem(self, t, index, value, array_index):
        """``t[index] = value`` (``array_index``: the index with arrays for tensors)."""
        return self.parent.setitem(t, index, value, array_index)


class _Eager(Interpreter):
    """The bottom of the stack: evaluate now (what ``apply`` does when no
    interpreter is active)."""

    def apply(self, op, args):
        global _top
        saved, _top = _top, None
        try:
            return apply(op, *args)
        finally:
            _top = saved

    def vjp(self, op, ctx, inputs, output, grad):
        return op.vjp(ctx, inputs, output, grad)

    def apply_into(self, op, dst, args):
        return _eager_into(op, dst, args)

    def setitem(self, t, index, value, array_index):
        t._data[array_index] = value._data if isinstance(value, Tensor) else value
        own_counter(t)[0] += 1
        return t

    def assign_data(self, t, array):
        t._data = array

    def backward(self, var, grad):
        raise RuntimeError("backward() on a symbolic variable: use T.grad(cost, wrt) (or call it "
                           "inside a function compiled with qf.compile)")


class RawValues(Interpreter):
    """The value strategy of a first-order backward (pushed by the engine): vjps
    receive ndarrays, and every qiflow function they call computes on ndarrays
    directly (nothing is recorded, no Tensor is made)."""

    def apply(self, op, args):
        try:
            return op.forward(*args)
        except _state.QiflowError:
            raise
        except Exception as exc:
            raise _forward_error(op, list(args), exc) from exc


EAGER = _Eager()
RAW = RawValues()
_stack = []
#: the innermost interpreter, or None when only eager evaluation is active
_top = None


def push(interp):
    """Make ``interp`` the innermost interpreter (its parent is the previous one)."""
    global _top
    interp.parent = _top if _top is not None else EAGER
    _stack.append(interp)
    _top = interp
    return interp


def pop(interp):
    """Remove ``interp``, which must be the innermost interpreter."""
    global _top
    if not _stack or _stack[-1] is not interp:
        raise RuntimeError(f"interpreter stack: {interp!r} is not the innermost interpreter")
    _stack.pop()
    _top = _stack[-1] if _stack else None


def current():
    """The innermost interpreter (``EAGER`` when none is pushed)."""
    return _top if _top is not None else EAGER


def active(cls):
    """The innermost active interpreter of type ``cls``, or None."""
    for i in reversed(_stack):
        if isinstance(i, cls):
            return i
    return None


class interpreting:
    """``with interpreting(interp):`` pushes it for the block (also around
    exceptions), e.g. ``with interpreting(Profile()): ...``."""

    def __init__(self, interp):
        self.interp = interp

    def __enter__(self):
        return push(self.interp)

    def __exit__(self, *exc):
        pop(self.interp)
        return False


class suspended:
    """``with suspended():`` runs user code (hooks, custom backward functions)
    with plain eager evaluation, the interpreter stack set aside."""

    def __enter__(self):
        global _top
        self.saved = list(_stack), _top
        _stack.clear()
        _top = None

    def __exit__(self, *exc):
        global _top
        _stack[:], _top = self.saved
        return False


# -------------------------------------------------------------------- apply
# Filled in by qiflow.tensor and qiflow.sym at import time.
Tensor = None
_build_symbolic = None


def apply(op, *args):
    """Run ``op`` on ``args`` (Tensors, symbolic Variables, arrays or numbers)."""
    if _top is not None:
        if _top is RAW:             # (RawValues.apply, inlined: every first-order vjp runs here)
            try:
                return op.forward(*args)
            except _state.QiflowError:
                raise
            except Exception as exc:
                raise _forward_error(op, list(args), exc) from exc
        return _top.apply(op, args)
    # eager evaluation (also what ``EAGER.apply`` runs, with the stack set aside)
    T = Tensor
    if op.saves:
        return _eager_saving(op, args)
    n = len(args)
    # one or two tensors (nearly every call): no loop, no argument list
    if n == 2 and isinstance(args[0], T) and isinstance(args[1], T):
        a, b = args
        try:
            out = op.forward(a._data, b._data)
        except _state.QiflowError:
            raise
        except Exception as exc:
            raise _forward_error(op, [a._data, b._data], exc) from exc
        track = a.requires_grad or b.requires_grad
        if track:
            vsum = a._vc[0] + b._vc[0]
    elif n == 1 and isinstance(args[0], T):
        a = args[0]
        try:
            out = op.forward(a._data)
        except _state.QiflowError:
            raise
        except Exception as exc:
            raise _forward_error(op, [a._data], exc) from exc
        track = a.requires_grad
        if track:
            vsum = a._vc[0]
    else:
        arrays, track, found = _unpack(op, args)
        if arrays is None:
            return _build_symbolic(op, args)
        try:
            out = op.forward(*arrays)
        except _state.QiflowError:
            raise
        except Exception as exc:
            raise _forward_error(op, arrays, exc) from exc
        if not found:
            out = _from_numbers(out, arrays)
        if track:
            vsum = 0
            for a in args:
                if isinstance(a, T):
                    vsum += a._vc[0]
    if out.__class__ is not np.ndarray:
        out = np.asarray(out)
    t = T.__new__(T)
    t._data = out
    t._grad = None
    t._hooks = None
    t._retain = False
    t.name = None
    if track and _state.grad_enabled and op.differentiable and out.dtype.kind in "fc":
        vm = op.view_map
        if vm is None or vm:
            return _record(op, args, t, out)     # may be a view: shares a version counter
        t._vc = FRESH
        t._vsum = vsum
        t.requires_grad = True
        t._op = op
        t._inputs = args
        return t
    # Not recorded, but a view still shares its base's counter: a backward that saved the view
    # (``w * b[:2]``) must see ``b.add_(...)``.
    t._vc = FRESH if out.base is None else _view_counter(op, args, out)
    t.requires_grad = False
    t._op = None
    t._inputs = None
    return t


def _unpack(op, args):
    """(arrays, any input requires grad, any input is a Tensor); arrays is None
    when an argument is symbolic."""
    T = Tensor
    arrays = []
    track = found = False
    for a in args:
        if isinstance(a, T):
            found = True
            arrays.append(a._data)
            if a.requires_grad:
                track = True
        elif isinstance(a, Symbolic):
            return None, False, False
        else:
            arrays.append(a)
    return arrays, track, found


def _from_numbers(out, arrays):
    out = np.asarray(out)
    if out.dtype.kind == "f" and not any(isinstance(a, np.ndarray) for a in arrays):
        # only Python numbers: give floats the default dtype
        from ..backend import get_default_dtype
        out = out.astype(get_default_dtype(), copy=False)
    return out


def _eager_saving(op, args):
    """``_eager`` for ops that save values for their vjp (convolutions, recurrences)."""
    T = Tensor
    arrays, track, found = _unpack(op, args)
    if arrays is None:
        return _build_symbolic(op, args)
    rec = track and _state.grad_enabled and op.differentiable
    try:
        if rec:
            out, saved = op.forward_and_save(*arrays)
        else:
            out, saved = op.forward(*arrays), None
    except _state.QiflowError:
        raise
    except Exception as exc:
        raise _forward_error(op, arrays, exc) from exc
    if not found:
        out = _from_numbers(out, arrays)
    if out.__class__ is not np.ndarray:
        out = np.asarray(out)
    t = T._wrap(out)
    if rec and out.dtype.kind in "fc":
        _record(op, args, t, out)
        t._saved = saved
    return t


def _record(op, args, t, out):
    """Make ``t`` the node of ``op(args)``: inputs, versions.  A view shares the
    version counter of the tensor it views, so an in-place change of either is
    seen by every backward that saved the other."""
    T = Tensor
    t._vc = _view_counter(op, args, out)
    vsum = t._vc[0]
    for a in args:
        if isinstance(a, T):
            vsum += a._vc[0]
    t.requires_grad = True
    t._op = op
    t._inputs = args
    t._vsum = vsum
    return t


def _view_counter(op, args, out):
    """The version counter ``out`` must use: its base's when it views an input tensor (so an
    in-place change of either is seen through the other), else the shared fresh one."""
    vm = op.view_map
    if out.base is not None or vm:
        cands = [args[k] for k in vm[0]] if vm and vm.get(0) else args
        for base in cands:
            if isinstance(base, Tensor) and (out is base._data
                                             or np.may_share_memory(out, base._data)):
                return own_counter(base)
    return FRESH


# --------------------------------------------------------------- apply_into
def apply_into(op, dst, *args):
    """``dst <- op(*args)`` in ``dst``'s memory (``args`` may include ``dst``:
    ``x.mul_(2)`` is ``apply_into(Multiply(), x, x, 2)``); returns ``dst``.

    Like ``apply`` it goes to the innermost interpreter (tracing records the
    write as an update of ``dst``).  Evaluated eagerly it writes with the op's
    ufunc (``out=``) or copies the op's result in, with NumPy's ``same_kind``
    casting; bumps dst's version counter (shared with its views); and follows
    PyTorch's autograd rules where a gradient is recorded: a leaf that requires
    grad cannot be modified in place, otherwise dst becomes the op's output and
    its former value (a copy) the op's input.
    """
    if _top is not None:
        return _top.apply_into(op, dst, args)
    return _eager_into(op, dst, args)


def _eager_into(op, dst, args):
    T = Tensor
    if not isinstance(dst, T):
        raise TypeError(f"{op.name}: can write only into a Tensor, got {type(dst).__name__}")
    record = _state.grad_enabled and op.differentiable and (
        dst.requires_grad or any(isinstance(a, T) and a.requires_grad for a in args))
    if record:
        args = _rebase(op, dst, args)
    arrays = []
    for a in args:
        arrays.append(a._data if a.__class__ is T or isinstance(a, T) else a)
    d = dst._data
    try:
        uf = op.ufunc
        if uf is not None and len(arrays) == uf.nin:
            uf(*arrays, out=d)
        elif op.forward_into is not None:
            op.forward_into(d, *arrays)
        else:
            res = op.forward(*arrays)
            if np.shape(res) != d.shape and np.broadcast_shapes(np.shape(res), d.shape) != d.shape:
                raise ValueError(f"a result of shape {np.shape(res)} does not fit")
            np.copyto(d, res, casting="same_kind")
    except _state.QiflowError:
        raise
    except Exception as exc:
        shapes = ", ".join(_describe(a) for a in arrays)
        raise _state.QiflowError(f"{op.name} in place: cannot write {op.name}({shapes}) into a tensor "
                                 f"of {d.dtype}{list(d.shape)}: {exc}") from exc
    vc = dst._vc                      # (own_counter, inlined: every optimizer step runs here)
    if vc is FRESH:
        vc = dst._vc = [0]
    vc[0] += 1
    if record:
        dst.requires_grad = True
        dst._op = op
        dst._inputs = args
        vsum = dst._vc[0]
        for a in args:
            if isinstance(a, T):
                vsum += a._vc[0]
        dst._vsum = vsum
    return dst


def _rebase(op, dst, args):
    """PyTorch's rule for a recorded in-place op: ``args`` with ``dst`` replaced
    by a tensor holding its former value and history."""
    T = Tensor
    if dst._op is None and dst.requires_grad:
        raise RuntimeError(f"{op.name}: in-place operation on a leaf tensor that requires grad; wrap "
                           "it in qf.no_grad() (as optimizers do) or use an out-of-place op")
    if dst._op is not None and dst._op.view_map:
        raise _state.QiflowError(
            f"{op.name}: in-place change of a view ({dst._op.name} of another tensor) while a "
            "gradient is recorded is not supported in qiflow; apply the op out of place "
            "(y = op(y)) or change the base tensor")
    if not any(a is dst for a in args):
        return args
    old = T._wrap(dst._data.copy())
    old._vc = [dst._vc[0]]
    if dst.requires_grad:
        old.requires_grad = True
        old._op, old._inputs = dst._op, dst._inputs
        if dst._op is not None:
            old._vsum = dst._vsum
            if dst._op.saves:
                old._saved = dst._saved
    return tuple(old if a is dst else a for a in args)


def _forward_error(op, arrays, exc):
    shapes = ", ".join(_describe(a) for a in arrays)
    return _state.QiflowError(f"{op!r}: cannot compute on inputs ({shapes}): {exc}")


def _describe(a):
    if isinstance(a, np.ndarray):
        return f"{a.dtype}{list(a.shape)}"
    return repr(a)
