"""The symbolic graph: ``Variable``, ``Constant``, ``Apply`` and the builder that
``qiflow.ops.base.apply`` calls when an argument is symbolic.

A variable is typed (``.type``: dtype + static shape) and made either by the
user (``owner`` is None) or by an ``Apply`` node (op, inputs, outputs).  The
operators are qiflow's own op classes: ``x + y`` on variables runs
``apply(Add(), x, y)``, which lands in :func:`build`, asks ``op.infer`` for the
output type and returns the output of a new ``Apply``.  Each node remembers the
user's source line, so a run-time error names the op and that line.

>>> from qiflow import sym as T
>>> x = T.dmatrix('x'); y = T.dmatrix('y'); z = x + y
>>> z.owner.op, z.owner.inputs[0] is x, x.owner is None
(Add, True, True)
"""
import contextlib
import gc
import os
import sys

import numpy as np

from .methods import TheanoMethods, _eager_dialect
from .dtypes import as_dtype
from ..ops import elementwise as _elementwise
from ..ops import base as _base
from ..ops import dynamic as _dynamic
from ..ops.base import Symbolic
from .._state import QiflowError

_COMPARISONS = (_elementwise.Equal, _elementwise.NotEqual, _elementwise.Less,
                _elementwise.LessEqual, _elementwise.Greater, _elementwise.GreaterEqual)

_NDIM_NAMES = {0: "scalar", 1: "vector", 2: "matrix", 3: "tensor3", 4: "tensor4"}

#: ``T.function``, registered by ``qiflow.sym.function`` (``Variable.eval`` compiles with it)
compiler = None


class TensorType:
    """dtype + static shape (a tuple; None marks a dimension known only at run time).

    As in Theano, a pattern of booleans is read as broadcastable flags:
    ``TensorType('float64', (False, True))`` is a column (shape ``(None, 1)``).
    """

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype, shape):
        self.dtype = np.dtype(dtype)
        shape = tuple(shape)
        if shape and all(isinstance(d, (bool, np.bool_)) for d in shape):
            shape = tuple(1 if d else None for d in shape)      # Theano's broadcastable
        self.shape = tuple(None if d is None else int(d) for d in shape)

    @property
    def broadcastable(self):
        """Theano's flags: True where the dimension is known to be 1."""
        return tuple(d == 1 for d in self.shape)

    @property
    def ndim(self):
        return len(self.shape)

    def __call__(self, name=None):
        """A new input variable of this type."""
        return Variable(self, name=name)

    def __eq__(self, other):
        return isinstance(other, TensorType) and self.dtype == other.dtype and self.shape == other.shape

    def __hash__(self):
        return hash((self.dtype.str, self.shape))

    def accepts(self, other):
        """True when every value of ``other`` is a value of this type."""
        if self.dtype != other.dtype or len(self.shape) != len(other.shape):
            return False
        return all(a is None or a == b for a, b in zip(self.shape, other.shape))

    def __repr__(self):
        if all(d is None for d in self.shape) and self.ndim in _NDIM_NAMES:
            kind = _NDIM_NAMES[self.ndim]
        else:
            kind = "(" + ", ".join("?" if d is None else str(d) for d in self.shape) + \
                   ("," if self.ndim == 1 else "") + ")"
        return f"TensorType({self.dtype}, {kind})"



_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep

#: While a rewrite runs, new nodes take the tag (source line) of the node they replace.
tag_override = None


def user_line():
    """'file:line' of the innermost frame outside the qiflow package (or '?')."""
    if tag_override is not None:
        return tag_override
    f = sys._getframe(2)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(_PKG_DIR):
            return f"{fn}:{f.f_lineno}"
        f = f.f_back
    return "?"


class Apply:
    """One application of an op: ``inputs`` (a list) -> ``outputs`` (one variable)."""

    __slots__ = ("op", "inputs", "outputs", "tag")

    def __init__(self, op, inputs, output, tag):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = [output]
        self.tag = tag
        output.owner = self

    @property
    def out(self):
        return self.outputs[0]

    def __repr__(self):
        return f"{self.op!r}({', '.join(map(repr, self.inputs))})"


class Variable(Symbolic, TheanoMethods):
    """A typed symbolic value: an input, a constant, a shared variable or an op's result.

    It supports the operators and methods of ``Tensor``; ``.shape`` is the static
    shape when every dimension is known, else a symbolic shape whose items are
    ints where known and scalar int64 variables elsewhere.
    """

    __slots__ = ("type", "owner", "name", "requires_grad", "_tag", "__weakref__")
    # the engine's node protocol (see qiflow.autodiff): no hooks, no retained grads
    _hooks = None
    _retain = False

    def __init__(self, type, owner=None, name=None):
        self.type = type
        self.owner = owner
        self.name = name
        self.requires_grad = type.dtype.kind in "fc"

    # ---------------------------------------------------------------- engine
    @property
    def _op(self):
        return self.owner.op if self.owner is not None else None

    @property
    def _inputs(self):
        return tuple(self.owner.inputs) if self.owner is not None else None

    # ------------------------------------------------------------ properties
    @property
    def dtype(self):
        """Theano's dtype: a string (``'float32'``) that also acts as the NumPy dtype."""
        return as_dtype(self.type.dtype)

    @property
    def broadcastable(self):
        return self.type.broadcastable

    @property
    def tag(self):
        """Theano's scratch space on a variable (``x.tag.test_value = ...`` is kept,
        and unused: qiflow computes no test values)."""
        try:
            return self._tag
        except AttributeError:
            import types
            self._tag = types.SimpleNamespace()
            return self._tag

    @property
    def ndim(self):
        return len(self.type.shape)

    @property
    def shape(self):
        s = self.type.shape
        if None not in s:
            return s
        return shape_of(self)

    @property
    def size(self):
        s = self.type.shape
        if None not in s:
            return int(np.prod(s, dtype=np.int64))
        from ..ops.reduce import count
        return count(self, None, dtype="int64")

    def __getitem__(self, index):
        return _dynamic.getitem(self, index)

    def dimshuffle(self, *pattern):
        """Theano's dimshuffle: reorder axes, 'x' inserts a broadcastable axis, and
        axes left out are dropped (they must have size 1). ``b.dimshuffle('x', 0)``"""
        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = tuple(pattern[0])
        from ..ops import movement as M
        kept = [p for p in pattern if p != "x"]
        if sorted(set(kept)) != sorted(kept) or any(not 0 <= p < self.ndim for p in kept):
            raise ValueError(f"dimshuffle: invalid pattern {pattern} for ndim {self.ndim}")
        dropped = tuple(a for a in range(self.ndim) if a not in kept)
        v = M.squeeze(self, dropped) if dropped else self
        order = sorted(kept)
        v = M.transpose(v, [order.index(p) for p in kept]) if kept != order else v
        new = tuple(k for k, p in enumerate(pattern) if p == "x")
        return M.expand_dims(v, new) if new else v

    def __len__(self):
        if self.ndim and self.type.shape[0] is not None:
            return self.type.shape[0]
        raise TypeError(f"len() of symbolic {self!r} of type {self.type}: its first dimension is only "
                        "known at run time (use .shape[0])")

    def __iter__(self):
        n = len(self)
        return (self[i] for i in range(n))

    # ----------------------------------------------------- guarded conversions
    def __bool__(self):
        # Theano: every variable is true (``if not W:`` tests for None), except a
        # comparison's result, whose truth is only known at run time.  While
        # tracing eager code (``qf.compile``) the variable stands for a tensor: raise.
        if _eager_dialect() or (self.owner is not None and
                                isinstance(self.owner.op, _COMPARISONS)):
            raise TypeError(f"the truth value of symbolic {self!r} is only known at run time; "
                            "use T.switch / qf.where instead of `if`, or compile a function")
        return True

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"symbolic {self!r} has no value yet: compile it with T.function "
                        "(or call .eval()) to get an array")

    def __float__(self):
        self.__array__()

    __int__ = __index__ = __complex__ = __float__

    def item(self):
        self.__array__()

    numpy = tolist = item

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .ufuncs import array_ufunc
        return array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        from .ufuncs import array_function
        return array_function(func, args, kwargs)

    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Inside ``qf.compile`` this records the gradients; elsewhere use ``T.grad``."""
        return _base.current().backward(self, grad)

    def detach(self):
        """This value cut from the graph (``qf.stop_gradient``)."""
        from ..ops.movement import stop_gradient
        return stop_gradient(self)

    def astype(self, dtype, copy=True):
        """``qf.cast``; ``copy`` is accepted for NumPy compatibility (values are immutable)."""
        from ..ops.elementwise import cast
        from .methods import as_dtype_name
        return cast(self, as_dtype_name(dtype))

    def eval(self, inputs_to_values=None):
        """Compile and run this variable: ``(x + 1).eval({x: 2.0})``."""
        inputs_to_values = inputs_to_values or {}
        keys = list(inputs_to_values)
        f = compiler(keys, self)
        return f(*[inputs_to_values[k] for k in keys])

    def __repr__(self):
        if self.name is not None:
            return self.name
        if self.owner is not None:
            return f"{self.owner.op!r}.out"
        return f"<{self.type}>"


class Constant(Variable):
    """A variable with a fixed value (an ndarray)."""

    __slots__ = ("data",)

    def __init__(self, data, name=None):
        data = np.asarray(data)
        Variable.__init__(self, TensorType(data.dtype, data.shape), None, name)
        self.data = data
        self.requires_grad = False

    def __repr__(self):
        if self.name is not None:
            return self.name
        d = self.data
        body = repr(d.item()) if d.ndim == 0 else np.array2string(d, separator=",", threshold=10)
        return f"TensorConstant{{{body}}}"


class ShapeVariable(Variable):
    """``x.shape`` for a variable with unknown dimensions: indexing it with an int
    gives that dimension (a Python int when known statically, else a scalar)."""
    __slots__ = ()

    def _source_shape(self):
        return self.owner.inputs[0].type.shape

    def __getitem__(self, i):
        if isinstance(i, (int, np.integer)):
            s = self._source_shape()
            n = len(s)
            if not -n <= i < n:
                raise IndexError(f"shape index {i} out of range for ndim {n}")
            if s[i] is not None:
                return s[i]
            return Variable.__getitem__(self, int(i) % n)
        return Variable.__getitem__(self, i)

    def __len__(self):
        return len(self._source_shape())

    def __iter__(self):
        return (self[i] for i in range(len(self)))


_shape = _dynamic.Shape()


def shape_of(x):
    """Symbolic shape of x (``x.shape`` when a dimension is unknown)."""
    return build(_shape, (x,), cls=ShapeVariable)


def constant(value, name=None, dtype=None):
    """A constant variable. ``T.constant(2.0)``"""
    from ..backend import to_array
    if isinstance(value, Variable):
        raise TypeError(f"constant: {value!r} is already symbolic")
    if isinstance(value, _base.Tensor):
        value = value._data
    return Constant(to_array(value, dtype), name)


def _is_weak(a):
    return isinstance(a, (bool, int, float, complex)) and not isinstance(a, np.generic)


def as_variable(a, strong=()):
    """a as a variable; Python scalars take their dtype weakly from ``strong`` dtypes."""
    if isinstance(a, Variable):
        return a
    if isinstance(a, _base.Tensor):
        return Constant(a._data)
    if _is_weak(a):
        if strong:
            try:
                dt = np.result_type(*strong, a)
            except (OverflowError, TypeError):
                dt = np.asarray(a).dtype
        else:
            from ..backend import to_array
            dt = to_array(a).dtype
        return Constant(np.asarray(a, dtype=dt))
    if isinstance(a, (list, tuple)):
        from ..backend import to_array
        return Constant(to_array(a))
    if isinstance(a, (np.ndarray, np.generic)):
        return Constant(np.asarray(a))
    raise TypeError(f"cannot use a {type(a).__name__} ({a!r:.60}) in a symbolic expression")


def build(op, args, cls=None):
    """The symbolic side of ``apply``: wrap the arguments, infer the type, make the node."""
    strong = []
    for a in args:
        if isinstance(a, Variable):
            strong.append(a.type.dtype)
        elif isinstance(a, _base.Tensor):
            strong.append(a._data.dtype)
        elif isinstance(a, (np.ndarray, np.generic)):
            strong.append(a.dtype)
    inputs = [as_variable(a, strong) for a in args]
    tag = user_line()
    try:
        shape, dtype = op.infer(*[v.type for v in inputs])
    except QiflowError as exc:
        raise QiflowError(f"{exc} (at {tag})") from None
    except Exception as exc:
        types = ", ".join(str(v.type) for v in inputs)
        raise QiflowError(f"{op!r}: cannot apply to ({types}): {exc} (at {tag})") from exc
    out = (cls or Variable)(TensorType(dtype, shape))
    Apply(op, inputs, out, tag)
    out.requires_grad = (op.differentiable and out.type.dtype.kind in "fc"
                         and any(v.requires_grad for v in inputs))
    return out


def _builder(op, args):
    return build(op, args)


def install():
    _base._build_symbolic = _builder


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while a graph is compiled.

    Compiling allocates a few objects per node that all stay alive until the end,
    and each full collection walks every object of the process to find nothing: on
    the gradient of a 20k-op chain (80k nodes) that was about a sixth of the compile.  The garbage that
    the rewrites leave (dropped nodes) is collected once the collector runs again.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


# ------------------------------------------------------------- graph walking
def toposort(outputs, stop=None):
    """Apply nodes needed for ``outputs``, inputs before users (iterative).

    ``stop``: a set of ids of variables treated as leaves.
    """
    order, seen = [], set()
    stop = stop or ()
    for root in outputs:
        if root.owner is None or id(root) in stop or id(root.owner) in seen:
            continue
        seen.add(id(root.owner))
        stack = [(root.owner, iter(root.owner.inputs))]
        while stack:
            node, it = stack[-1]
            for v in it:
                o = v.owner
                if o is not None and id(o) not in seen and id(v) not in stop:
                    seen.add(id(o))
                    stack.append((o, iter(o.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def ancestors(outputs, stop=None):
    """Every variable that ``outputs`` depend on (including themselves)."""
    out, seen = [], set()
    stack = list(outputs)
    stop = stop or ()
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        out.append(v)
        if v.owner is not None and id(v) not in stop:
            stack.extend(v.owner.inputs)
    return out


def leaves(outputs):
    """Variables without owner that ``outputs`` depend on (inputs, shared, constants)."""
    return [v for v in ancestors(outputs) if v.owner is None]


def ordered_leaves(order, outputs):
    """The leaves of a toposorted graph in first-use order (then leaf outputs):
    a stable order for naming and drawing them."""
    seen, res = set(), []
    for v in [i for node in order for i in node.inputs] + list(outputs):
        if v.owner is None and id(v) not in seen:
            seen.add(id(v))
            res.append(v)
    return res
