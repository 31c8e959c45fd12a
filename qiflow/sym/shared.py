"""Shared variables: symbolic variables with a value that compiled functions
read and update (model parameters, datasets, counters).

>>> from qiflow import sym as T
>>> state = T.shared(0); inc = T.iscalar('inc')
>>> acc = T.function([inc], state, updates=[(state, state + inc)])
>>> int(acc(1)), int(acc(300)), int(state.get_value())
(0, 1, 301)
"""
import numpy as np

from .._state import QiflowError
from ..ops import base as _base
from .graph import Variable
from .graph import TensorType


class Container:
    """Holds a shared variable's current array (compiled functions read ``value``)."""
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class TensorContainer:
    """A container whose value is an eager Tensor's array (used by tracing): reads
    see the tensor's current data, writes go into it in place."""
    __slots__ = ("tensor",)

    def __init__(self, tensor):
        self.tensor = tensor

    @property
    def value(self):
        return self.tensor._data

    @value.setter
    def value(self, v):
        d = self.tensor._data
        if v is not d:
            if v.shape == d.shape:
                np.copyto(d, v, casting="unsafe")
            else:
                self.tensor._data = np.array(v, dtype=d.dtype)


class SharedVariable(Variable):
    """A variable with a value shared by every function that uses it.

    ``default_update`` (Theano's): an expression every compiled function that
    reads the variable stores into it after each call, unless the function's
    own ``updates`` set it (random streams keep their state this way).
    """

    __slots__ = ("container", "default_update")

    def __init__(self, type, container, name=None):
        Variable.__init__(self, type, None, name)
        self.container = container
        self.default_update = None

    def get_value(self, borrow=False, return_internal_type=False):
        """The current value (a copy unless ``borrow``; the value is always an
        ndarray, so Theano's ``return_internal_type`` changes nothing)."""
        v = self.container.value
        return v if borrow else np.array(v, copy=True)

    def set_value(self, value, borrow=False):
        """Replace the value (copied unless ``borrow``); dtype kind and ndim must match."""
        self.container.value = _filter(self, value, borrow, "set_value")

    @property
    def value(self):
        return self.container.value

    def __repr__(self):
        return self.name if self.name is not None else f"<shared {self.type}>"


def _filter(var, value, borrow, what):
    if isinstance(value, _base.Tensor):
        value = value._data
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    t = var.type
    if arr.ndim != t.ndim:
        raise QiflowError(f"{what} on shared variable {var!r}: expected ndim {t.ndim} ({t}), "
                          f"got an array of shape {arr.shape}")
    if any(d is not None and d != a for d, a in zip(t.shape, arr.shape)):
        raise QiflowError(f"{what} on shared variable {var!r}: shape {arr.shape} does not match {t}")
    if arr.dtype != t.dtype:
        weak = not isinstance(value, np.ndarray)
        ok = np.can_cast(arr.dtype, t.dtype, "same_kind") or (
            weak and arr.dtype.kind in "iub" and t.dtype.kind in "fc")
        if not ok:
            raise QiflowError(f"{what} on shared variable {var!r}: cannot store a {arr.dtype} value "
                              f"in a {t.dtype} variable")
        return arr.astype(t.dtype)
    return arr if borrow else np.array(arr, copy=True)


def shared(value, name=None, borrow=False, shape=None, strict=False, allow_downcast=None,
           broadcastable=None):
    """A shared variable holding ``value``; its dtype follows the value
    (``shared(0)`` is an int64 scalar, ``shared(0.)`` a float64 scalar).

    ``borrow=True`` keeps the given array instead of a copy. ``shape`` may fix
    dimensions that will never change (default: all unknown, like Theano);
    Theano's ``broadcastable`` flags fix the axes that are always 1.
    ``strict`` and ``allow_downcast`` are accepted as Theano's (values are
    always stored in the variable's dtype).

    >>> w = T.shared(np.zeros(3), name='w'); w.get_value().tolist()
    [0.0, 0.0, 0.0]
    """
    if isinstance(value, Variable):
        raise TypeError(f"shared: {value!r} is symbolic; give an array")
    if isinstance(value, _base.Tensor):
        value = value._data
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype.kind == "O":
        raise TypeError(f"shared: cannot hold a {type(value).__name__}")
    if not borrow or not isinstance(value, np.ndarray):
        arr = np.array(arr, copy=True)
    st = tuple(shape) if shape is not None else (None,) * arr.ndim
    if broadcastable is not None:
        if len(broadcastable) != arr.ndim or any(b and d != 1 for b, d in zip(broadcastable, arr.shape)):
            raise QiflowError(f"shared: broadcastable {tuple(broadcastable)} does not fit a value "
                              f"of shape {arr.shape}")
        st = tuple(1 if b else d for b, d in zip(broadcastable, st))
    return SharedVariable(TensorType(arr.dtype, st), Container(arr), name)


def tensor_shared(tensor, name=None):
    """A shared variable bound to an eager Tensor (its data read and written in place)."""
    d = tensor._data
    return SharedVariable(TensorType(d.dtype, d.shape), TensorContainer(tensor),
                          name if name is not None else getattr(tensor, "name", None))
