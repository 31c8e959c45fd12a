"""The one place that reaches into a Tensor: its array, a tensor around an
array, and the leaves its graph reaches.

Everything else in ``qiflow.distributed`` and ``qiflow.nn.parallel`` goes
through these helpers, so a change of the Tensor internals is a change here.

>>> import numpy as np
>>> a = np.zeros(3); raw(wrap(a)) is a
True
"""
import numpy as np

from ..tensor import Tensor


def raw(x):
    """The ndarray behind a Tensor (shared, not copied); an ndarray stays itself."""
    if isinstance(x, Tensor):
        return x._data
    return x


def wrap(array):
    """A leaf Tensor sharing ``array``'s memory."""
    return Tensor._wrap(array)


def is_tensor(x):
    return isinstance(x, Tensor)


def leaves_reached(outputs):
    """ids of the leaf tensors that require grad and that the graphs of ``outputs``
    reach (the parameters a backward pass from them would give a gradient)."""
    found, seen = set(), set()
    stack = [t for t in outputs if isinstance(t, Tensor) and t.requires_grad]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t._op is None:
            found.add(id(t))
            continue
        for i in t._inputs or ():
            if isinstance(i, Tensor) and i.requires_grad and id(i) not in seen:
                stack.append(i)
    return found


def as_buffer(x, what):
    """The writable ndarray to communicate for ``x`` (a Tensor or an ndarray)."""
    a = raw(x)
    if not isinstance(a, np.ndarray):
        raise TypeError(f"qiflow.distributed.{what}: expected a qiflow Tensor or a NumPy array "
                        f"(it is modified in place), got {type(x).__name__}")
    if not a.flags.writeable:
        raise ValueError(f"qiflow.distributed.{what}: the array is read-only "
                         f"({a.dtype}{list(a.shape)}); it is written in place")
    return a
