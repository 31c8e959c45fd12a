"""The compiler's graph rewrites: the registry and driver (``registry.py``) and
the rules, phase by phase (``canonicalize.py``, ``stabilize.py``,
``specialize.py`` with ``fusion.py``).

>>> from qiflow import sym as T
>>> x = T.dvector('x')
>>> f = T.function([x], T.log(1 + T.exp(x)))
>>> 'log1p_exp_to_softplus' in f.report.fired
True
"""
from .registry import (PHASES, Rewrite, Report, register, register_global, all_rewrites, rewrite,
                       stabilize_for_grad)
from . import canonicalize, stabilize, specialize, fusion  # noqa: F401  (they register)
from . import scan  # noqa: F401,E402  (scan_specialize, dynamic_slice_constant)

__all__ = ["PHASES", "Rewrite", "Report", "register", "register_global", "all_rewrites", "rewrite",
           "stabilize_for_grad"]
