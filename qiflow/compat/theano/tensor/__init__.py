"""``theano.tensor``: qiflow's symbolic mode (``qiflow.sym``) under Theano's name."""
from qiflow.sym import *                        # noqa: F401,F403  (the whole namespace)
from qiflow.sym import (abs_, as_tensor_variable, switch, eq, neq, lt, le, gt, ge, sqr, grad,
                        shape_of, TensorType, constant)
from qiflow.sym.dtypes import (int_dtypes, uint_dtypes, float_dtypes, complex_dtypes,
                               discrete_dtypes, continuous_dtypes, all_dtypes)
from qiflow.sym.types import TYPES as _TYPES
from qiflow.sym import Variable as TensorVariable, Constant as TensorConstant  # noqa: F401
from qiflow.sym import SharedVariable as TensorSharedVariable  # noqa: F401
from . import nnet, signal, shared_randomstreams

globals().update(_TYPES)


def shape(x):
    """The symbolic shape of x (Theano's ``T.shape``)."""
    return x.shape
