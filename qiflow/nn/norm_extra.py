"""``GroupNorm``: normalise groups of channels, with a per-channel affine map.

>>> gn = qf.nn.GroupNorm(2, 6); [n for n, _ in gn.named_parameters()]
['weight', 'bias']
>>> gn(qf.randn(4, 6, 5)).shape
(4, 6, 5)
"""
import numpy as np

from .._state import QiflowError
from ..backend import as_dtype, get_default_dtype, check_device
from .normfn import group_norm
from .module import Module, Parameter


class GroupNorm(Module):
    """Split the C channels into ``num_groups`` groups and normalise each group of each
    sample (biased variance); weight ones and bias zeros, as in PyTorch."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        check_device(device, "GroupNorm")  # PyTorch's factory keyword: the CPU only
        if num_groups < 1 or num_channels % num_groups:
            raise QiflowError(f"GroupNorm: num_channels {num_channels} must be divisible by num_groups "
                              f"{num_groups}")
        dt = as_dtype(dtype) or get_default_dtype()
        self.num_groups, self.num_channels, self.eps, self.affine = int(num_groups), int(num_channels), eps, affine
        if affine:
            self.weight = Parameter(np.ones(num_channels, dt))
            if bias:
                self.bias = Parameter(np.zeros(num_channels, dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        shape = tuple(x.shape)
        if len(shape) < 2 or shape[1] != self.num_channels:
            raise QiflowError(f"{self!r}: expected input (N, {self.num_channels}, *), got shape {shape}")
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
