"""Dense layers and shape helpers: ``Linear``, ``Identity``, ``Flatten``, ``Unflatten``.

>>> fc = qf.nn.Linear(784, 500); fc.weight.shape, fc.bias.shape
((500, 784), (500,))
"""
import math

import numpy as np

from .._state import QiflowError
from ..backend import as_dtype, get_default_dtype, check_device
from ..ops.movement import flatten, reshape
from . import init
from .functional import linear
from .module import Module, Parameter


def _empty(shape, dtype):
    return np.empty(shape, as_dtype(dtype) or get_default_dtype())


class Identity(Module):
    """Returns its input unchanged (accepts and ignores any arguments)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Linear(Module):
    """y = x @ weight.T + bias, weight of shape (out_features, in_features).

    Initialised as PyTorch does: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)).
    The input must have the layer's dtype (float32 by default), as in PyTorch.

    >>> qf.nn.Linear(3, 4)(qf.ones((2, 3))).shape
    (2, 4)
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device, "Linear")  # PyTorch's factory keyword: the CPU only
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(_empty((self.out_features, self.in_features), dtype))
        self.bias = Parameter(_empty((self.out_features,), dtype)) if bias else None
        if not bias:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        shape = getattr(x, "shape", None)
        if shape is not None and (len(shape) == 0 or shape[-1] not in (None, self.in_features)):
            raise QiflowError(f"{self!r}: expected input with last dimension {self.in_features}, "
                              f"got input of shape {tuple(shape)}")
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Merge dims start_dim..end_dim (default: all but the batch axis)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        shape = tuple(x.shape)
        d = self.dim % len(shape)
        return reshape(x, shape[:d] + self.unflattened_size + shape[d + 1:])

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
