"""Seeing the graph: ``pp`` (an infix formula) and ``debugprint`` (a tree with ids).

>>> from qiflow import sym as T
>>> x = T.dscalar('x')
>>> T.pp(x ** 2 + 1)
'((x ** 2) + TensorConstant{1.0})'
"""
import re
import sys

from ..ops import elementwise as E
from ..ops.linalg import MatMul
from ..ops.indexing import GetItem
from .graph import Constant, Variable

_INFIX = {E.Add: "+", E.Subtract: "-", E.Multiply: "*", E.Divide: "/", E.Power: "**",
          MatMul: "@", E.Greater: ">", E.GreaterEqual: ">=", E.Less: "<", E.LessEqual: "<=",
          E.Equal: "==", E.NotEqual: "!=", E.FloorDivide: "//", E.Mod: "%"}


def _snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _leaf(v):
    if isinstance(v, Constant) or v.name is not None:
        return repr(v)
    return f"<{v.type}>"


def _fmt(node, args):
    op = node.op
    t = type(op)
    if t in _INFIX:
        return f"({args[0]} {_INFIX[t]} {args[1]})"
    if t is E.PowerScalar:
        return f"({args[0]} ** {op.p!r})"
    if t is E.Negative:
        return f"(-{args[0]})"
    if t is GetItem:
        return f"{args[0]}[{_subscript(op.template, args[1:])}]"
    name = _snake(getattr(op, "name", t.__name__)) if t.__name__ != "Fused" else op.name
    props = [f"{p}={getattr(op, p)!r}" for p in getattr(op, "props", ())
             if p not in ("template",) and getattr(op, p) is not None]
    if t.__name__ == "Fused":
        props = []
    return f"{name}({', '.join(list(args) + props)})"


def _subscript(template, args):
    parts = []
    for p in template:
        if hasattr(p, "k"):
            parts.append(args[p.k])
        elif isinstance(p, tuple):
            parts.append(":".join("" if v is None else str(v) for v in p[1:]))
        else:
            parts.append("..." if p is Ellipsis else repr(p))
    return ", ".join(parts)


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
    from .linker import Function
    roots = []
    if isinstance(obj, Function):
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
