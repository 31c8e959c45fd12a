"""Symbolic graphs (``qiflow.sym``) as a ``VGraph``.

A variable is drawn as one node, like an eager tensor: made by an op it is a
box titled by the op; declared inputs are grey ellipses, shared variables blue
ones (with their current value when small), constants plain text.  A compiled
function is drawn as its graph before the rewrites and its optimised graph
side by side (Theano's ``pydotprint(b)`` next to ``pydotprint(f)``); a fused
elementwise kernel shows the expression it computes.
"""

from .. import sym as _sym_module
from ..sym.rewrites.fusion import Fused
from .graph import VGraph
from ._common import fmt_array, op_title


def _sym():
    return _sym_module


def is_compiled(obj):
    """A compiled function: has the optimised ``fgraph`` and its ``inputs``."""
    return hasattr(obj, "fgraph") and hasattr(obj, "inputs") and hasattr(obj, "report")


def symbolic_graph(obj, max_values=6, optimized=False):
    """VGraph of a symbolic variable (or list of them) or of a compiled function.

    ``optimized=True`` on variables compiles them (their free variables become
    the inputs) and draws the graph as written next to the optimised one.
    """
    traced = _traced_function(obj)
    if traced is not None:
        obj = traced
    if is_compiled(obj):
        return compiled_graph(obj, max_values)
    outs = list(obj) if isinstance(obj, (list, tuple)) else [obj]
    if optimized:
        sym = _sym()
        free = [v for v in sym.graph.leaves(outs)
                if not isinstance(v, (sym.Constant, sym.SharedVariable))]
        f = sym.function(free, outs if len(outs) > 1 else outs[0], on_unused_input="ignore")
        return compiled_graph(f, max_values, before=outs)
    g = VGraph()
    add_variables(g, outs, (), max_values, labels={id(o): None for o in outs})
    return g


def _traced_function(obj):
    """The compiled function behind ``qf.compile(fn)`` (its latest trace), or None."""
    cache = getattr(obj, "cache", None)
    if not isinstance(cache, dict) or not hasattr(obj, "traces"):
        return None
    entries = [e for e in cache.values() if not getattr(e, "eager", True) and hasattr(e, "fn")]
    if not entries:
        from .._state import QiflowError
        raise QiflowError(f"draw: {getattr(obj, '__name__', 'this compiled function')} has not been "
                          "traced yet (or ran eagerly); call it once, then draw it")
    return entries[-1].fn


def compiled_graph(f, max_values=6, before=None):
    """Before the rewrites (when known) and after, side by side."""
    g = VGraph()
    labels = _output_labels(f)
    before = before if before is not None else _before(f)
    rep = f.report
    if before is not None:
        g.cluster(("before",), f"before rewrites ({_nodes(rep.nodes_before)})")
        add_variables(g, before, ("before",), max_values,
                      labels={id(v): labels[k] for k, v in enumerate(before) if k < len(labels)})
    g.cluster(("after",), f"after rewrites ({_nodes(rep.nodes_after)})")
    outs = list(f.fgraph.outputs)
    add_variables(g, outs, ("after",), max_values,
                  labels={id(v): labels[k] for k, v in enumerate(outs) if k < len(labels)})
    fired = ", ".join(f"{k} \u00d7{v}" if v > 1 else k for k, v in sorted(rep.fired.items()))
    g.notes.append(f"rewrites fired: {fired or 'none'}")
    if before is None:
        g.notes.append("(the graph before the rewrites was not kept by this function; for "
                       "symbolic outputs, draw(outputs, optimized=True) shows both)")
    return g


def _nodes(n):
    return f"{n} op node" + ("" if n == 1 else "s")


def _before(f):
    """The output (and update) variables as written, if the compiled function kept them."""
    for attr in ("unoptimized", "before", "original_outputs"):
        v = getattr(f, attr, None)
        if v is not None:
            return list(v() if callable(v) else v)
    return None


def _output_labels(f):
    n = getattr(f, "n_outputs", len(getattr(f, "outputs", ())))
    labels = [f"output {k}" if n > 1 else "output" for k in range(n)]
    for target in getattr(f, "update_targets", ()):
        labels.append(f"update of {target!r}")
    return labels


def add_variables(g, outputs, cluster, max_values, labels=None):
    """Add the graph of ``outputs`` to ``g`` inside ``cluster``; returns id(var) -> node id."""
    sym = _sym()
    labels = labels or {}
    order = sym.graph.toposort(outputs)
    leaves = sym.graph.ordered_leaves(order, outputs)
    ids = {}
    for v in leaves:
        ids[id(v)] = _leaf(g, v, cluster, max_values, sym)
    for node in order:
        out = node.outputs[0]
        title = op_title(node.op)
        notes = []
        if isinstance(node.op, Fused):
            title = "Fused"
            notes.append(fused_expression(node.op))
        nid = g.add("op", title, name=out.name, shape=out.type.shape, dtype=out.type.dtype,
                    cluster=cluster, notes=notes)
        ids[id(out)] = nid
        positional = len(node.inputs) > 1 and not node.op.commutative
        for k, v in enumerate(node.inputs):
            g.edge(ids[id(v)], nid, str(k) if positional else None)
    for v in outputs:
        n = g.nodes[ids[id(v)]]
        n.root = True
        if labels.get(id(v)):
            n.notes.append(labels[id(v)])
    return ids


def _leaf(g, v, cluster, max_values, sym):
    t = v.type
    if isinstance(v, sym.Constant):
        text = fmt_array(v.data, max_values)
        return g.add("const", text if text is not None else f"constant {tuple(v.data.shape)}",
                     cluster=cluster)
    if isinstance(v, sym.SharedVariable):
        try:
            value = fmt_array(v.get_value(), max_values)
        except Exception:
            value = None
        return g.add("param", v.name or "shared", shape=t.shape, dtype=t.dtype, value=value,
                     cluster=cluster, notes=["shared"])
    return g.add("input", v.name or "input", shape=t.shape, dtype=t.dtype, cluster=cluster)


def fused_expression(op, limit=80):
    """The expression a ``Fused`` kernel computes, over its inputs i0, i1, ..."""
    text = op.format([f"i{k}" for k in range(len(op.in_types))])
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"
