"""``Conv1d``, ``ConvTranspose1d`` and ``ConvTranspose2d`` with PyTorch's weight layouts,
initialisation and ``state_dict`` names.

>>> qf.nn.Conv1d(3, 8, 5, padding=2)(qf.ones((2, 3, 16))).shape
(2, 8, 16)
>>> up = qf.nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
>>> up.weight.shape, up(qf.ones((1, 8, 5, 5))).shape
((8, 4, 3, 3), (1, 4, 10, 10))
"""
import math

from .._state import QiflowError
from . import init
from .convfn import conv1d, conv_transpose1d, conv_transpose2d
from .linear import _empty
from ..backend import check_device
from .module import Module, Parameter
from .padding import pad


def _tuple(name, v, n, what):
    if isinstance(v, (tuple, list)):
        v = tuple(int(a) for a in v)
        if len(v) != n:
            raise QiflowError(f"{what}: {name} must be an int or a {n}-tuple, got {v}")
        return v
    return (int(v),) * n


class _ConvNd(Module):
    _n = 1
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, output_padding, dtype):
        super().__init__()
        what, n = type(self).__name__, self._n
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise QiflowError(f"{what}: in_channels {in_channels} and out_channels {out_channels} must be "
                              f"divisible by groups {groups}")
        modes = ("zeros",) if self._transposed else ("zeros", "reflect", "replicate", "circular")
        if padding_mode not in modes:
            raise QiflowError(f"{what}: padding_mode must be one of {modes}, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _tuple("kernel_size", kernel_size, n, what)
        self.stride, self.dilation = _tuple("stride", stride, n, what), _tuple("dilation", dilation, n, what)
        if isinstance(padding, str):
            if self._transposed or padding not in ("same", "valid"):
                raise QiflowError(f"{what}: padding must be an int or a tuple"
                                  f"{'' if self._transposed else ', valid or same'}, got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise QiflowError(f"{what}: padding='same' needs stride 1, got stride {self.stride}")
            self.padding = padding
        else:
            self.padding = _tuple("padding", padding, n, what)
        self.output_padding = _tuple("output_padding", output_padding, n, what)
        self.padding_mode = padding_mode
        if self._transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(_empty(shape, dtype))
        if bias:
            self.bias = Parameter(_empty((self.out_channels,), dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        # PyTorch's rule: fan_in is weight.shape[1] * prod(kernel), transposed layers included
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = math.prod(self.weight.shape[1:])
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x):
        shape = tuple(x.shape)
        n = self._n
        if len(shape) not in (n + 1, n + 2) or shape[-n - 1] != self.in_channels:
            dims = ", ".join("HW"[i] if n == 2 else "L" for i in range(n))
            raise QiflowError(f"{self!r}: expected input of shape (N, {self.in_channels}, {dims}) or "
                              f"({self.in_channels}, {dims}), got {shape}")

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0,) * self._n, "valid"):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if any(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode!r}"
        return s


class Conv1d(_ConvNd):
    """1-D cross-correlation over (N, C, L) or (C, L) input; weight (out, in/groups, k).

    ``padding_mode`` 'reflect', 'replicate' or 'circular' pads with ``F.pad``
    first, as PyTorch does.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        check_device(device, "Conv1d")  # PyTorch's factory keyword: the CPU only
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, dtype)

    def forward(self, x):
        self._check_input(x)
        if self.padding_mode == "zeros":
            return conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        if self.padding == "same":
            total = self.dilation[0] * (self.kernel_size[0] - 1)
            widths = (total // 2, total - total // 2)
        elif self.padding == "valid":
            widths = (0, 0)
        else:
            widths = (self.padding[0], self.padding[0])
        x = pad(x, widths, mode=self.padding_mode)
        return conv1d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def _output_padding(self, x, output_size):
        """The output_padding that gives ``output_size`` (PyTorch's rule), or the layer's own."""
        if output_size is None:
            return self.output_padding
        n = self._n
        want = tuple(int(v) for v in output_size)[-n:]
        if len(want) != n:
            raise QiflowError(f"{self!r}: output_size must give the {n} spatial sizes, got {tuple(output_size)}")
        spatial = tuple(x.shape)[-n:]
        pads = []
        for i in range(n):
            least = ((spatial[i] - 1) * self.stride[i] - 2 * self.padding[i]
                     + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            most = least + self.stride[i] - 1
            if not least <= want[i] <= most:
                raise QiflowError(f"{self!r}: requested output size {want} is not possible for input "
                                  f"{tuple(x.shape)}: dimension {i} must be in [{least}, {most}]")
            pads.append(want[i] - least)
        return tuple(pads)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution; weight (in, out/groups, k)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        check_device(device, "ConvTranspose1d")  # PyTorch's factory keyword: the CPU only
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, dtype)

    def forward(self, x, output_size=None):
        self._check_input(x)
        return conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding,
                                self._output_padding(x, output_size), self.groups, self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution over (N, C, H, W) or (C, H, W); weight (in, out/groups, kh, kw).

    ``output_size`` in ``forward`` picks the output_padding, as in PyTorch.
    """
    _n = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        check_device(device, "ConvTranspose2d")  # PyTorch's factory keyword: the CPU only
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, dtype)

    def forward(self, x, output_size=None):
        self._check_input(x)
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                self._output_padding(x, output_size), self.groups, self.dilation)
