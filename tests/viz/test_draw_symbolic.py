"""qf.viz.draw on symbolic variables and compiled functions (qiflow.sym)."""
import numpy as np
import pytest

import qiflow as qf
from qiflow.viz import draw, have_graphviz

T = pytest.importorskip("qiflow.sym")
from .test_draw import parse, by_first_line  # noqa: E402


def article_graph():
    a = T.vector("a")
    return a, a + a ** 10          # seed 003: pydotprint of b, then of the compiled f


def test_variable_graph_as_written():
    a, b = article_graph()
    nodes, edges = parse(draw(b, format="dot").dot)
    assert len(nodes) == 3 and len(edges) == 3
    na, npow, nadd = (by_first_line(nodes, t) for t in ("a", "PowerScalar(p=10)", "Add"))
    assert nodes[na][0] == ["a", "(?,) float32"] and "#eeeeee" in nodes[na][1]
    assert "penwidth=2" in nodes[nadd][1]
    assert sorted(edges) == sorted([(na, npow, None), (na, nadd, None), (npow, nadd, None)])


def test_before_and_after_rewrites_side_by_side():
    a, b = article_graph()
    d = draw(b, format="dot", optimized=True)
    assert 'label="before rewrites (2 op nodes)"' in d.dot
    assert 'label="after rewrites (1 op node)"' in d.dot
    nodes, edges = parse(d.dot)
    assert len(nodes) == 5 and len(edges) == 4
    fused = by_first_line(nodes, "Fused")
    assert nodes[fused][0][2:] == ["i0 + (i0 ** 10)", "output"]
    assert "elemwise_fusion" in d.dot
    # the compiled function computes what the drawing says
    f = T.function([a], b)
    np.testing.assert_allclose(f([0.0, 1.0, 2.0]), [0.0, 2.0, 1026.0])
    df = draw(f, format="dot")
    assert 'label="after rewrites (1 op node)"' in df.dot and "Fused" in df.dot


def test_shared_constants_and_updates():
    state = T.shared(np.float64(0.0), name="state")
    inc = T.dscalar("inc")
    acc = T.function([inc], state * 2 + 3, updates=[(state, state + inc)])
    nodes, _ = parse(draw(acc, format="dot").dot)
    labels = [lines for lines, _ in nodes.values()]
    shared = [lines for lines in labels if lines[0] == "state"]
    assert shared and shared[0][-2:] == ["0", "shared"]
    assert any("update of state" in lines for lines in labels)
    assert any(lines[-1] == "output" for lines in labels)
    consts = sorted(lines[0] for lines, attr in nodes.values() if "plaintext" in attr)
    assert "3" in consts or any("Fused" in l[0] for l in labels)


def test_logistic_regression_graph_renders():
    x, y = T.dmatrix("x"), T.dvector("y")
    w = T.shared(np.zeros(5), name="w")
    b = T.shared(0.0, name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    cost = (-y * T.log(p_1) - (1 - y) * T.log(1 - p_1)).mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = T.function([x, y], cost, updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    g = draw(train, format="dot").graph
    assert any(n.title == "Fused" for n in g.nodes.values())
    assert {"update of w", "update of b", "output"} <= {s for n in g.nodes.values() for s in n.notes}
    if have_graphviz():
        svg = draw([cost, w - 0.1 * gw], format="svg", optimized=True).data
        assert "before rewrites" in svg and "after rewrites" in svg


def test_traced_function():
    def step(x, w):
        return qf.tanh(x @ w).sum()
    fast = qf.compile(step)
    with pytest.raises(qf.QiflowError, match="not been traced yet"):
        draw(fast, format="dot")
    x = qf.tensor(np.ones((4, 3), dtype="float32"))
    w = qf.tensor(np.full((3, 2), 0.5, dtype="float32"))
    assert float(fast(x, w)) == pytest.approx(step(x, w).item())
    d = draw(fast, format="dot").dot
    assert 'label="before rewrites (3 op nodes)"' in d and 'label="after rewrites' in d
    nodes, edges = parse(d)
    titles = sorted(lines[0] for lines, _ in nodes.values())
    assert titles == sorted(["MatMul", "Sum", "Tanh", "arg0", "arg1"] * 2)     # before and after
    assert [lines[1] for lines, _ in nodes.values() if lines[0] == "arg0"] == ["(4, 3) float32"] * 2


def test_compiled_function_keeps_its_graph_before_the_rewrites():
    x = T.dvector("x")
    w = T.shared(np.array([0.5, -1.0]), name="w")
    f = T.function([x], (T.log(1 + T.exp(x * w)) * 1.0).sum(), updates=[(w, w * 2.0)])
    ops = lambda outs: {n.op.name for n in T.graph.toposort(outs)}     # noqa: E731
    before, after = ops(f.unoptimized), ops(f.fgraph.outputs)
    assert {"Log", "Exp", "Multiply"} <= before and "Softplus" not in before   # not edited in place
    assert "Log" not in after
    assert len(f.unoptimized) == 2 and T.graph.toposort(f.unoptimized) and \
        len(T.graph.toposort(f.unoptimized)) == f.report.nodes_before
    # the kept graph computes what the function computes (same inputs and shared variables)
    g = T.function([f.inputs[0]], f.unoptimized, mode="no_rewrites")
    v = np.array([3.0, -2.0])
    got, new_w = g(v)
    np.testing.assert_allclose(f(v), got, rtol=1e-14)
    np.testing.assert_allclose(new_w, [1.0, -2.0])
    d = draw(f, format="dot")
    assert f'label="before rewrites ({f.report.nodes_before} op nodes)"' in d.dot
    assert "not kept" not in d.dot
    titles = [n.title for n in d.graph.nodes.values()]
    assert "Log" in titles and "Exp" in titles
