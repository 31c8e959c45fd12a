"""One step of a recurrent layer: ``RNNCell``, ``LSTMCell``, ``GRUCell``.

PyTorch's parameter names (``weight_ih``, ``weight_hh``, ``bias_ih``,
``bias_hh``), shapes, gate orders (LSTM: i, f, g, o; GRU: r, z, n, with
``b_hn`` inside the reset product) and initialisation
U(-1/sqrt(hidden), 1/sqrt(hidden)).  Composites of ``linear`` and
elementwise ops.  Input (N, input_size) or unbatched (input_size,).

>>> cell = qf.nn.LSTMCell(10, 20)
>>> h, c = cell(qf.randn(3, 10))
>>> h.shape, c.shape
((3, 20), (3, 20))
"""
import math

import numpy as np

from .._state import QiflowError
from ..ops import elementwise as E
from ..ops.dense import linear
from ..ops.movement import expand_dims, squeeze
from . import init
from .linear import _empty
from ..backend import check_device
from .module import Module, Parameter


def require_dtype(layer, what, t, weight_dtype):
    """As PyTorch: a recurrent layer's input and states have its weights' dtype (no promotion;
    an int64 input used to compute silently in float64)."""
    wd, xd = np.dtype(weight_dtype), np.dtype(t.dtype)
    if xd != wd:
        raise QiflowError(f"{layer!r}: the {what} has dtype {xd} but the weights have dtype {wd}; "
                          f"like PyTorch, {type(layer).__name__} needs them equal and does not "
                          f"promote (cast the {what} with .astype({str(wd)!r}))")


class RNNCellBase(Module):
    _gates = 1

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device, "RNNCellBase")  # PyTorch's factory keyword: the CPU only
        what = type(self).__name__
        if input_size < 1 or hidden_size < 1:
            raise QiflowError(f"{what}: input_size and hidden_size must be >= 1, got {input_size} and {hidden_size}")
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        G = self._gates * self.hidden_size
        self.weight_ih = Parameter(_empty((G, self.input_size), dtype))
        self.weight_hh = Parameter(_empty((G, self.hidden_size), dtype))
        if bias:
            self.bias_ih = Parameter(_empty((G,), dtype))
            self.bias_hh = Parameter(_empty((G,), dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, x, hx, n_states):
        """(batched x, list of batched states, whether the input was batched)."""
        shape = tuple(x.shape)
        if len(shape) not in (1, 2) or shape[-1] != self.input_size:
            raise QiflowError(f"{self!r}: expected input of shape (N, {self.input_size}) or "
                              f"({self.input_size},), got {shape}")
        require_dtype(self, "input", x, self.weight_ih.dtype)
        batched = len(shape) == 2
        if not batched:
            x = expand_dims(x, 0)
        N = x.shape[0]
        if hx is None:
            zeros = np.zeros((N, self.hidden_size), x.dtype)
            return x, [zeros] * n_states, batched
        states = list(hx) if n_states > 1 else [hx]
        if n_states > 1 and (not isinstance(hx, (tuple, list)) or len(hx) != n_states):
            raise QiflowError(f"{self!r}: hx must be a tuple (h, c)")
        want = (N, self.hidden_size) if batched else (self.hidden_size,)
        for name, s in zip("hc", states):
            if tuple(s.shape) != want:
                raise QiflowError(f"{self!r}: expected {name} of shape {want} for input of shape {shape}, "
                                  f"got {tuple(s.shape)}")
            require_dtype(self, name, s, self.weight_ih.dtype)
        return x, [s if batched else expand_dims(s, 0) for s in states], batched

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act tanh or relu."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        check_device(device, "RNNCell")  # PyTorch's factory keyword: the CPU only
        if nonlinearity not in ("tanh", "relu"):
            raise QiflowError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx, 1)
        z = linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
        h = E.tanh(z) if self.nonlinearity == "tanh" else E.relu(z)
        return h if batched else squeeze(h, 0)


class LSTMCell(RNNCellBase):
    """c' = f * c + i * g, h' = o * tanh(c'); returns (h', c'); ``hx`` is (h, c)."""
    _gates = 4

    def forward(self, input, hx=None):
        x, (h, c), batched = self._prepare(input, hx, 2)
        H = self.hidden_size
        z = linear(x, self.weight_ih, self.bias_ih) + linear(h, self.weight_hh, self.bias_hh)
        i, f = E.sigmoid(z[:, :H]), E.sigmoid(z[:, H:2 * H])
        g, o = E.tanh(z[:, 2 * H:3 * H]), E.sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        h = o * E.tanh(c)
        return (h, c) if batched else (squeeze(h, 0), squeeze(c, 0))


class GRUCell(RNNCellBase):
    """PyTorch's GRU step: r, z gates, n = tanh(x W_in + b_in + r * (h W_hn + b_hn)),
    h' = (1 - z) * n + z * h."""
    _gates = 3

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, hx, 1)
        H = self.hidden_size
        xw = linear(x, self.weight_ih, self.bias_ih)
        hw = linear(h, self.weight_hh, self.bias_hh)
        rz = E.sigmoid(xw[:, :2 * H] + hw[:, :2 * H])
        n = E.tanh(xw[:, 2 * H:] + rz[:, :H] * hw[:, 2 * H:])
        h = n + rz[:, H:] * (h - n)
        return h if batched else squeeze(h, 0)
