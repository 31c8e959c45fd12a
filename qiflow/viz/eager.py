"""Turn an eager tensor's recorded graph into a ``VGraph``.

The tensor is the node: each op-made tensor becomes an op box (op, shape,
dtype, small values), leaves become ellipses (blue when they require a
gradient), and Python numbers or arrays used as inputs become plain text.
With ``backward=True`` the mirrored backward graph is drawn beside it: one
``<Op>Backward`` box per op and one gradient node per tensor, with the
gradient values, so accumulation (``z = x + x``) is visible as two arrows.
"""
import numpy as np

from ..tensor import Tensor
from .graph import VGraph
from ._common import (topo_order, check_not_freed, display_name, fmt_array,
                      fmt_const, op_title)


def node_gradients(roots, order):
    """id(tensor) -> ndarray dL/dtensor for every tensor in ``order`` that requires grad.

    Non-scalar roots are seeded with ones (the gradient of their sum).  The
    graph is kept (``retain_graph``) and no ``.grad`` is touched.
    """
    from ..autodiff import grad
    targets = [t for t in order if t.requires_grad]
    live = [r for r in roots if r.requires_grad]
    if not targets or not live:
        return {}
    seeds = [Tensor(np.ones_like(r._data)) for r in live]
    gs = grad(live, targets, grad_outputs=seeds, retain_graph=True, allow_unused=True)
    return {id(t): g._data for t, g in zip(targets, gs) if g is not None}


def eager_graph(roots, names, scopes=None, grads=False, backward=False, max_values=6):
    """Build the VGraph of ``roots`` (a list of Tensors); see ``qf.viz.draw``."""
    order = topo_order(roots)
    if grads or backward:
        check_not_freed(order, "draw(grads=True)")
    gvals = node_gradients(roots, order) if (grads or backward) else {}
    g = VGraph()
    fwd = ("forward",) if backward else ()
    if backward:
        g.cluster(fwd, "forward")
    ids = {}
    rootset = {id(r) for r in roots}
    auto = {}

    def where(t):
        path = scopes.path_of(t) if scopes is not None else ()
        return fwd + tuple(path)

    def label_name(t):
        name = display_name(t, names)
        if name is None and t._op is None:
            auto.setdefault(id(t), f"t{len(auto)}")
        return name

    for t in order:
        name = label_name(t)
        value = fmt_array(t._data, max_values)
        gv = gvals.get(id(t))
        gtext = fmt_array(gv, max_values) if (grads and gv is not None) else None
        if t._op is not None:
            nid = g.add("op", op_title(t._op), name=name, shape=t.shape, dtype=t.dtype,
                        value=value, grad=gtext, cluster=where(t))
            if t._inputs is None:
                g.nodes[nid].notes.append("(inputs freed by backward)")
        else:
            kind = "param" if t.requires_grad else "input"
            title = name or ("leaf" if t.requires_grad else "tensor")
            nid = g.add(kind, title, shape=t.shape, dtype=t.dtype, value=value, grad=gtext,
                        cluster=where(t))
        g.nodes[nid].root = id(t) in rootset
        ids[id(t)] = nid
        if t._op is not None and t._inputs:
            _input_edges(g, t, ids, nid, where(t))
    if scopes is not None:
        for path in list(g.clusters):
            title = getattr(scopes, "titles", {}).get(path[len(fwd):])
            if title:
                g.clusters[path] = title
    if backward:
        _backward_graph(g, order, roots, ids, gvals, names, max_values)
    return g


def _input_edges(g, t, ids, nid, cluster):
    ins = t._inputs
    positional = len(ins) > 1 and not t._op.commutative
    for k, inp in enumerate(ins):
        lab = str(k) if positional else None
        if isinstance(inp, Tensor):
            g.edge(ids[id(inp)], nid, lab)
        elif inp is not None:
            g.edge(g.add("const", fmt_const(inp), cluster=cluster), nid, lab)


def _backward_graph(g, order, roots, ids, gvals, names, max_values):
    bwd = ("backward",)
    g.cluster(bwd, "backward")
    root_name = display_name(roots[0], names) or "L"
    if len(roots) > 1 or roots[0].numel() != 1:
        root_name = "L"
        g.notes.append("L = sum of the drawn outputs")
    gnode = {}
    for t in reversed(order):
        if not t.requires_grad or id(t) not in gvals:
            continue
        name = display_name(t, names)
        title = (f"\u2202{root_name}/\u2202{name}" if name else
                 f"\u2202{root_name}/\u2202({t._op.name if t._op is not None else 'leaf'})")
        gnode[id(t)] = g.add("grad", title, shape=t.shape, dtype=t.dtype,
                             value=fmt_array(gvals[id(t)], max_values), cluster=bwd)
    incoming = {}
    for t in reversed(order):
        if t._op is None or id(t) not in gnode or not t._inputs:
            continue
        targets = [(k, i) for k, i in enumerate(t._inputs)
                   if isinstance(i, Tensor) and id(i) in gnode]
        if not targets:
            continue
        b = g.add("gradop", f"{t._op.name}Backward", cluster=bwd)
        g.edge(gnode[id(t)], b)
        positional = len(t._inputs) > 1 and not t._op.commutative
        for k, i in targets:
            g.edge(b, gnode[id(i)], str(k) if positional else None)
            incoming[id(i)] = incoming.get(id(i), 0) + 1
    for tid, n in incoming.items():
        if n > 1:
            g.nodes[gnode[tid]].notes.append(f"sum of {n} contributions")
    for r in roots:
        if id(r) in gnode:
            g.nodes[gnode[id(r)]].notes.append("seed")
