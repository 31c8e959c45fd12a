"""``Conv2d``: 2-D convolution layer with PyTorch's weight layout and initialisation.

>>> conv = qf.nn.Conv2d(1, 20, 5); conv.weight.shape
(20, 1, 5, 5)
>>> conv(qf.ones((2, 1, 28, 28))).shape
(2, 20, 24, 24)
"""
import math

from .._state import QiflowError
from ..ops.conv import conv2d, _pair
from . import init
from .linear import _empty
from ..backend import check_device
from .module import Module, Parameter


class Conv2d(Module):
    """Cross-correlation over (N, C, H, W) input; weight (out, in/groups, kh, kw).

    ``padding`` may be an int, a pair, 'valid' or 'same'.  Weights and bias are
    drawn like PyTorch's: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        check_device(device, "Conv2d")  # PyTorch's factory keyword: the CPU only
        if padding_mode != "zeros":
            raise QiflowError(f"Conv2d: only padding_mode='zeros' is supported, got {padding_mode!r}")
        if in_channels % groups or out_channels % groups:
            raise QiflowError(f"Conv2d: in_channels {in_channels} and out_channels {out_channels} "
                              f"must be divisible by groups {groups}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair("kernel_size", kernel_size)
        self.stride, self.dilation = _pair("stride", stride), _pair("dilation", dilation)
        self.padding = padding if isinstance(padding, str) else _pair("padding", padding)
        self.groups = int(groups)
        self.weight = Parameter(_empty((out_channels, in_channels // groups) + self.kernel_size, dtype))
        if bias:
            self.bias = Parameter(_empty((out_channels,), dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight._data[0].size
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        shape = getattr(x, "shape", None)
        if shape is not None and (len(shape) != 4 or shape[1] not in (None, self.in_channels)):
            raise QiflowError(f"{self!r}: expected input of shape (N, {self.in_channels}, H, W), "
                              f"got {tuple(shape)}")
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
