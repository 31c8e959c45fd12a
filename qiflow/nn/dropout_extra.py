"""Channel dropout layers: ``Dropout1d`` and ``Dropout2d`` (whole feature maps).

>>> d = qf.nn.Dropout2d(0.5).eval()
>>> d(qf.ones((1, 2, 2, 2))).sum().item()
8.0
"""
from .._state import QiflowError
from .dropoutfn import dropout1d, dropout2d
from .module import Module


class _ChannelDropout(Module):
    def __init__(self, p=0.5, inplace=False, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise QiflowError(f"{type(self).__name__}: probability p must be in [0, 1], got {p}")
        # inplace is accepted for PyTorch's signature; the result is always a new tensor
        self.p, self.inplace, self.generator = float(p), inplace, generator

    def extra_repr(self):
        return f"p={self.p}"


class Dropout1d(_ChannelDropout):
    """Zero whole channels of (N, C, L) or (C, L) input while training, scaling the rest by 1/(1-p)."""

    def forward(self, x):
        return dropout1d(x, self.p, self.training, generator=self.generator)


class Dropout2d(_ChannelDropout):
    """Zero whole channels of (N, C, H, W) or (C, H, W) input while training, scaling the rest by 1/(1-p)."""

    def forward(self, x):
        return dropout2d(x, self.p, self.training, generator=self.generator)
