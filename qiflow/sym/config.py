"""``config``: Theano's settings object.  ``config.floatX`` is qiflow's default
float (``qf.get_default_dtype``): reading it gives a string, setting it changes
the dtype of ``T.matrix()``, ``T.scalar()``, ``T.zeros`` and of Python floats.

>>> from qiflow import sym as T
>>> T.config.floatX
'float32'
>>> T.config.floatX = 'float64'; T.matrix().dtype
'float64'
>>> T.config.floatX = 'float32'
"""
from .. import backend as _backend


class Config:
    """Theano's ``theano.config``: the settings qiflow has a meaning for."""

    #: accepted and without effect in qiflow (there is one CPU backend, no C compiler)
    _INERT = {"device": "cpu", "mode": "FAST_RUN", "optimizer": "fast_run", "cxx": "",
              "compute_test_value": "off", "exception_verbosity": "low",
              "on_unused_input": "raise", "warn_float64": "ignore", "openmp": False,
              "allow_gc": True}

    def __init__(self):
        object.__setattr__(self, "_values", dict(self._INERT))

    @property
    def floatX(self):
        return _backend.get_default_dtype().name

    @floatX.setter
    def floatX(self, value):
        if str(value) not in ("float32", "float64"):
            raise ValueError(f"config.floatX: qiflow supports 'float32' and 'float64', got {value!r}")
        _backend.set_default_dtype(str(value))

    def __getattr__(self, name):
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"config.{name}: qiflow has no such setting (it knows floatX and "
                             f"{', '.join(sorted(values))})")

    def __setattr__(self, name, value):
        if name == "floatX":
            return object.__setattr__(self, name, value)
        if name not in self._values:
            raise AttributeError(f"config.{name}: qiflow has no such setting")
        if name == "compute_test_value" and value not in ("off", "ignore"):
            raise ValueError("config.compute_test_value: qiflow does not compute test values; "
                             "only 'off' is supported")
        if name == "device" and not str(value).startswith("cpu"):
            raise ValueError(f"config.device={value!r}: qiflow's symbolic mode runs on the CPU "
                             "(NumPy) only")
        self._values[name] = value

    def __repr__(self):
        return f"<config floatX={self.floatX!r}>"


config = Config()
