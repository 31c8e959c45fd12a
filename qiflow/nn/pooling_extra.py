"""Adaptive pooling layers: ``AdaptiveAvgPool1d/2d`` and ``AdaptiveMaxPool1d/2d``.

>>> qf.nn.AdaptiveAvgPool2d((5, 7))(qf.ones((2, 3, 9, 10))).shape
(2, 3, 5, 7)
>>> qf.nn.AdaptiveMaxPool2d(1)(qf.ones((2, 3, 9, 10))).shape
(2, 3, 1, 1)
"""
from .adaptive import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d, adaptive_max_pool2d
from .module import Module


class _Adaptive(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_Adaptive):
    """Mean over PyTorch's adaptive windows; an int or (h, w), None keeping a size."""

    def forward(self, x):
        return adaptive_avg_pool2d(x, self.output_size)


class AdaptiveAvgPool1d(_Adaptive):
    """Mean over adaptive windows of (N, C, L) or (C, L) input."""

    def forward(self, x):
        return adaptive_avg_pool1d(x, self.output_size)


class _AdaptiveMax(_Adaptive):
    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool2d(_AdaptiveMax):
    """Max over adaptive windows; ``return_indices`` also gives each maximum's flat position."""

    def forward(self, x):
        return adaptive_max_pool2d(x, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMax):
    """Max over adaptive windows of (N, C, L) or (C, L) input."""

    def forward(self, x):
        return adaptive_max_pool1d(x, self.output_size, self.return_indices)
