"""qiflow.profiler: per-op totals while active, the original methods when not."""
import numpy as np

import qiflow as qf
from qiflow.ops.linalg import MatMul
from qiflow.ops.elementwise import Equal, Tanh, Unary
from qiflow.profiler import profile


def test_totals_name_each_op_and_phase_and_count_calls():
    x = qf.tensor(np.ones((3, 3), np.float32), requires_grad=True)
    with profile() as prof:
        for _ in range(4):
            qf.tanh(x @ x).sum().backward()
    t = prof.totals()
    for key in [("MatMul", "forward"), ("MatMul", "backward"), ("Tanh", "forward"),
                ("Tanh", "backward"), ("Sum", "forward"), ("Sum", "backward")]:
        assert key in t, key
        assert t[key][1] == 4 and t[key][0] > 0
    # the ops a vjp calls are part of that vjp's time, not counted again as forwards
    assert t[("MatMul", "forward")][1] == 4
    assert 0 < prof.op_time() <= prof.wall
    table = prof.table(per=4)
    assert "MatMul" in table and "(outside ops: python)" in table


def test_no_class_is_patched_and_the_interpreter_is_popped_after_an_error():
    from qiflow.ops import base
    before = (MatMul.__dict__["forward"], MatMul.__dict__["vjp"], Tanh.__dict__["forward"],
              Unary.__dict__["vjp"], Equal.__dict__["forward"])
    try:
        with profile() as prof:
            assert base.current() is prof            # a mode is an interpreter, not a patch
            assert MatMul.__dict__["forward"] is before[0]
            raise KeyError("boom")
    except KeyError:
        pass
    after = (MatMul.__dict__["forward"], MatMul.__dict__["vjp"], Tanh.__dict__["forward"],
             Unary.__dict__["vjp"], Equal.__dict__["forward"])
    assert after == before and base._top is None


def test_static_forward_ops_are_timed_and_still_work():
    a = qf.tensor([1.0, 2.0])
    with profile() as prof:
        out = qf.eq(a, a)          # elementwise (qf.equal is one bool, as in PyTorch)
    assert out.tolist() == [True, True]
    assert ("Equal", "forward") in prof.totals()
