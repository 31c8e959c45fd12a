"""Theano's top-level module, as re-exports of qiflow's symbolic mode.

``qiflow.compat.theano.install()`` makes ``import theano`` (and
``import theano.tensor as T``, ``from theano.tensor.nnet import conv2d`` ...)
resolve to this package where the real Theano is not installed, so Theano
programs run on qiflow unchanged.  Nothing here computes: every name is
qiflow's (see ``docs/coming-from-theano.md`` for the differences).

>>> from qiflow.compat import theano
>>> x = theano.tensor.dscalar('x')
>>> float(theano.function([x], theano.grad(x ** 3, x))(2.0))
12.0
"""
import importlib

from qiflow.sym import (function, shared, grad, In, Out, Mode, pp, config, Variable, Constant,
                        Apply, SharedVariable, dot)
from qiflow.sym.graph import TensorType
from . import tensor, printing, gradient, sandbox, compile, scalar, ifelse as _ifelse_module
from .. import _alias

__version__ = "1.0.5+qiflow"

Param = In           # Theano's older name for In

#: the modules ``install`` registers, as Theano names them
MODULES = ("theano.tensor", "theano.tensor.nnet", "theano.tensor.nnet.conv",
           "theano.tensor.signal", "theano.tensor.signal.pool", "theano.tensor.signal.downsample",
           "theano.tensor.shared_randomstreams", "theano.sandbox", "theano.sandbox.rng_mrg",
           "theano.printing", "theano.gradient", "theano.ifelse", "theano.compile", "theano.scalar")
_TARGETS = {full: __name__ + full[len("theano"):] for full in MODULES}

_SCAN_NAMES = ("scan", "map", "reduce", "foldl", "foldr")


def __getattr__(name):
    # scan and its relatives come from qiflow.sym.scan once it exists
    if name in _SCAN_NAMES:
        try:
            mod = importlib.import_module("qiflow.sym.scan")
        except ImportError:
            raise NotImplementedError(
                f"theano.{name}: qiflow's scan (qiflow/sym/scan.py) is not available in this "
                "version yet; loops must be unrolled in Python for now") from None
        try:
            return getattr(mod, name)
        except AttributeError:
            raise NotImplementedError(f"theano.{name}: qiflow.sym.scan has no {name} yet") from None
    raise AttributeError(f"module 'theano' (qiflow.compat.theano) has no attribute {name!r}")


def install(force=False):
    """Make ``import theano`` resolve to this package (and ``theano.tensor`` ...
    to its modules).  Does nothing, and returns False, where the real Theano
    is installed (unless ``force``); returns True once installed.

    >>> from qiflow.compat import theano as qt
    >>> qt.install() or True
    True
    """
    return _alias.install("theano", __name__, _TARGETS, force)


def uninstall():
    """Undo ``install`` (the ``theano`` modules that point here are removed)."""
    _alias.uninstall("theano", __name__, _TARGETS)
