"""qf.detect_anomaly: the first op that makes a NaN/inf is named, with its shapes and the user's line."""
import inspect
import os

import numpy as np
import pytest

import qiflow as qf
from qiflow import anomaly as anomaly_mod
from qiflow.anomaly import is_anomaly_enabled
from qiflow.ops import base as _base
from qiflow.anomaly import AnomalyError, detect_anomaly

HERE = os.path.abspath(__file__)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _line():
    """The line number of the caller (so tests do not hard-code line numbers)."""
    return inspect.currentframe().f_back.f_lineno


def _assert_site(msg, lineno):
    assert f"{HERE}:{lineno}" in msg, msg


def test_forward_inf_names_op_shapes_and_line():
    x = qf.tensor(np.array([[1.0, 0.0, 2.0]]), requires_grad=True)
    with pytest.raises(AnomalyError) as e:
        with qf.detect_anomaly():
            line = _line(); qf.log(x)  # noqa: E702
    msg = str(e.value)
    assert "Log" in msg and "forward" in msg and "inf" in msg
    assert "float64[1, 3]" in msg
    assert "1 of 3 values" in msg
    _assert_site(msg, line)
    assert "qf.log(x)" in msg          # the source text of the line


def test_forward_nan_first_op_wins_and_later_ops_do_not_run():
    x = qf.tensor([4.0, -1.0], requires_grad=True)
    ran = []
    with pytest.raises(AnomalyError) as e:
        with qf.detect_anomaly():
            a = x * 2.0
            line = _line(); b = qf.sqrt(a)  # noqa: E702
            ran.append("after")
            (b * 3).sum()
    assert ran == []
    assert "Sqrt" in str(e.value) and "NaN" in str(e.value)
    _assert_site(str(e.value), line)


def test_forward_inf_minus_inf_is_a_new_nan():
    x = qf.tensor([np.inf, 1.0], requires_grad=True)
    with qf.detect_anomaly():
        y = x * 1.0                           # the inf came in through a leaf: not this op's doing
        with pytest.raises(AnomalyError, match="Subtract.*NaN"):
            y - y


def test_values_that_flow_through_are_not_blamed():
    # a -inf mask is a legitimate input; softmax over a partly masked row stays finite
    logits = qf.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    mask = qf.tensor([[0.0, -np.inf, 0.0]])
    with qf.detect_anomaly():
        p = qf.softmax(logits + mask, dim=-1)
        (p * qf.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    assert np.isfinite(logits.grad.numpy()).all()
    assert logits.grad.numpy()[0, 1] == 0.0


def test_backward_inf_names_op_and_creation_line():
    x = qf.tensor([1.0, 0.0], requires_grad=True)
    with qf.detect_anomaly():
        line = _line(); y = qf.sqrt(x)  # noqa: E702  (sqrt(0) = 0 is finite; its slope is not)
        loss = y.sum()
        with pytest.raises(AnomalyError) as e:
            loss.backward()
    msg = str(e.value)
    assert "backward of Sqrt" in msg and "inf" in msg and "input 0" in msg
    assert "float32[2]" in msg
    _assert_site(msg, line)


def test_backward_nan_in_composite_points_at_user_line_not_qiflow():
    # |x| ** 0.5 at 0: forward fine, gradient 0 * inf = NaN somewhere inside the composite
    x = qf.tensor([0.0, 1.0], requires_grad=True)
    with qf.detect_anomaly():
        line = _line(); y = qf.std(qf.stack([x, x]), axis=0)  # noqa: E702  (std of equal values: 0)
        with pytest.raises(AnomalyError) as e:
            y.sum().backward()
    msg = str(e.value)
    _assert_site(msg, line)
    assert "qiflow" + os.sep + "ops" not in msg.split("created at")[1]


def test_backward_with_create_graph_is_checked_too():
    x = qf.tensor([0.0, 4.0], requires_grad=True)
    with qf.detect_anomaly():
        y = (x ** 1.5).sum()
        (g,) = qf.grad(y, x, create_graph=True)      # 1.5 * sqrt(x): finite
        with pytest.raises(AnomalyError, match="inf"):
            qf.grad(g.sum(), x)                      # 0.75 / sqrt(x): inf at 0


def test_where_leak_is_caught_and_the_safe_pattern_passes():
    x = qf.tensor([-1.0, 2.0], requires_grad=True)
    with qf.detect_anomaly():
        with pytest.raises(AnomalyError, match="Log.*NaN"):
            qf.where(x > 0, qf.log(x), 0.0)
        safe = qf.where(x > 0, qf.log(qf.where(x > 0, x, 1.0)), 0.0)
        safe.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.5])


def test_finite_training_step_is_untouched():
    qf.manual_seed(0)
    w = qf.randn(3, 2, requires_grad=True)
    x = qf.randn(4, 3)
    with qf.detect_anomaly():
        loss = qf.log_softmax(x @ w, dim=-1).mean()
        loss.backward()
    g_on = w.grad.numpy().copy()
    w.grad = None
    qf.log_softmax(x @ w, dim=-1).mean().backward()
    np.testing.assert_array_equal(g_on, w.grad.numpy())


def test_off_by_default_and_zero_cost_when_off(monkeypatch):
    calls = []
    monkeypatch.setattr(anomaly_mod, "check_forward", lambda *a: calls.append(a))
    monkeypatch.setattr(anomaly_mod, "check_backward", lambda *a: calls.append(a))
    x = qf.tensor([1.0, 0.0], requires_grad=True)
    y = qf.log(x)                       # no error: anomaly mode is off
    (y * 0).sum().backward()
    assert calls == [] and not is_anomaly_enabled()
    assert _base._top is None           # no interpreter on the stack: nothing runs per op
    assert np.isinf(y.detach().numpy()[1])


def test_nesting_decorator_and_restore_after_error():
    assert not is_anomaly_enabled()
    with detect_anomaly():
        with detect_anomaly(False):
            assert not is_anomaly_enabled()
            qf.log(qf.tensor([0.0], requires_grad=True))      # off inside: no error
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()

    @detect_anomaly()
    def step(v):
        return qf.log(v)

    with pytest.raises(AnomalyError):
        step(qf.tensor([0.0], requires_grad=True))
    assert not is_anomaly_enabled() and _base._top is None   # restored although the body raised
    assert isinstance(qf.detect_anomaly(), detect_anomaly)


def test_error_is_a_floating_point_error():
    with pytest.raises(FloatingPointError):
        with qf.detect_anomaly():
            qf.tensor([1.0], requires_grad=True) / 0.0


def test_backward_of_node_made_while_off_still_raises_without_a_line():
    x = qf.tensor([0.0], requires_grad=True)
    y = qf.sqrt(x)
    with qf.detect_anomaly():
        with pytest.raises(AnomalyError, match="unknown line"):
            y.sum().backward()


def test_docstring_examples_run():
    import doctest
    import qiflow.anomaly as mod
    res = doctest.testmod(mod, extraglobs={"qf": qf}, report=False,
                          optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 4 and res.failed == 0


def test_symbolic_graphs_and_symbolic_grad_are_left_alone():
    T = pytest.importorskip("qiflow.sym")
    with qf.detect_anomaly():
        x = T.dvector("x")
        y = T.log(x)                      # symbolic: nothing is computed, nothing to check
        (g,) = T.grad(y.sum(), [x])
        f = T.function([x], [y, g])
    out = f([0.0, 1.0])
    assert out[0][0] == -np.inf and out[1][0] == np.inf


def test_overflow_inside_a_model_names_the_layer_op_and_the_call_site():
    from qiflow import nn
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with qf.no_grad():
        model[0].weight.fill_(3e38)                 # 3 * 3e38 overflows float32
    x = qf.ones((2, 3))
    with qf.detect_anomaly():
        with pytest.raises(AnomalyError) as e:
            line = _line(); model(x)  # noqa: E702
    msg = str(e.value)
    _assert_site(msg, line)                         # the user's call, not qiflow/nn internals
    assert "float32[2, 3]" in msg and "float32[4, 3]" in msg
    assert "inf" in msg


def test_python_numbers_are_shown_by_value():
    x = qf.tensor([1.0, 2.0], requires_grad=True)
    with qf.detect_anomaly():
        with pytest.raises(AnomalyError, match=r"1e\+308"):
            x * 1e308
