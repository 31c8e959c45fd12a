"""Seeing the graph: ``pp`` (an infix formula) and ``debugprint`` (a tree with ids).

>>> from qiflow import sym as T
>>> x = T.dscalar('x')
>>> T.pp(x ** 2 + 1)
'((x ** 2) + TensorConstant{1.0})'
"""
import sys

from .graph import Constant, Variable


def _leaf(v):
    if isinstance(v, Constant) or v.name is not None:
        return repr(v)
    return f"<{v.type}>"


def _fmt(node, args):
    """The node as text: its op says how it prints (``Op.format``)."""
    return node.op.format(list(args))


def pp(var):
    """A readable infix formula of ``var``'s graph (shared subexpressions repeat)."""
    if not isinstance(var, Variable):
        raise TypeError(f"pp: expected a symbolic variable, got {type(var).__name__}")
    memo = {}
    stack = [(var, False)]
    while stack:
        v, ready = stack.pop()
        if id(v) in memo:
            continue
        node = v.owner
        if node is None:
            memo[id(v)] = _leaf(v)
            continue
        if not ready:
            stack.append((v, True))
            stack.extend((i, False) for i in node.inputs if id(i) not in memo)
            continue
        memo[id(v)] = _fmt(node, [memo[id(i)] for i in node.inputs])
    return memo[id(var)]


def _ids():
    n = 0
    while True:
        q, s = n, ""
        while True:
            s = chr(65 + q % 26) + s
            q = q // 26 - 1
            if q < 0:
                break
        yield s
        n += 1


def debugprint(obj, file=None, print_type=True):
    """Print a tree of ``obj`` (a variable, a list of them, or a compiled function:
    its optimised outputs and updates).  ``file='str'`` returns the text instead.

    >>> print(T.debugprint(T.dscalar('x') + 1, file='str'))
    Add [id A] <float64 ()>
     |x [id B] <float64 ()>
     |TensorConstant{1.0} [id C] <float64 ()>
    """
    roots = []
    if hasattr(obj, "fgraph") and hasattr(obj, "updates"):      # a compiled function
        for k, v in enumerate(obj.outputs):
            roots.append((f"output {k}", v))
        for s, u in obj.updates:
            roots.append((f"update of {s!r}", u))
    elif isinstance(obj, Variable):
        roots.append((None, obj))
    else:
        roots.extend((None, v) for v in obj)
    ids = {}
    gen = _ids()
    out = []
    for title, root in roots:
        if title:
            out.append(f"{title}:")
        stack = [(root, 0)]
        while stack:
            v, depth = stack.pop()
            known = id(v) in ids
            if not known:
                ids[id(v)] = next(gen)
            node = v.owner
            if node is None:
                label = repr(v)
            else:
                label = _fmt_op(node)
                if v.name:
                    label += f" '{v.name}'"
            typ = f" <{v.dtype} {_shape(v)}>" if print_type else ""
            prefix = " " * depth + ("|" if depth else "") if depth else ""
            if depth:
                prefix = " " * (depth - 1) + " |"
            tag = f" [id {ids[id(v)]}]"
            out.append(f"{prefix}{label}{tag}{typ}{' ...' if known and node is not None else ''}")
            if node is not None and not known:
                stack.extend((i, depth + 1) for i in reversed(node.inputs))
    text = "\n".join(out)
    if file == "str":
        return text
    print(text, file=file or sys.stdout)
    return file


def _fmt_op(node):
    op = node.op
    return repr(op)


def _shape(v):
    return "(" + ", ".join("?" if d is None else str(d) for d in v.type.shape) + \
        ("," if v.ndim == 1 else "") + ")"


# ------------------------------------------------------------ Print, pydotprint
from ..ops.base import Op as _Op, apply as _apply


class PrintOp(_Op):
    """Identity that prints ``message`` and the listed attributes of its value
    each time the compiled function runs (Theano's ``printing.Print``)."""
    #: symbolic graphs only: checked there, not in the op table
    tested_in = "tests/sym/test_theano_names.py"
    __slots__ = ("message", "attrs")
    props = ("message", "attrs")
    view_map = {0: [0]}

    def __init__(self, message, attrs):
        self.message, self.attrs = message, tuple(attrs)

    def infer(self, t):
        return t.shape, t.dtype

    def forward(self, a):
        for attr in self.attrs:
            v = getattr(a, attr)
            print(f"{self.message} {attr} = {v() if callable(v) else v}")
        return a

    def vjp(self, ctx, inputs, output, g):
        return (g,)


class Print:
    """``Print(message, attrs=('__str__',))(x)`` is x, printed at run time.

    >>> x = T.dvector('x'); f = T.function([x], T.Print('x is')(x) * 2)
    >>> f([1.0, 2.0]).tolist()
    x is __str__ = [1. 2.]
    [2.0, 4.0]
    """

    def __init__(self, message="", attrs=("__str__",), global_fn=None):
        if global_fn is not None:
            raise TypeError("Print: global_fn is not supported by qiflow")
        self.message, self.attrs = message, tuple(attrs)

    def __call__(self, x):
        return _apply(PrintOp(self.message, self.attrs), x)


def _dot_text(obj):
    """Graphviz source for a compiled function's optimised graph or for variables."""
    from .graph import toposort
    if hasattr(obj, "fgraph") and hasattr(obj, "updates"):
        roots = list(obj.fgraph.outputs)
    elif isinstance(obj, Variable):
        roots = [obj]
    else:
        roots = list(obj)
    ids, lines = {}, ["digraph G {", "  rankdir=TB;"]

    def vid(v):
        if id(v) not in ids:
            ids[id(v)] = f"v{len(ids)}"
            label = repr(v) if (v.owner is None or v.name) else str(v.type)
            shape = "box" if v.owner is None else "ellipse"
            lines.append(f'  {ids[id(v)]} [label="{_esc(label)}\\n{v.dtype} {_shape(v)}", '
                         f'shape={shape}];')
        return ids[id(v)]
    for n, node in enumerate(toposort(roots)):
        nid = f"n{n}"
        lines.append(f'  {nid} [label="{_esc(repr(node.op))}", shape=oval, style=filled, '
                     f'fillcolor="#dddddd"];')
        for k, i in enumerate(node.inputs):
            lines.append(f'  {vid(i)} -> {nid} [label="{k}"];')
        lines.append(f"  {nid} -> {vid(node.outputs[0])};")
    for r in roots:
        vid(r)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _esc(s):
    return s.replace("\\", "\\\\").replace('"', '\\"')


def pydotprint(fct, outfile=None, format="png", compact=True, return_image=False, **unused):
    """Draw a compiled function (or variables) with graphviz's ``dot`` program
    (Theano's ``pydotprint``).  ``format='dot'`` writes the graph source and
    needs no graphviz.  Returns the path written (or the bytes with
    ``return_image=True``)."""
    import os
    import shutil
    import subprocess
    src = _dot_text(fct)
    if format == "dot":
        data = src.encode()
    else:
        dot = shutil.which("dot")
        if dot is None:
            raise RuntimeError("pydotprint: graphviz's 'dot' program is not installed; install "
                               "graphviz, or use format='dot' (the graph source) or T.debugprint")
        data = subprocess.run([dot, f"-T{format}"], input=src.encode(), capture_output=True,
                              check=True).stdout
    if return_image:
        return data
    outfile = outfile or os.path.join(os.getcwd(), f"qiflow_graph.{format}")
    with open(outfile, "wb") as fh:
        fh.write(data)
    return outfile
