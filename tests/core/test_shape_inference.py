"""Shape and dtype inference (ops/shapes.py) against NumPy itself."""
import itertools

import numpy as np
import pytest

from qiflow._state import QiflowError
from qiflow.ops import elementwise as E
from qiflow.ops.shapes import Sym, broadcast_shapes, broadcast_types, result_dtype


class _T:
    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, np.dtype(dtype)


SHAPES = [(), (1,), (3,), (2, 3), (2, 1), (1, 3), (4, 2, 3), (4, 1, 1)]


@pytest.mark.parametrize("a,b", list(itertools.product(SHAPES, SHAPES)))
def test_broadcast_shapes_is_numpys(a, b):
    try:
        want = np.broadcast_shapes(a, b)
    except ValueError:
        with pytest.raises(QiflowError, match="cannot be broadcast"):
            broadcast_shapes("Add", a, b)
        return
    got = broadcast_shapes("Add", a, b)
    assert got == want and all(type(d) is int for d in got)


def test_broadcast_shapes_with_unknown_and_symbolic_sizes():
    s, u = Sym(("v", 1, 0)), Sym(("v", 2, 0))
    assert broadcast_shapes("Add", (s, 3), (s, 3)) == (s, 3)          # the fast path
    assert broadcast_shapes("Add", (None, 3), (None, 3)) == (None, 3)
    assert broadcast_shapes("Add", (s, 3), ()) == (s, 3)
    assert broadcast_shapes("Add", (s, 1), (5, 3)) == (5, 3)
    got = broadcast_shapes("Add", (s,), (u,))
    assert got == (Sym.merge([s, u]),) and got != (s,)
    assert broadcast_shapes("Add", (np.int64(2), 3), (np.int64(2), 3)) == (2, 3)
    assert all(type(d) is int for d in broadcast_shapes("Add", (np.int64(2),), (np.int64(2),)))


DTYPES = ["bool", "int8", "int32", "int64", "float16", "float32", "float64"]


@pytest.mark.parametrize("op", [E.Add(), E.Multiply(), E.Divide()], ids=lambda o: o.name)
def test_result_dtype_is_numpys_also_when_remembered(op):
    for _ in range(2):                     # the second round answers from the memo
        for a, b in itertools.product(DTYPES, DTYPES):
            for nd in (0, 2):
                want = op.forward(np.ones((1,) * nd, a), np.ones((1,) * nd, b)).dtype
                assert result_dtype(op, [_T((1,) * nd, a), _T((1,) * nd, b)]) == want, (a, b, nd)
    assert broadcast_types(op, [_T((2, 3), "float32"), _T((3,), "int64")]) == \
        ((2, 3), np.result_type(op.forward(np.ones(1, "float32"), np.ones(1, "int64"))))
