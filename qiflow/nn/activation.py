"""Activation layers (thin wrappers over the elementwise ops).

``Sigmoid`` is also reachable as ``Logistic`` (seed 002's name).

>>> qf.nn.ReLU()(qf.tensor([-1.0, 1.0])).tolist()
[0.0, 1.0]
"""
from ..ops import elementwise as E
from ..functional import softmax, log_softmax
from .module import Module


class ReLU(Module):
    """max(x, 0)."""

    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return E.relu(x)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return E.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return E.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x):
        return E.sigmoid(x)


Logistic = Sigmoid


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x):
        return E.tanh(x)


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta."""

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = beta

    def forward(self, x):
        return E.softplus(x) if self.beta == 1 else E.softplus(x * self.beta) / self.beta

    def extra_repr(self):
        return f"beta={self.beta}"


class GELU(Module):
    """Gaussian error linear unit (``approximate='tanh'`` for the tanh form)."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return E.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x)."""

    def forward(self, x):
        return x * E.sigmoid(x)


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim``."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """x - logsumexp(x) along ``dim``."""

    def forward(self, x):
        return log_softmax(x, self.dim)


from .._state import QiflowError  # noqa: E402  (added with Hardtanh and ReLU6)
from .functional import hardtanh  # noqa: E402


class Hardtanh(Module):
    """x clipped to [min_val, max_val] (gradient 1 strictly inside, else 0, as in PyTorch).

    >>> qf.nn.Hardtanh(-2.0, 2.0)(qf.tensor([-3.0, 0.5, 3.0])).tolist()
    [-2.0, 0.5, 2.0]
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None):
        super().__init__()
        # min_value / max_value: the old spellings PyTorch still accepts
        min_val = min_val if min_value is None else min_value
        max_val = max_val if max_value is None else max_value
        if not max_val > min_val:
            raise QiflowError(f"Hardtanh: max_val {max_val} must be greater than min_val {min_val}")
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x):
        return hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0)

    def extra_repr(self):
        return ""
