"""``qf.viz.draw``: a picture of any qiflow graph, as DOT, SVG or PNG.

>>> a = qf.tensor(2.0, requires_grad=True); b = qf.tensor(3.0, requires_grad=True)
>>> z = a * b + a
>>> d = qf.viz.draw(z, format="dot")       # DOT text needs nothing installed
>>> d.dot.count("->")
4
"""
import os
import sys

from ..ops.base import Symbolic
from ..tensor import Tensor
from . import dot as _dot
from .graph import VGraph, collapse_repeats, fold_repeated_modules, fold_repeated_blocks
from ._common import resolve_names, as_roots

FORMATS = ("dot", "svg", "png")


class Drawing:
    """The result of ``draw``: ``.dot`` (always), ``.data`` (str for dot/svg,
    bytes for png), ``.format``, ``.path`` (where it was written, if anywhere) and
    ``.graph`` (the VGraph).  Displays itself in Jupyter."""

    def __init__(self, graph, dot_text, fmt, data, path=None):
        self.graph, self.dot, self.format, self.data, self.path = graph, dot_text, fmt, data, path

    def save(self, path):
        """Write ``.data`` to ``path``; returns the path."""
        mode = "wb" if isinstance(self.data, bytes) else "w"
        with open(path, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as f:
            f.write(self.data)
        self.path = path
        return path

    def __str__(self):
        return self.data if isinstance(self.data, str) else self.dot

    def __repr__(self):
        n, e = self.graph.counts()
        where = f", path={self.path!r}" if self.path else ""
        return f"<Drawing {self.format}: {n} nodes, {e} edges{where}>"

    def _repr_svg_(self):
        return self.data if self.format == "svg" else None

    def _repr_png_(self):
        return self.data if self.format == "png" else None


def build_graph(obj, *, backward=False, grads=None, names=None, scopes=None, max_values=6,
                frame=None, optimized=False):
    """The VGraph behind ``draw`` (no collapsing, no rendering)."""
    if isinstance(obj, VGraph):
        return obj
    if isinstance(obj, Tensor) or (isinstance(obj, (list, tuple)) and obj
                                   and all(isinstance(o, Tensor) for o in obj)):
        from .eager import eager_graph
        roots = as_roots(obj, "draw")
        return eager_graph(roots, resolve_names(names, frame), scopes=scopes,
                           grads=bool(grads) or False, backward=backward, max_values=max_values)
    if _is_symbolic(obj):
        from .symbolic import symbolic_graph
        return symbolic_graph(obj, max_values=max_values, optimized=optimized)
    raise TypeError(f"draw: cannot draw a {type(obj).__name__}; expected an eager Tensor (or a "
                    "list of them), a symbolic variable, or a compiled function")


def _is_symbolic(obj):
    if isinstance(obj, Symbolic):
        return True
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(o, Symbolic) for o in obj):
        return True
    # a compiled function (T.function) or a traced one (qf.compile): by what they carry
    return (hasattr(obj, "fgraph") and hasattr(obj, "report")) or (
        isinstance(getattr(obj, "cache", None), dict) and hasattr(obj, "traces"))


def draw(obj, format=None, path=None, *, backward=False, grads=None, names=None, scopes=None,
         max_values=6, collapse="auto", max_nodes=80, rankdir="TB", optimized=False):
    """Draw the graph behind ``obj``.

    ``obj``: an eager Tensor (its recorded forward graph), a list of them, a
    symbolic variable, or a compiled function (the graph before rewrites and
    the optimised one, side by side).

    * ``format``: ``"dot"``, ``"svg"`` or ``"png"`` (default: from ``path``'s
      suffix, else svg).  DOT text needs nothing; SVG/PNG need Graphviz.
    * ``path``: also write the result there.
    * ``backward=True`` (eager): add the backward graph with gradient values;
      ``grads=True``: print each node's gradient inside it.
    * ``names``: ``{name: tensor or module}``; by default the caller's
      variables name the tensors (``names=False`` turns that off).
    * ``scopes``: from ``qf.viz.module_scopes(model)``, groups nodes by module.
    * ``optimized=True`` (symbolic variables): compile them and draw the graph
      as written next to the optimised one, as a compiled function is drawn.
    * ``max_values``: show values of tensors with at most this many elements.
    * ``collapse``: merge repeated nodes and fold repeated modules: True,
      False, or "auto" (when there are more than ``max_nodes`` nodes).

    >>> x = qf.tensor([1.0, 2.0], requires_grad=True)
    >>> print(qf.viz.draw((x * x).sum(), format="dot", backward=True).dot)  # doctest: +SKIP
    """
    if format is None:
        ext = os.path.splitext(path)[1].lstrip(".").lower() if path else ""
        format = ext if ext in FORMATS else "svg"
    if format not in FORMATS:
        raise ValueError(f"draw: format must be one of {FORMATS}, got {format!r}")
    frame = sys._getframe(1) if names is not False else None
    g = build_graph(obj, backward=backward, grads=grads, names=names, scopes=scopes,
                    max_values=max_values, frame=frame, optimized=optimized)
    del frame
    if collapse is True or (collapse == "auto" and len(g.nodes) > max_nodes):
        g = simplify(g)
    text = _dot.to_dot(g, rankdir=rankdir)
    data = text if format == "dot" else _dot.render(text, format)
    d = Drawing(g, text, format, data)
    if path is not None:
        d.save(path)
    return d


def simplify(g):
    """Fold repeated modules, then repeated blocks of ops, then merge repeated nodes."""
    return collapse_repeats(fold_repeated_blocks(fold_repeated_modules(g)))


def to_dot(obj, **kw):
    """The DOT text of ``draw(obj, format="dot", **kw)``."""
    kw.setdefault("names", None)
    frame = sys._getframe(1) if kw["names"] is not False else None
    g = build_graph(obj, frame=frame, **{k: v for k, v in kw.items()
                                         if k not in ("collapse", "max_nodes", "rankdir")})
    if kw.get("collapse") is True or (kw.get("collapse", "auto") == "auto"
                                      and len(g.nodes) > kw.get("max_nodes", 80)):
        g = simplify(g)
    return _dot.to_dot(g, rankdir=kw.get("rankdir", "TB"))
