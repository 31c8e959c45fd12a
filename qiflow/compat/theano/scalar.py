"""``theano.scalar``: the dtype helper Theano programs use from it (``upcast``).

>>> from qiflow.compat.theano import scalar
>>> scalar.upcast('int8', 'float32')
'float32'
"""
from qiflow.sym.dtypes import upcast

__all__ = ["upcast"]
