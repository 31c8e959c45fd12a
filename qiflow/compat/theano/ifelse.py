"""``theano.ifelse``: ``ifelse`` comes with qiflow's scan (``qiflow/sym/scan.py``)."""
import importlib


def __getattr__(name):
    if name == "ifelse":
        try:
            return getattr(importlib.import_module("qiflow.sym.scan"), "ifelse")
        except (ImportError, AttributeError):
            raise NotImplementedError("theano.ifelse.ifelse: qiflow has no lazy ifelse yet (it "
                                      "comes with qiflow/sym/scan.py); use T.switch, which "
                                      "evaluates both branches") from None
    raise AttributeError(f"module 'theano.ifelse' has no attribute {name!r}")
