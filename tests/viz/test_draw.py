"""qf.viz.draw: DOT structure of known graphs, readability passes, rendering."""
import re
import shutil

import numpy as np
import pytest

import qiflow as qf
from qiflow._state import QiflowError
from qiflow.viz import draw, GraphvizUnavailable, have_graphviz, module_scopes

_NODE = re.compile(r'^\s*(n\d+) \[label="((?:[^"\\]|\\.)*)", ([^\]]*)\];$')
_EDGE = re.compile(r'^\s*(n\d+) -> (n\d+)(?: \[label="((?:[^"\\]|\\.)*)"\])?;$')


def parse(dot):
    """nodes: id -> (label lines, attribute text); edges: [(src, dst, label)]."""
    nodes, edges = {}, []
    for line in dot.splitlines():
        m = _NODE.match(line)
        if m:
            nodes[m.group(1)] = (m.group(2).split("\\n"), m.group(3))
            continue
        m = _EDGE.match(line)
        if m:
            edges.append((m.group(1), m.group(2), m.group(3)))
    return nodes, edges


def by_first_line(nodes, title):
    hits = [k for k, (lines, _) in nodes.items() if lines[0] == title]
    assert len(hits) == 1, (title, [v[0] for v in nodes.values()])
    return hits[0]


def seed001_graph():
    a = qf.tensor(2.0, requires_grad=True)
    b = qf.tensor(3.0, requires_grad=True)
    x = a * b
    z = x + x
    return a, b, x, z


def test_seed001_forward_structure():
    a, b, x, z = seed001_graph()
    d = draw(z, format="dot")
    nodes, edges = parse(d.dot)
    assert len(nodes) == 4 and len(edges) == 4
    assert d.graph.counts() == (4, 4)
    na, nb = by_first_line(nodes, "a"), by_first_line(nodes, "b")
    nx, nz = by_first_line(nodes, "Multiply"), by_first_line(nodes, "Add")
    assert nodes[nx][0] == ["Multiply", "x", "scalar float32", "6"]
    assert nodes[nz][0] == ["Add", "z", "scalar float32", "12"]
    assert "#cfe2f3" in nodes[na][1] and "#cfe2f3" in nodes[nb][1]      # leaves needing grad
    assert "penwidth=2" in nodes[nz][1] and "penwidth" not in nodes[nx][1]  # the root
    assert sorted(edges) == sorted([(na, nx, None), (nb, nx, None), (nx, nz, None), (nx, nz, None)])


def test_backward_graph_shows_gradients_and_accumulation():
    a, b, x, z = seed001_graph()
    d = draw(z, format="dot", backward=True)
    nodes, edges = parse(d.dot)
    assert len(nodes) == 10 and len(edges) == 10
    g = {lines[0]: lines for lines, _ in nodes.values()}
    assert g["\u2202z/\u2202a"][2] == "6" and g["\u2202z/\u2202b"][2] == "4"
    assert g["\u2202z/\u2202x"][2] == "2" and "sum of 2 contributions" in g["\u2202z/\u2202x"]
    assert g["\u2202z/\u2202z"][2:] == ["1", "seed"]
    add_b = by_first_line(nodes, "AddBackward")
    gx = by_first_line(nodes, "\u2202z/\u2202x")
    assert [e for e in edges if e[0] == add_b] == [(add_b, gx, None)] * 2
    assert "subgraph" in d.dot and 'label="forward"' in d.dot and 'label="backward"' in d.dot
    # drawing runs its own backward on a kept graph: .grad untouched, backward still possible
    assert a.grad is None
    z.backward()
    assert a.grad.item() == 6.0


def test_grads_inside_nodes_and_value_limit():
    x = qf.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    nodes, _ = parse(draw(y, format="dot", grads=True).dot)
    assert nodes[by_first_line(nodes, "x")][0][2:] == ["[1, 2, 3]", "grad [2, 4, 6]"]
    nodes, _ = parse(draw(y, format="dot", max_values=2).dot)
    assert nodes[by_first_line(nodes, "x")][0] == ["x", "(3,) float32"]


def test_constants_positions_and_names():
    u = qf.tensor([[1.0, 2.0]], requires_grad=True)
    v = 2.0 * u - 1
    w = qf.tensor([1.0, 1.0]).reshape(2, 1)
    w.name = "weights"
    out = (v @ w).sum()
    nodes, edges = parse(draw(out, format="dot", names={"loss": out}).dot)
    consts = sorted(lines[0] for lines, attr in nodes.values() if "plaintext" in attr)
    assert consts == ["1", "2"]
    sub = by_first_line(nodes, "Subtract")
    assert sorted(lab for s, dd, lab in edges if dd == sub) == ["0", "1"]
    mm = by_first_line(nodes, "MatMul")
    assert sorted(lab for s, dd, lab in edges if dd == mm) == ["0", "1"]
    mul = by_first_line(nodes, "Multiply")
    assert all(lab is None for s, dd, lab in edges if dd == mul)
    assert "loss" in nodes[by_first_line(nodes, "Sum")][0]
    assert by_first_line(nodes, "weights")                    # tensor.name wins
    assert "#eeeeee" in nodes[by_first_line(nodes, "weights")][1]   # no grad: grey
    nodes, _ = parse(draw(out, format="dot", names=False).dot)
    assert by_first_line(nodes, "leaf") and by_first_line(nodes, "weights")


def test_freed_graph_is_reported():
    a, b, x, z = seed001_graph()
    z.backward()
    nodes, _ = parse(draw(z, format="dot").dot)
    assert nodes[by_first_line(nodes, "Add")][0][-1] == "(inputs freed by backward)"
    with pytest.raises(QiflowError, match="retain_graph=True"):
        draw(z, format="dot", grads=True)


def test_bad_inputs():
    with pytest.raises(TypeError, match="cannot draw a dict"):
        draw({"a": 1}, format="dot")
    with pytest.raises(ValueError, match="format must be one of"):
        draw(qf.tensor(1.0), format="jpeg")


def _scalar_mlp(sizes=(3, 8, 8, 1)):
    xs = [qf.tensor(float(i)) for i in range(1, sizes[0] + 1)]
    for nin, nout in zip(sizes, sizes[1:]):
        W = [[qf.randn((), requires_grad=True) for _ in range(nout)] for _ in range(nin)]
        bs = [qf.randn((), requires_grad=True) for _ in range(nout)]
        outs = []
        for i in range(nout):
            o = bs[i]
            for j in range(nin):
                o = o + xs[j] * W[j][i]
            outs.append(o.relu())
        xs = outs
    return (xs[0] - 17.0) ** 2


def test_big_graph_collapses_and_keeps_every_node_counted():
    loss = _scalar_mlp()
    full = draw(loss, format="dot", collapse=False).graph
    assert len(full.nodes) > 300
    small = draw(loss, format="dot").graph
    assert len(small.nodes) < 60
    assert any("repeated" in n for n in small.notes)
    # merged (xN) nodes and folded blocks account for the hidden ones
    assert sum(n.count for n in small.nodes.values() if n.kind != "module") <= len(full.nodes)
    merged = [n for n in small.nodes.values() if n.count > 1]
    assert merged and all("\u00d7" in n.lines()[0] for n in merged)


def test_repeated_block_is_folded():
    W = qf.randn(4, 4, requires_grad=True)
    b = qf.zeros(4, requires_grad=True)
    h = qf.randn(2, 4)
    for _ in range(30):
        h = qf.tanh(h @ W + b)
    g = draw(h.sum(), format="dot").graph
    boxes = [n for n in g.nodes.values() if n.kind == "module"]
    assert len(boxes) == 1 and boxes[0].title == "28 \u00d7 [MatMul \u2192 Add \u2192 Tanh]"
    assert sum(1 for n in g.nodes.values() if n.title == "Tanh") == 2


def test_deep_chain_needs_no_recursion():
    x = qf.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    assert len(draw(y, format="dot", collapse=False).graph.nodes) == 1 + 5000 * 2   # op + const


class _Layer:
    """A stand-in with the Module protocol that module_scopes relies on."""

    def __init__(self, n):
        self.W = qf.randn(n, n, requires_grad=True)

    def named_modules(self):
        return [("", self)]

    def named_parameters(self):
        return [("W", self.W)]

    def forward(self, x):
        return qf.tanh(x @ self.W)

    def __call__(self, x):
        return self.forward(x)


class _Stack:
    def __init__(self, k):
        self.layers = [_Layer(3) for _ in range(k)]

    def named_modules(self):
        return [("", self)] + [(f"layers.{i}", m) for i, m in enumerate(self.layers)]

    def forward(self, x):
        for m in self.layers:
            x = m(x)
        return x

    def __call__(self, x):
        return self.forward(x)


def test_module_scopes_group_and_fold():
    net = _Stack(6)
    with module_scopes(net) as scopes:
        out = net(qf.ones((2, 3))).sum()
    assert "forward" not in vars(net.layers[0])          # patches removed afterwards
    g = draw(out, format="dot", scopes=scopes, collapse=False).graph
    assert {n.cluster for n in g.nodes.values()} == {()} | {("layers", str(i)) for i in range(6)}
    text = draw(out, format="dot", scopes=scopes, collapse=False).dot
    assert text.count("subgraph cluster_") == 7            # layers, and one box per layer
    folded = draw(out, format="dot", scopes=scopes, collapse=True).graph
    boxes = [n for n in folded.nodes.values() if n.kind == "module"]
    assert len(boxes) == 1 and boxes[0].title.startswith("layers.1 \u2026 layers.4: 4 \u00d7 like")
    assert {n.cluster for n in folded.nodes.values()} == {(), ("layers",), ("layers", "0"),
                                                           ("layers", "5")}


def test_module_scopes_with_qiflow_nn():
    nn = pytest.importorskip("qiflow.nn")
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    with module_scopes(net) as scopes:
        loss = net(qf.ones((5, 3))).sum()
    g = draw(loss, format="dot", scopes=scopes, collapse=False).graph
    clusters = {n.cluster for n in g.nodes.values()}
    assert ("0",) in clusters and ("2",) in clusters
    names = {n.title for n in g.nodes.values() if n.kind == "param"}
    assert {"net.0.weight", "net.0.bias"} <= names


# ------------------------------------------------------------------ rendering
needs_dot = pytest.mark.skipif(not have_graphviz(), reason="Graphviz `dot` is not installed")


@needs_dot
def test_svg_and_png(tmp_path):
    a, b, x, z = seed001_graph()
    svg = draw(z, format="svg", backward=True)
    assert svg.data.lstrip().startswith("<?xml") and "<svg" in svg.data
    assert svg.data.count('class="node"') == 10
    assert "MultiplyBackward" in svg.data
    p = tmp_path / "z.png"
    png = draw(z, path=str(p))                       # format from the suffix
    assert png.format == "png" and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png._repr_png_() == p.read_bytes()


@needs_dot
def test_big_graph_renders():
    d = draw(_scalar_mlp(), format="svg")
    assert d.data.count('class="node"') == len(d.graph.nodes)


def test_missing_graphviz_message(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(GraphvizUnavailable, match=r"apt-get install graphviz.*format='dot'"):
        draw(qf.tensor(1.0, requires_grad=True) * 2, format="svg")
    assert draw(qf.tensor(1.0, requires_grad=True) * 2, format="dot").dot.startswith("digraph")


def test_values_follow_dtype():
    x = qf.tensor(np.array([0.5, 1.5]), requires_grad=True)      # float64 stays float64
    nodes, _ = parse(draw(qf.exp(x).sum(), format="dot").dot)
    assert nodes[by_first_line(nodes, "Exp")][0][1:] == ["(2,) float64", "[1.649, 4.482]"]


def test_module_scopes_nested_nn_modules_and_hooks_removed():
    nn = pytest.importorskip("qiflow.nn")

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return qf.tanh(self.fc(x)) + x

    net = nn.Sequential(*[Block() for _ in range(5)])
    with module_scopes(net) as scopes:
        loss = net(qf.ones((2, 3))).sum()
    assert not net[0]._forward_hooks and not net[0]._forward_pre_hooks
    g = draw(loss, format="dot", scopes=scopes, collapse=False).graph
    clusters = {n.cluster for n in g.nodes.values()}
    assert ("0", "fc") in clusters and ("4", "fc") in clusters and ("0",) in clusters
    tanh = [n for n in g.nodes.values() if n.title == "Tanh"]
    assert sorted(n.cluster for n in tanh) == [(str(i),) for i in range(5)]
    folded = draw(loss, format="dot", scopes=scopes, collapse=True).graph
    assert [n.title for n in folded.nodes.values() if n.kind == "module"] == \
        ["1 \u2026 3: 3 \u00d7 like 0"]
