"""Functional writes into a copy: Theano's ``set_subtensor`` / ``inc_subtensor``.

``SetSubtensor`` returns x with ``x[index]`` replaced by (or, ``inc=True``,
incremented by) y; x itself is never changed.  The index is the one of the
subtensor the user wrote (``x[2:, idx]``), read from the ``GetItem`` or
``DynamicSlice`` node that made it.  Increments at repeated integer indices
accumulate, as in Theano.

>>> import numpy as np
>>> from qiflow import sym as T
>>> x = T.dvector('x')
>>> T.function([x], T.inc_subtensor(x[[0, 0]], 1.0))(np.zeros(2)).tolist()
[2.0, 0.0]
"""
import numpy as np

from .base import Op, apply
from . import indexing as _ix
from . import dynamic as _dyn
from .._state import QiflowError


def _index(template, dynamic, arrays):
    return _dyn._resolve(template, arrays) if dynamic else _ix._build(template, arrays)


class SetSubtensor(Op):
    """x with x[template] set to (inc: incremented by) y; inputs (x, y, *index inputs)."""
    #: symbolic graphs only (Theano's API): checked there, not in the op table
    tested_in = "tests/sym/test_theano_names.py"
    __slots__ = ("template", "inc", "dynamic")
    props = ("template", "inc", "dynamic")
    view_map = {}

    def __init__(self, template, inc, dynamic):
        self.template, self.inc, self.dynamic = template, bool(inc), bool(dynamic)

    def infer(self, x, y, *idx):
        return x.shape, x.dtype

    def forward(self, x, y, *arrays):
        out = np.array(x, copy=True)
        index = _index(self.template, self.dynamic, arrays)
        try:
            if not self.inc:
                out[index] = y
            elif arrays and not self.dynamic:
                np.add.at(out, index, y)
            else:
                out[index] += y
        except (ValueError, IndexError) as exc:
            what = "inc_subtensor" if self.inc else "set_subtensor"
            raise QiflowError(f"{what}: cannot write a value of shape {np.shape(y)} into x"
                              f"{_ix._describe(self.template, arrays) if not self.dynamic else '[...]'}"
                              f" of an array of shape {x.shape}: {exc}") from None
        return out

    def _take(self, g, idx):
        if self.dynamic:
            return apply(_dyn.DynamicSlice(self.template), g, *idx)
        return apply(_ix.GetItem(self.template), g, *idx)

    def vjp(self, ctx, inputs, output, g):
        x, y, idx = inputs[0], inputs[1], inputs[2:]
        gx = g if self.inc else apply(SetSubtensor(self.template, False, self.dynamic), g, 0, *idx)
        gy = self._take(g, idx) if ctx.needs_input_grad[1] else None
        return (gx, gy) + (None,) * len(idx)


def _write(sub, y, inc, what):
    node = getattr(sub, "owner", None)
    op = node.op if node is not None else None
    if isinstance(op, _ix.GetItem):
        dynamic = False
    elif isinstance(op, _dyn.DynamicSlice):
        dynamic = True
    else:
        raise QiflowError(f"{what}: the first argument must be a subtensor of a variable "
                          f"(x[index]), got {sub!r}")
    x, idx = node.inputs[0], node.inputs[1:]
    return apply(SetSubtensor(op.template, inc, dynamic), x, y, *idx)


def set_subtensor(sub, y):
    """Theano's ``set_subtensor(x[index], y)``: a copy of x with x[index] = y."""
    return _write(sub, y, False, "set_subtensor")


def inc_subtensor(sub, y):
    """Theano's ``inc_subtensor(x[index], y)``: a copy of x with x[index] += y."""
    return _write(sub, y, True, "inc_subtensor")
