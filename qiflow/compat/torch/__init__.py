"""PyTorch's top-level module, as re-exports of qiflow's eager side.

``qiflow.compat.torch.install()`` makes ``import torch`` (and ``torch.nn``,
``torch.nn.functional``, ``torch.optim``, ``torch.optim.lr_scheduler``,
``torch.utils.data``, ``torch.autograd`` ...) resolve to qiflow where the real
PyTorch is not installed, so a PyTorch program runs on qiflow without its
imports changed; ``python -m qiflow.compat.torch program.py [args]`` does that
for a script.  Every name is qiflow's (a name qiflow lacks is an
``AttributeError`` naming it); ``torch.onnx`` exists and raises on use.  See
``docs/coming-from-pytorch.md`` for what differs.

>>> from qiflow.compat import torch
>>> torch.nn.Linear is qf.nn.Linear, torch.tensor([1.0, 2.0]).sum().item()
(True, 3.0)
"""
import qiflow as _qf
from .. import _alias
from . import onnx  # noqa: F401

__version__ = "2.0.0+qiflow"

#: ``torch.X`` module -> the qiflow module it is
MODULES = {
    "torch.nn": "qiflow.nn", "torch.nn.functional": "qiflow.nn.functional",
    "torch.nn.init": "qiflow.nn.init", "torch.nn.utils": "qiflow.nn.utils",
    "torch.optim": "qiflow.optim", "torch.optim.lr_scheduler": "qiflow.optim.lr_scheduler",
    "torch.utils": "qiflow.utils", "torch.utils.data": "qiflow.utils.data",
    "torch.autograd": "qiflow.autograd", "torch.cuda": "qiflow.cuda",
    "torch.backends": "qiflow.backends", "torch.onnx": "qiflow.compat.torch.onnx",
}


def _legacy(name, dtype):
    def make(*args):
        """``torch.%s(*sizes)`` (zeros here; PyTorch leaves them uninitialised) or
        ``torch.%s(data)``."""
        if args and all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return _qf.zeros(*args, dtype=dtype)
        if len(args) == 1 and hasattr(args[0], "shape"):      # a tensor or an array
            return _qf.as_tensor(args[0]).to(dtype)
        if len(args) == 1:
            return _qf.tensor(args[0], dtype=dtype)
        raise TypeError(f"torch.{name}: expected sizes or one sequence of data, got {args!r}")
    make.__name__ = make.__qualname__ = name
    make.__doc__ = make.__doc__ % (name, name)
    return make


# PyTorch's legacy typed constructors (functions here: isinstance(x, torch.LongTensor) is not
# supported; use x.dtype)
LongTensor = _legacy("LongTensor", _qf.int64)
IntTensor = _legacy("IntTensor", _qf.int32)
FloatTensor = _legacy("FloatTensor", _qf.float32)
DoubleTensor = _legacy("DoubleTensor", _qf.float64)
BoolTensor = _legacy("BoolTensor", _qf.bool_)
ByteTensor = _legacy("ByteTensor", _qf.uint8)


def __getattr__(name):
    try:
        return getattr(_qf, name)
    except AttributeError:
        raise AttributeError(f"module 'torch' (qiflow.compat.torch) has no attribute {name!r}: "
                             "qiflow does not provide it") from None


def __dir__():
    return sorted(set(globals()) | set(dir(_qf)))


def install(force=False):
    """Make ``import torch`` resolve to this module (and ``torch.nn`` ... to qiflow's
    modules).  Does nothing, and returns False, where the real PyTorch is installed
    (unless ``force``); returns True once installed.

    >>> from qiflow.compat import torch as qt
    >>> qt.install() in (True, False)
    True
    """
    return _alias.install("torch", __name__, MODULES, force)


def uninstall():
    """Undo ``install``."""
    _alias.uninstall("torch", __name__, MODULES)
