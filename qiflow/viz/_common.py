"""Helpers shared by the drawing and the explainer: walking an eager graph,
naming its tensors, and printing small arrays."""
import numpy as np

from .._state import QiflowError
from ..tensor import Tensor

#: ops whose inputs can be swapped, so their edges need no position label
def as_roots(obj, what):
    """A list of Tensors from a Tensor or a list/tuple of them."""
    roots = list(obj) if isinstance(obj, (list, tuple)) else [obj]
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"{what}: expected a Tensor (or a list of them), item {i} is "
                            f"{type(r).__name__}")
    return roots


def topo_order(roots):
    """Every tensor reachable from ``roots`` through recorded inputs, inputs first.

    Iterative, so graphs deeper than Python's recursion limit are fine.
    """
    order, seen = [], set()
    stack = [(r, False) for r in reversed(roots)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for inp in reversed(node._inputs or ()):
            if isinstance(inp, Tensor) and id(inp) not in seen:
                stack.append((inp, False))
    return order


def check_not_freed(order, what):
    freed = [t for t in order if t._op is not None and t._inputs is None]
    if freed:
        t = freed[-1]
        raise QiflowError(
            f"{what}: the graph behind a {t._op.name} node of shape {t.shape} was freed by an "
            "earlier backward(); draw/explain before calling backward, or call "
            "backward(retain_graph=True)")


def _module_params(obj):
    fn = getattr(obj, "named_parameters", None)
    if fn is None or isinstance(obj, type) or not callable(fn):
        return ()
    try:
        return list(fn())
    except Exception:
        return ()


def names_from(mapping, into):
    """Add ``{name: tensor or module}`` (or a frame's variables) to ``into`` (id -> name)."""
    for k, v in list(mapping.items()):
        if not isinstance(k, str) or k.startswith("_"):
            continue
        if isinstance(v, Tensor):
            into.setdefault(id(v), k)
        else:
            for pn, p in _module_params(v):
                if isinstance(p, Tensor):
                    into.setdefault(id(p), f"{k}.{pn}")
    return into


def resolve_names(names, frame):
    """id(tensor) -> display name: explicit ``names`` first, then the caller's variables
    (``names=False`` turns the lookup off)."""
    out = {}
    if names is False:
        return out
    if names:
        names_from(dict(names), out)
    if frame is not None:
        names_from(frame.f_locals, out)
        if frame.f_globals is not frame.f_locals:
            names_from(frame.f_globals, out)
    return out


def display_name(t, names):
    return t.name if getattr(t, "name", None) else names.get(id(t))


def num(v):
    """A number printed short: 6, 0.7311, -1.5e-08."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


def fmt_array(a, max_values):
    """Values of a small array as text, or None when it has more than ``max_values``."""
    a = np.asarray(a)
    if a.size > max_values:
        return None
    if a.ndim == 0:
        return num(a.item())
    return np.array2string(a, separator=", ", max_line_width=48,
                           formatter={"float_kind": num, "int": num, "bool": num})


def fmt_const(v):
    """A label for a non-tensor input (a Python number or a NumPy array)."""
    if isinstance(v, np.ndarray):
        small = fmt_array(v, 6)
        return small if small is not None else f"array{tuple(v.shape)} {v.dtype}"
    if isinstance(v, (int, float, complex, np.generic)):
        return num(v) if not isinstance(v, complex) else repr(v)
    return type(v).__name__


def op_title(op):
    """``Multiply``, ``PowerScalar(p=2)``, ``Sum(axis=(1,))``: props only when short."""
    r = repr(op)
    if r == op.name or len(r) > 34:
        return op.name
    return r.replace(", keepdims=False", "").replace("(axis=None)", "")
