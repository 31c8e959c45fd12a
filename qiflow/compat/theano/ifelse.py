"""``theano.ifelse``: ``ifelse`` from qiflow.sym.ifelse (it comes with qiflow's scan)."""
import importlib


def __getattr__(name):
    if name == "ifelse":
        try:
            return getattr(importlib.import_module("qiflow.sym.ifelse"), "ifelse")
        except (ImportError, AttributeError):
            raise NotImplementedError("theano.ifelse.ifelse: qiflow has no lazy ifelse in this "
                                      "version yet (qiflow.sym.ifelse); use T.switch, which "
                                      "evaluates both branches") from None
    raise AttributeError(f"module 'theano.ifelse' has no attribute {name!r}")
