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
