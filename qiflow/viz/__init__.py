"""Seeing inside qiflow: graph pictures, the chain-rule explainer, training figures.

* ``draw(obj, format="svg"|"png"|"dot", path=None, ...)``: the graph behind an
  eager tensor (optionally with its backward graph and gradient values), a
  symbolic variable or a compiled function (before and after rewrites).
* ``explain(loss)``: the chain rule step by step for a small eager graph, as
  text (``print``) and as a self-contained HTML page (``.to_html()``).
* ``module_scopes(model)``: record which module made which tensor, so that
  ``draw(..., scopes=...)`` groups nodes by module.
* ``plots``: matplotlib figures (loss curves, seed 000's heat maps, a grid of
  misclassified digits); imported on first use.

>>> a = qf.tensor(2.0, requires_grad=True); b = qf.tensor(3.0, requires_grad=True)
>>> x = a * b; z = x + x
>>> print(qf.viz.explain(z).summary())
dz/da = 6, dz/db = 4
"""
import importlib

from .draw import draw, to_dot, Drawing
from .dot import GraphvizUnavailable, have_graphviz
from .explain import explain, Explanation
from .scopes import module_scopes, Scopes

__all__ = ["draw", "to_dot", "Drawing", "explain", "Explanation", "module_scopes", "Scopes",
           "GraphvizUnavailable", "have_graphviz", "plots"]


def __getattr__(name):
    if name == "plots":
        return importlib.import_module("qiflow.viz.plots")
    raise AttributeError(f"module 'qiflow.viz' has no attribute {name!r}")
