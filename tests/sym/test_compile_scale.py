"""Deep graphs compile with iterative passes (no RecursionError) and the rewrites
keep the value on them.  A correctness test, not a timing test (the figures are
in ``benchmarks/compile_time.py``)."""
import sys

import numpy as np
import pytest

from qiflow import sym as T
from qiflow.sym.fgraph import FunctionGraph


@pytest.fixture
def low_recursion_limit():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)        # far below the depth of the graphs below
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _chain(x, n):
    y = x
    for j in range(n):
        k = j % 3
        y = T.tanh(y) if k == 0 else (y * 0.5 if k == 1 else y + x)
    return y


def _chain_ref(xv, n):
    v, dv = xv.copy(), np.ones_like(xv)
    for j in range(n):
        k = j % 3
        if k == 0:
            v = np.tanh(v)
            dv = dv * (1 - v * v)
        elif k == 1:
            v, dv = v * 0.5, dv * 0.5
        else:
            v, dv = v + xv, dv + 1
    return v, dv


def test_chain_of_20k_ops_compiles_and_matches_numpy(low_recursion_limit):
    n = 20000
    x = T.dvector("x")
    y = _chain(x, n)
    f = T.function([x], y)
    assert f.report.nodes_before == n
    assert f.report.nodes_after < n // 10          # fused into kernels
    xv = np.linspace(-1.5, 1.5, 7)
    want, _ = _chain_ref(xv, n)
    np.testing.assert_allclose(f(xv), want, rtol=1e-12, atol=1e-12)


def test_rewritten_equals_unrewritten_on_a_deep_gradient(low_recursion_limit):
    n = 1500
    x = T.dvector("x")
    y = _chain(x, n)
    g = T.grad(y.sum(), x)
    fast = T.function([x], [y, g])
    naive = T.function([x], [y, g], mode="no_rewrites")
    assert fast.report.nodes_after < naive.report.nodes_after
    xv = np.linspace(-1.5, 1.5, 7)
    want_y, want_g = _chain_ref(xv, n)
    fy, fg = fast(xv)
    ny, ng = naive(xv)
    np.testing.assert_allclose(fy, ny, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fg, ng, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fg, want_g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fy, want_y, rtol=1e-12, atol=1e-12)


def test_replace_keeps_clients_consistent():
    """After replacing a variable used many times, every client entry points at a
    live use, the old nodes are gone and nothing else was dropped."""
    x = T.dvector("x")
    terms = [T.exp(x) * float(k) for k in range(50)]
    s = terms[0]
    for t in terms[1:]:
        s = s + t
    fg = FunctionGraph([s])
    ex = terms[0].owner.inputs[0]
    assert fg.n_clients(x) == 50                  # each exp(x) is its own node
    new = T.tanh(x)
    fg.replace(ex, new)
    assert fg.n_clients(ex) == 0
    assert fg.n_clients(new) == 1
    assert fg.n_clients(x) == 50                  # 49 exp(x) nodes and the new tanh(x)
    for vid, users in fg.clients.items():
        for (nid, pos), (node, p) in users.items():
            assert p == pos
            if node is None:
                assert id(fg.outputs[pos]) == vid
            else:
                assert nid == id(node) and id(node.inputs[pos]) == vid
    assert all(n.op.__class__.__name__ != "Exp" or n.outputs[0] is not ex for n in fg.toposort())
    assert len(fg.toposort()) == fg.n_nodes() == 50 + 49 + 49 + 1


# ------------------------------------------------------------ scaling of the passes
def _grad_fgraph(n):
    from qiflow.sym.fgraph import clone
    x = T.dvector("x")
    g = T.grad(_chain(x, n).sum(), x)
    (c,), _ = clone([g])
    return FunctionGraph([c])


def test_pass_work_per_node_does_not_grow_with_the_graph():
    """The rewrite passes' work (nodes visited, rewrites called, nodes the merge
    hashed) per node of the graph is the same at n and 4n: a pass that rescans the
    graph once per change, or a merge that rehashes every node on every pass,
    shows up here as a count, whatever the machine's load."""
    from qiflow.sym.rewrites import rewrite
    per_node = []
    for n in (300, 1200):
        fg = _grad_fgraph(n)
        r = rewrite(fg)
        assert r.nodes_after < r.nodes_before // 4
        per_node.append({k: r.work[k] / r.nodes_before for k in
                         ("local_visits", "rule_calls", "merge_visits")})
    small, big = per_node
    for k in small:
        assert big[k] < 1.25 * small[k], (k, small, big)
    # the merge looks at the whole graph once, then at the nodes changes touched
    # (hashing every node on each of the ~7 passes was over 2.6 per node here)
    assert big["merge_visits"] < 2.4, big
    # a node is looked at in about 4 sweeps, each calling a couple of rewrites
    assert big["local_visits"] < 6 and big["rule_calls"] < 12, big


def _wide_fgraph(n):
    """n/2 terms tanh(x * c_i) summed as a balanced tree: the fused kernels all read x."""
    x = T.dvector("x")
    terms = [T.tanh(x * (1.0 + 1e-3 * i)) for i in range(n // 2)]
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return FunctionGraph([terms[0]])


@pytest.mark.parametrize("kind,n", [("grad", 250), ("wide", 1000)])
def test_rewrite_time_grows_linearly(kind, n):
    """CPU time of the rewrites on a graph 8x larger is far below the 64x of a
    quadratic pass (the margin absorbs a loaded machine: linear would be 8x).  The
    wide graph caught a merge comparing every kernel that reads x with each other."""
    import time
    from qiflow.sym.rewrites import rewrite
    make = _grad_fgraph if kind == "grad" else _wide_fgraph

    from qiflow.sym.graph import gc_paused

    def cpu(n):
        fg = make(n)
        with gc_paused():          # as T.function runs them: the collector's walks of the
            t0 = time.process_time()   # whole process (here: the test session) are not theirs
            rewrite(fg)
            return time.process_time() - t0
    small = min(cpu(n) for _ in range(3))
    big = cpu(8 * n)
    assert big < 24 * small, (small, big)
