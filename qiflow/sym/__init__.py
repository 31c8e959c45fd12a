"""Symbolic mode: Theano-style typed variables, ``function``, ``shared``, ``grad``
and a compiler that rewrites the graph before running it.

``from qiflow import sym as T`` gives what ``theano.tensor`` (and ``theano``)
gave: typed constructors (``T.dscalar``, ``T.fmatrix``, ``T.ivector`` ...),
``T.shared``, ``T.function``, ``T.grad``, ``T.pp``, and the array functions.
The operators are qiflow's own (the same op classes and gradients as eager
mode); ``qf.exp(v)`` on a symbolic ``v`` builds a node.

>>> import numpy as np
>>> from qiflow import sym as T
>>> x = T.dmatrix('x')
>>> s = 1 / (1 + T.exp(-x))
>>> logistic = T.function([x], s)
>>> logistic([[0, 1], [-1, -2]]).round(8).tolist()
[[0.5, 0.73105858], [0.26894142, 0.11920292]]
"""
from . import graph as _graph
from .types import (TensorType, tensor, scalar, vector, matrix, tensor3, tensor4, PREFIXES,
                    TYPES as _TYPES)
from .graph import Variable, Constant, Apply, constant
from .shared import shared, SharedVariable
from ..ops.dynamic import arange
from .graph import shape_of
from .grad import grad
from .jacobian import jacobian, hessian
from .function import function, Mode
from .printing import pp, debugprint
from . import nnet
from . import signal
from .scan import scan, map, reduce, foldl, foldr
from .ifelse import ifelse
from .rewrites import register, register_global, all_rewrites, Report, PHASES

# the array functions (qiflow's own; each works on Tensors and on variables)
from ..ops.elementwise import (
    add, subtract, multiply, divide, true_divide, negative, power, exp, log, log1p, expm1, sqrt,
    square, abs, sign, sin, cos, tanh, sigmoid, softplus, relu, maximum, minimum, where, floor,
    ceil, round, clip, cast, equal, not_equal, less, less_equal, greater, greater_equal,
    logical_and, logical_or, logical_xor, logical_not, isnan, isinf, zeros_like, ones_like,
    floor_divide, mod)
from ..ops.reduce import sum, mean, max, min, prod, argmax, argmin, var, std
from ..ops.movement import reshape, transpose, expand_dims, squeeze, broadcast_to, swapaxes
from ..ops.linalg import matmul, dot, outer, inner
from ..functional import softmax, log_softmax, logsumexp, stop_gradient

globals().update(_TYPES)
_graph.install()

# Theano's names for the same functions
switch = where
eq, neq, lt, le, gt, ge = equal, not_equal, less, less_equal, greater, greater_equal
and_, or_, xor, invert = logical_and, logical_or, logical_xor, logical_not
abs_ = abs
sqr = square
sgn = sign
pow = power
true_div = true_divide
int_div = floor_divide
as_tensor_variable = _graph.as_variable

# Theano's meanings (symbolic sizes, dtype=, mode=): after the array functions they replace
from .basic import (alloc, zeros, ones, zeros_like, ones_like, fill, second, eye, identity_like,
                    round, norm, sum, mean, reshape, flatten, set_subtensor, inc_subtensor, cast,
                    shape_padleft, shape_padright, shape_padaxis, addbroadcast, unbroadcast,
                    patternbroadcast)
from .dtypes import (int_dtypes, uint_dtypes, float_dtypes, complex_dtypes, discrete_dtypes,
                     continuous_dtypes, all_dtypes)
from .config import config
from .function import In, Out
from .printing import Print, pydotprint
from .products import dot
from . import random
from .random import RandomStreams, MRG_RandomStreams


def concatenate(tensors, axis=0):
    """Join variables along an existing axis."""
    from ..ops.join import concatenate as c
    return c(tensors, axis)


def stack(tensors, axis=0):
    """Join variables along a new axis."""
    from ..ops.join import stack as s
    return s(tensors, axis)
