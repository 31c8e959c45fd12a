"""The eager dialect's functions: what the top-level ``qf.`` functions and the
``Tensor``'s methods mean, PyTorch's meanings written with qiflow's operators.

Where PyTorch and NumPy disagree, PyTorch wins here (``transpose(x, 0, 1)``,
``max(x, dim) -> (values, indices)``, ``split`` by sizes, unbiased ``std``,
``equal`` one bool, PyTorch's type promotion); NumPy's keyword spellings stay
accepted where they cannot be confused (``axis=`` for ``dim=``, ``keepdims=``
for ``keepdim=``).  The symbolic side (``qiflow.sym``) keeps Theano's/NumPy's
meanings: it calls ``qiflow.ops`` directly.

>>> qf.max(qf.tensor([[1.0, 2.0]]), dim=1).values.tolist()
[2.0]
"""
from .args import return_types
from .reduce import (sum, nansum, mean, prod, max, min, amax, amin, argmax, argmin, var, std,
                     var_mean, std_mean, any, all, count_nonzero, norm, cumsum, logsumexp, softmax,
                     log_softmax)
from .shape import (transpose, swapaxes, swapdims, t, permute, movedim, split, tensor_split, chunk,
                    unbind, cat, concat, concatenate, stack, hstack, vstack, flip, repeat,
                    repeat_interleave, squeeze, unsqueeze, tril, triu, narrow, roll, diag, trace,
                    meshgrid)
from .shape import diagonal_ as diagonal
from .index import (gather, take_along_dim, scatter, scatter_add, index_select, index_add,
                    masked_fill, argsort, sort, topk, kthvalue, median, nonzero, argwhere, unique,
                    masked_select)
from .arith import (promote, promote_all, maximum, minimum, where, add, sub, subtract, mul,
                    multiply, div, divide, true_divide, pow,
                    floor_divide, remainder, fmod, clamp, clip, eq, ne, lt, le, gt, ge, not_equal,
                    less, less_equal, greater, greater_equal, equal, isclose, allclose, mm, bmm,
                    mv, matmul, dot)
from .sample import (multinomial, bernoulli, normal_, uniform_, bernoulli_, exponential_,
                     random_)
