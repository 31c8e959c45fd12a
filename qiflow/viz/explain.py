"""``qf.viz.explain(loss)``: the chain rule, one node at a time.

For a small eager graph this lists the forward pass in topological order and
then walks the backward pass in reverse order.  At each op node it shows the
incoming gradient dL/dnode, each input's local derivative d node/d input
(a formula and its value: elementwise values, or the Jacobian when it is
small), the contribution the op sends to that input, and the input's gradient
accumulated so far.  The numbers come from the ops' own vjps (re-applied on
copies of the inputs), and the totals are checked against ``qf.grad``.

>>> a = qf.tensor(2.0, requires_grad=True); b = qf.tensor(3.0, requires_grad=True)
>>> x = a * b; z = x + x
>>> e = qf.viz.explain(z)
>>> e.grad("a"), e.grad("b"), e.grad("x")
(6.0, 4.0, 2.0)
"""
import sys

import numpy as np

from .._state import QiflowError
from ..ops.base import apply
from ..tensor import Tensor
from ._common import (as_roots, topo_order, check_not_freed, resolve_names, display_name,
                      fmt_array, fmt_const, op_title, num)
from .eager import node_gradients
from . import explain_render as _render

_BROADCASTING = {"Add", "Subtract", "Multiply", "Divide", "Power", "Maximum", "Minimum", "Where",
                 "Mod"}
_INFIX = {"Add": "+", "Subtract": "-", "Multiply": "*", "Divide": "/", "MatMul": "@",
          "Power": "**"}


class InputStep:
    """What one op sends to one of its inputs during the backward sweep."""

    def __init__(self, position, name, needs_grad, formula=None, local=None, local_kind=None,
                 contribution=None, accumulated=None, note=None):
        self.position, self.name, self.needs_grad = position, name, needs_grad
        self.formula = formula              # the local derivative as a formula (text)
        self.local = local                  # its value: ndarray, or None when too big
        self.local_kind = local_kind        # "scalar", "elementwise" or "jacobian"
        self.contribution = contribution    # ndarray (input's shape)
        self.accumulated = accumulated      # ndarray: the input's gradient so far
        self.note = note


class Step:
    """One op node of the backward sweep."""

    def __init__(self, index, name, op, expr, value, incoming, inputs):
        self.index, self.name, self.op, self.expr = index, name, op, expr
        self.value, self.incoming, self.inputs = value, incoming, inputs


class Explanation:
    """The result of ``explain``: ``forward`` rows, backward ``steps`` and ``grads``.

    ``str(e)`` is the text account, ``e.to_html()`` a self-contained page,
    ``e.save("chain.html")`` writes it, ``e.grad("a")`` one final gradient.
    """

    def __init__(self, root, forward, steps, grads, consistent, graph_svg=None, graph_dot=None):
        self.root, self.forward, self.steps, self.grads = root, forward, steps, grads
        self.consistent = consistent
        self.graph_svg, self.graph_dot = graph_svg, graph_dot
        self.max_values = 12

    def grad(self, name):
        """The final gradient of the tensor called ``name`` (a float when it has one element)."""
        if name not in self.grads:
            raise KeyError(f"explain: no gradient for {name!r}; known: {sorted(self.grads)}")
        g = self.grads[name]
        return float(g) if g.size == 1 else g

    def summary(self):
        """``dL/da = 6, dL/db = 4`` for the leaves that require a gradient."""
        leaves = [r["name"] for r in self.forward if r["kind"] == "param" and r["name"] in self.grads]
        return ", ".join(f"d{self.root}/d{n} = {_short(self.grads[n], self.max_values)}"
                         for n in leaves)

    def text(self):
        return _render.text(self)

    __str__ = text

    def __repr__(self):
        return f"<Explanation of {self.root}: {len(self.forward)} nodes, {len(self.steps)} steps>"

    def to_html(self, title=None):
        return _render.html_page(self, title)

    def save(self, path, title=None):
        """Write the HTML page (or the text, for a ``.txt`` path); returns the path."""
        body = self.text() if str(path).endswith(".txt") else self.to_html(title)
        with open(path, "w", encoding="utf-8") as f:
            f.write(body)
        return path

    def _repr_html_(self):
        return self.to_html()


def _short(a, max_values):
    s = fmt_array(a, max_values)
    return " ".join(s.split()) if s is not None else f"<array of shape {tuple(np.shape(a))}>"


def explain(loss, names=None, max_nodes=100, max_jacobian=64, graph=True):
    """Explain, node by node, how backward computes the gradients of ``loss``.

    ``loss`` is an eager Tensor that requires grad (non-scalar outputs are
    seeded with ones).  Tensors are named from ``tensor.name``, ``names``
    (``{name: tensor}``) or the caller's variables, else ``v0, v1, ...``.
    Nothing is accumulated into ``.grad`` and the graph is kept.
    ``graph=True`` embeds a drawing of the graph in the HTML page when
    Graphviz is installed (the DOT text otherwise).
    """
    (root,) = as_roots(loss, "explain")
    if not root.requires_grad:
        raise QiflowError("explain: this tensor does not require grad, so there is no backward "
                          "pass to explain (make a leaf with requires_grad=True)")
    order = topo_order([root])
    check_not_freed(order, "explain")
    if len(order) > max_nodes:
        raise QiflowError(f"explain: the graph has {len(order)} nodes; the explainer is for small "
                          f"graphs (max_nodes={max_nodes}); use qf.viz.draw for big ones")
    frame = sys._getframe(1) if names is not False else None
    known = resolve_names(names, frame)
    del frame
    name = {}
    used = set()
    for t in order:
        n = display_name(t, known)
        if n is None or n in used:
            k = len(used)
            while f"v{k}" in used:
                k += 1
            n = f"v{k}"
        name[id(t)] = n
        used.add(n)
    gvals = node_gradients([root], order)
    forward = [_forward_row(t, name) for t in order]
    steps, acc = [], {}
    for t in reversed(order):
        if t._op is None or id(t) not in gvals:
            continue
        steps.append(_step(len(steps) + 1, t, name, gvals[id(t)], acc, max_jacobian))
    consistent = all(np.allclose(acc[k], gvals[k], rtol=1e-4, atol=1e-6) for k in acc if k in gvals)
    grads = {name[id(t)]: np.asarray(gvals[id(t)]) for t in order if id(t) in gvals}
    svg = dot_text = None
    if graph:
        from .draw import draw
        from .dot import have_graphviz
        kw = dict(backward=True, names={name[id(t)]: t for t in order}, collapse=False)
        d = draw(root, format="svg" if have_graphviz() else "dot", **kw)
        svg = d.data if d.format == "svg" else None
        dot_text = d.dot
    return Explanation(name[id(root)], forward, steps, grads, consistent, svg, dot_text)


def _arg(x, name):
    return name[id(x)] if isinstance(x, Tensor) else fmt_const(x)


def _expr(t, name):
    op, ins = t._op, t._inputs
    args = [_arg(i, name) for i in ins]
    if op.name in _INFIX and len(args) == 2:
        return f"{args[0]} {_INFIX[op.name]} {args[1]}"
    if op.name == "Negative":
        return f"-{args[0]}"
    if op.name == "PowerScalar":
        return f"{args[0]} ** {num(op.p)}"
    return f"{op_title(op)}({', '.join(args)})"


def _forward_row(t, name):
    if t._op is None:
        kind = "param" if t.requires_grad else "input"
        expr = None
    else:
        kind, expr = "op", _expr(t, name)
    return {"name": name[id(t)], "kind": kind, "expr": expr, "value": t._data,
            "shape": t.shape, "dtype": str(t.dtype), "op": t._op.name if t._op else None}


def formula(op, ins, out, position):
    """The local derivative d out / d ins[position] of ``op``, as a formula."""
    a = ins[0]
    b = ins[1] if len(ins) > 1 else None
    n = op.name
    if n == "PowerScalar":
        p = op.p
        return f"{num(p)}\u00b7{a}" if p == 2 else f"{num(p)}\u00b7{a}^{num(p - 1)}"
    table = {
        "Add": ("1", "1"), "Subtract": ("1", "-1"), "Multiply": (b, a),
        "Divide": (f"1/{b}", f"-{a}/{b}\u00b2"), "Negative": ("-1",),
        "Power": (f"{b}\u00b7{a}^({b} - 1)", f"{out}\u00b7ln({a})"),
        "Exp": (f"exp({a}) = {out}",), "Log": (f"1/{a}",), "Log1p": (f"1/(1 + {a})",),
        "Expm1": (f"{out} + 1",), "Sqrt": (f"1/(2\u00b7{out})",), "Square": (f"2\u00b7{a}",),
        "Abs": (f"sign({a})",), "Sin": (f"cos({a})",), "Cos": (f"-sin({a})",),
        "Tanh": (f"1 - {out}\u00b2",), "Sigmoid": (f"{out}\u00b7(1 - {out})",),
        "Softplus": (f"sigmoid({a})",), "Relu": (f"1 where {a} > 0, else 0",),
        "Maximum": (f"1 where {a} > {b}", f"1 where {b} > {a}"),
        "Minimum": (f"1 where {a} < {b}", f"1 where {b} < {a}"),
        "Where": ("none (condition)", "1 where the condition holds", "1 where it does not"),
        "Sum": ("1 for every summed element",), "Mean": ("1/n for every averaged element",),
        "Max": ("1 at the maximum (shared on ties)",), "Min": ("1 at the minimum (shared on ties)",),
        "MatMul": (f"grad @ {b}\u1d40 (vjp)", f"{a}\u1d40 @ grad (vjp)"),
        "Linear": (f"grad @ {b} (vjp)", f"grad\u1d40 @ {a} (vjp)", "1, summed over the batch"),
        "Cast": ("1 (cast back)",), "GetItem": ("1 at the selected elements",),
        "Reshape": ("1 (reshaped back)",), "Transpose": ("1 (transposed back)",),
        "ExpandDims": ("1 (axis removed)",), "Squeeze": ("1 (axis restored)",),
        "BroadcastTo": ("1, summed over the broadcast axes",),
    }
    row = table.get(n)
    if row is None or position >= len(row):
        return f"from {n}.vjp"
    return row[position]


def _local_jacobian(t, positions, max_jacobian):
    """Jacobian blocks (out.size x in.size) of the op at ``t`` for inputs at ``positions``."""
    from ..autodiff import grad
    copies = [Tensor(np.array(i._data), requires_grad=(k in positions)) if isinstance(i, Tensor)
              else i for k, i in enumerate(t._inputs)]
    out = apply(t._op, *copies)
    leaves = [copies[k] for k in positions]
    if not out.requires_grad:
        return out, copies, {}
    jac = {}
    size = out._data.size
    small = [k for k in positions if size * np.size(t._inputs[k]._data) <= max_jacobian]
    if small:
        rows = {k: [] for k in small}
        for r in range(size):
            # a fresh seed each time: a vjp may hand the seed itself back (Add does)
            seed = np.zeros(size, dtype=out._data.dtype)
            seed[r] = 1
            gs = grad(out, [copies[k] for k in small], grad_outputs=Tensor(seed.reshape(out.shape)),
                      retain_graph=True, allow_unused=True)
            for k, gk in zip(small, gs):
                z = np.zeros(np.shape(t._inputs[k]._data)) if gk is None else gk._data
                rows[k].append(np.array(z, dtype=float).ravel())
        jac = {k: np.array(v) for k, v in rows.items()}
    del leaves
    return out, copies, jac


def _step(index, t, name, incoming, acc, max_jacobian):
    from ..autodiff import grad
    ins = t._inputs
    positions = [k for k, i in enumerate(ins) if isinstance(i, Tensor) and i.requires_grad]
    out, copies, jac = _local_jacobian(t, positions, max_jacobian)
    contribs = {}
    if positions and out.requires_grad:
        gs = grad(out, [copies[k] for k in positions], grad_outputs=Tensor(np.array(incoming)),
                  retain_graph=False, allow_unused=True)
        contribs = {k: (np.zeros(np.shape(ins[k]._data)) if g is None else np.array(g._data))
                    for k, g in zip(positions, gs)}
    in_names = [_arg(i, name) for i in ins]
    rows = []
    for k, inp in enumerate(ins):
        if not isinstance(inp, Tensor):
            continue
        nm = name[id(inp)]
        if k not in positions:
            rows.append(InputStep(k, nm, False, note="does not require grad: no gradient"))
            continue
        f = formula(t._op, in_names, name[id(t)], k)
        local, kind = _local_value(jac.get(k), t._data.shape, np.shape(inp._data))
        c = contribs[k]
        prev = acc.get(id(inp))
        acc[id(inp)] = c.copy() if prev is None else prev + c
        note = None
        if (t._op.name in _BROADCASTING and np.shape(inp._data) != t._data.shape) or \
                (t._op.name == "Linear" and k == 2 and t._data.ndim > 1):
            note = "summed over the broadcast axes"
        rows.append(InputStep(k, nm, True, f, local, kind, c, acc[id(inp)].copy(), note))
    return Step(index, name[id(t)], op_title(t._op), _expr(t, name), t._data,
                np.asarray(incoming), rows)


def _local_value(j, out_shape, in_shape):
    if j is None:
        return None, None
    if j.size == 1:
        return j.reshape(()), "scalar"
    if j.shape[0] == j.shape[1] and tuple(out_shape) == tuple(in_shape) and \
            np.count_nonzero(j - np.diag(np.diag(j))) == 0:
        return np.diag(j).reshape(in_shape), "elementwise"
    return j, "jacobian"
