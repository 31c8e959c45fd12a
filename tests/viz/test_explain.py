"""qf.viz.explain: every number against derivatives computed by hand."""
import html.parser
import math
import shutil

import numpy as np
import pytest

import qiflow as qf
from qiflow._state import QiflowError
from qiflow.viz import explain


def five_node_graph():
    """x, y (leaves) -> u = x * y -> v = tanh(u) -> L = v + x."""
    x = qf.tensor(0.5, dtype="float64", requires_grad=True)
    y = qf.tensor(-1.5, dtype="float64", requires_grad=True)
    u = x * y
    v = qf.tanh(u)
    L = v + x
    return x, y, u, v, L


def test_five_node_graph_by_hand():
    x, y, u, v, L = five_node_graph()
    e = explain(L)
    assert [r["name"] for r in e.forward] == ["x", "y", "u", "v", "L"]
    assert [r["expr"] for r in e.forward] == [None, None, "x * y", "tanh(u)", "v + x"]
    assert [s.name for s in e.steps] == ["L", "v", "u"]     # reverse topological order
    t = math.tanh(0.5 * -1.5)
    dt = 1 - t * t
    s1, s2, s3 = e.steps
    # step 1: L = v + x, seed 1, both local derivatives 1
    assert s1.incoming == 1.0
    assert [(r.name, float(r.local), float(r.contribution), float(r.accumulated)) for r in s1.inputs] \
        == [("v", 1.0, 1.0, 1.0), ("x", 1.0, 1.0, 1.0)]
    # step 2: v = tanh(u): local 1 - v^2
    assert s2.incoming == pytest.approx(1.0)
    (r,) = s2.inputs
    assert r.formula == "1 - v\u00b2"
    assert float(r.local) == pytest.approx(dt) and float(r.accumulated) == pytest.approx(dt)
    # step 3: u = x * y: locals y and x; x already holds 1 from step 1
    assert float(s3.incoming) == pytest.approx(dt)
    rx, ry = s3.inputs
    assert (rx.formula, ry.formula) == ("y", "x")
    assert float(rx.local) == -1.5 and float(ry.local) == 0.5
    assert float(rx.contribution) == pytest.approx(dt * -1.5)
    assert float(rx.accumulated) == pytest.approx(1 + dt * -1.5)
    assert float(ry.accumulated) == pytest.approx(dt * 0.5)
    assert e.grad("x") == pytest.approx(1 - 1.5 * dt) and e.grad("y") == pytest.approx(0.5 * dt)
    assert e.consistent
    assert x.grad is None and y.grad is None                 # nothing accumulated on leaves
    L.backward()                                             # the graph was kept
    assert x.grad.item() == pytest.approx(1 - 1.5 * dt)


def test_text_account():
    x, y, u, v, L = five_node_graph()
    text = str(explain(L))
    lines = text.splitlines()
    assert lines[0] == "Chain rule for L: 5 nodes, 3 backward steps"
    assert "  u = x * y = -0.75" in lines
    assert "[2] v = tanh(u)    incoming dL/dv = 1" in lines
    assert any(line.strip() == "accumulated dL/dx = 1" for line in lines)
    dt = 1 - math.tanh(-0.75) ** 2
    assert lines[-1] == f"Result: dL/dx = {1 - 1.5 * dt:.4g}, dL/dy = {0.5 * dt:.4g}"
    assert lines[-1] == "Result: dL/dx = 0.1051, dL/dy = 0.2983"


def test_seed001_accumulation_and_seed002_stop_gradient():
    a = qf.tensor(2.0, requires_grad=True)
    b = qf.tensor(3.0, requires_grad=True)
    x = a * b
    z = x + x
    e = explain(z)
    (s1, s2) = e.steps
    assert [float(r.accumulated) for r in s1.inputs] == [1.0, 2.0]       # x.grad += ... twice
    assert (e.grad("a"), e.grad("b"), e.grad("x")) == (6.0, 4.0, 2.0)
    assert e.summary() == "dz/da = 6, dz/db = 4"
    a = qf.tensor(2.0, requires_grad=True)
    b = qf.tensor(5.0)                                        # stop_gradient=True in Paddle
    c = a * b
    e = explain(c)
    ra, rb = e.steps[0].inputs
    assert float(ra.contribution) == 5.0 and not rb.needs_grad
    assert "does not require grad" in rb.note
    assert e.grad("a") == 5.0 and "b" not in e.grads


def test_elementwise_jacobian_and_broadcast():
    w = qf.tensor([0.0, 1.0, -2.0], dtype="float64", requires_grad=True)
    b = qf.tensor(0.5, dtype="float64", requires_grad=True)
    s = qf.sigmoid(w + b)
    M = qf.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype="float64", requires_grad=True)
    out = (s @ M).sum()
    e = explain(out)
    steps = {st.name: st for st in e.steps}
    sig = 1 / (1 + np.exp(-(np.array([0.0, 1.0, -2.0]) + 0.5)))
    (r,) = steps["s"].inputs
    assert r.local_kind == "elementwise"
    np.testing.assert_allclose(r.local, sig * (1 - sig))
    add = next(st for st in e.steps if st.expr == "w + b")
    rw, rb = add.inputs
    assert rw.local_kind == "elementwise" and rb.local_kind == "jacobian"
    assert rb.local.shape == (3, 1) and rb.note == "summed over the broadcast axes"
    np.testing.assert_allclose(float(rb.contribution), rw.contribution.sum())
    mm = next(st for st in e.steps if st.op == "MatMul")
    rA, rM = mm.inputs
    assert rM.local_kind == "jacobian" and rM.local.shape == (2, 6)
    np.testing.assert_allclose(e.grads["M"], np.outer(sig, [1.0, 1.0]))
    np.testing.assert_allclose(e.grads["w"], sig * (1 - sig) * np.array([3.0, 7.0, 11.0]))  # row sums of M
    np.testing.assert_allclose(e.grads["b"], (sig * (1 - sig) * np.array([3.0, 7.0, 11.0])).sum())


def test_errors():
    with pytest.raises(QiflowError, match="does not require grad"):
        explain(qf.tensor(1.0) * 2)
    x = qf.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(150):
        y = y * 1.01
    with pytest.raises(QiflowError, match="max_nodes=100"):
        explain(y)
    z = x * 3
    z.backward()
    with pytest.raises(QiflowError, match="freed"):
        explain(z)


class _Checker(html.parser.HTMLParser):
    VOID = {"meta", "br", "link", "img", "input", "hr", "path", "polygon", "ellipse", "polyline",
            "text", "title", "g", "svg", "defs", "style"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href") and v and v.startswith(("http:", "https:", "//")):
                self.errors.append(f"external resource {v}")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def test_html_page_is_self_contained_and_balanced(tmp_path):
    x, y, u, v, L = five_node_graph()
    e = explain(L)
    page = e.to_html()
    c = _Checker()
    c.feed(page)
    assert not c.errors and not c.stack
    assert page.count('class="step"') == 3
    assert "&part;L/&part;x" in page and "<script>" in page
    if qf.viz.have_graphviz():
        assert "<svg" in page and "TanhBackward" in page
    else:
        assert "DOT source" in page
    p = e.save(str(tmp_path / "chain.html"))
    assert open(p, encoding="utf-8").read() == page
    assert e.save(str(tmp_path / "chain.txt")).endswith(".txt")
    assert (tmp_path / "chain.txt").read_text(encoding="utf-8") == e.text()


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium installed")
def test_html_page_loads_in_headless_chromium(tmp_path):
    import subprocess
    x, y, u, v, L = five_node_graph()
    page = explain(L).to_html()
    page = page.replace('<meta charset="utf-8">', '<meta charset="utf-8"><script>window.onerror='
                        "function(m){document.title='JSERROR '+m};</script>", 1)
    page = page.replace("</body>", "<script>document.getElementById('next').click();"
                        "document.title+=' OK '+document.querySelectorAll('.step.current').length;"
                        "</script></body>")
    p = tmp_path / "chain.html"
    p.write_text(page, encoding="utf-8")
    out = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          p.as_uri()], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-500:]
    title = out.stdout.split("<title>")[1].split("</title>")[0]
    assert "JSERROR" not in title and title.endswith(" OK 1")
