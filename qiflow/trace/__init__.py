"""Tracing eager code into the symbolic compiler: ``qf.compile`` / ``@qf.jit``.

``tracer.py`` is the interpreter that records what a function does;
``compiled.py`` turns each trace into a ``T.function`` and re-traces when a
signature or a guard changes.

>>> f = qf.jit(lambda x: (x * 2).sum())
>>> f(qf.tensor([1.0, 2.0])).item()
6.0
"""
from ..ops.base import TraceError
from .compiled import compile, jit, Compiled
from .tracer import Tracer, is_tracing, current_tracer

__all__ = ["compile", "jit", "Compiled", "Tracer", "TraceError", "is_tracing",
           "current_tracer"]
