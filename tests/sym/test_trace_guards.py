"""``Tracer.guard_attr``: a trace that depends on a Python attribute is used
only while the attribute keeps its trace-time value (DDP's no_sync uses it)."""
import numpy as np

import qiflow as qf
from qiflow.trace import current_tracer


class Switch:
    def __init__(self):
        self.double = False


def test_a_guarded_attribute_traces_again_when_it_changes_and_back():
    sw = Switch()

    def f(x):
        tr = current_tracer()
        flag = tr.guard_attr(sw, "double") if tr is not None else sw.double
        return x * 2.0 if flag else x + 1.0

    g = qf.compile(f, strict=True)
    x = qf.tensor([1.0, 2.0])
    assert g(x).tolist() == [2.0, 3.0] and g.traces == 1
    sw.double = True
    assert g(x).tolist() == [2.0, 4.0] and g.traces == 2       # a stale graph would give [2, 3]
    sw.double = False
    assert g(x).tolist() == [2.0, 3.0] and g.traces == 2       # the first trace is kept
    assert current_tracer() is None


def test_without_the_guard_the_first_trace_is_replayed():
    # the behaviour the guard exists for: Python state read at trace time is frozen
    sw = Switch()
    g = qf.compile(lambda x: x * 2.0 if sw.double else x + 1.0, strict=True)
    x = qf.tensor([1.0])
    g(x)
    sw.double = True
    assert np.array_equal(g(x).numpy(), [2.0]) and g.traces == 1
