"""Operators and methods that mean the same in both dialects, shared by the eager
``Tensor`` (PyTorch's meanings: ``tensor_methods.py``) and the symbolic
``sym.Variable`` (Theano's: ``sym/methods.py``).

Everything here calls qiflow functions, so ``x + 1`` builds the same op on a
Tensor (computed now) and on a symbolic variable (a graph node).  A method
whose meaning differs between PyTorch and Theano/NumPy (``transpose``,
``flatten``, ``max``, ``repeat``, ``std``, reductions' keywords ...) does not
belong here: each dialect defines it.
"""
from .ops import elementwise as E, linalg as L


class TensorMethods:
    __slots__ = ()
    __array_ufunc__ = None          # make NumPy defer: ndarray + Tensor -> Tensor.__radd__
    __array_priority__ = 1000

    # arithmetic
    def __add__(self, o): return E.add(self, o)
    def __radd__(self, o): return E.add(o, self)
    def __sub__(self, o): return E.subtract(self, o)
    def __rsub__(self, o): return E.subtract(o, self)
    def __mul__(self, o): return E.multiply(self, o)
    def __rmul__(self, o): return E.multiply(o, self)
    def __truediv__(self, o): return E.divide(self, o)
    def __rtruediv__(self, o): return E.divide(o, self)
    def __floordiv__(self, o): return E.floor_divide(self, o)
    def __rfloordiv__(self, o): return E.floor_divide(o, self)
    def __mod__(self, o): return E.mod(self, o)
    def __rmod__(self, o): return E.mod(o, self)
    def __pow__(self, o): return E.power(self, o)
    def __rpow__(self, o): return E.power(o, self)
    def __matmul__(self, o): return L.matmul(self, o)
    def __rmatmul__(self, o): return L.matmul(o, self)
    def __neg__(self): return E.negative(self)
    def __pos__(self): return self
    def __abs__(self): return E.abs(self)

    # comparisons and logic (bool results, no gradient)
    def __eq__(self, o): return E.equal(self, o)
    def __ne__(self, o): return E.not_equal(self, o)
    def __lt__(self, o): return E.less(self, o)
    def __le__(self, o): return E.less_equal(self, o)
    def __gt__(self, o): return E.greater(self, o)
    def __ge__(self, o): return E.greater_equal(self, o)
    def __and__(self, o): return E.logical_and(self, o)
    def __rand__(self, o): return E.logical_and(o, self)
    def __or__(self, o): return E.logical_or(self, o)
    def __ror__(self, o): return E.logical_or(o, self)
    def __xor__(self, o): return E.logical_xor(self, o)
    def __invert__(self): return E.logical_not(self)
    __hash__ = object.__hash__

    def __getitem__(self, index):
        from .ops.indexing import getitem
        return getitem(self, index)

    # elementwise methods
    def exp(self): return E.exp(self)
    def log(self): return E.log(self)
    def log1p(self): return E.log1p(self)
    def expm1(self): return E.expm1(self)
    def sqrt(self): return E.sqrt(self)
    def square(self): return E.square(self)
    def abs(self): return E.abs(self)
    def sign(self): return E.sign(self)
    def sin(self): return E.sin(self)
    def cos(self): return E.cos(self)
    def tanh(self): return E.tanh(self)
    def sigmoid(self): return E.sigmoid(self)
    def relu(self): return E.relu(self)
    def softplus(self): return E.softplus(self)
    def floor(self): return E.floor(self)
    def ceil(self): return E.ceil(self)
    def matmul(self, o): return L.matmul(self, o)
