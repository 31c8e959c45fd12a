"""Recurrent layers: ``RNN`` (tanh or relu), ``LSTM`` and ``GRU``.

Each layer and direction is one whole-sequence primitive (LSTM and RNN:
:mod:`qiflow.ops.rnn`, GRU: :mod:`qiflow.ops.gru`): one GEMM projects all
steps' inputs, and its backward (backpropagation through time) ends in one
GEMM per weight.  Parameter names,
shapes, gate order (LSTM: i, f, g, o; GRU: r, z, n) and initialisation
U(-1/sqrt(hidden), 1/sqrt(hidden)) are PyTorch's, so weights can be copied
from one to the other.

>>> lstm = qf.nn.LSTM(10, 20, num_layers=2, batch_first=True)
>>> out, (h, c) = lstm(qf.randn(3, 5, 10))
>>> out.shape, h.shape, c.shape
((3, 5, 20), (2, 3, 20), (2, 3, 20))
"""
import math

import numpy as np

from .._state import QiflowError
from ..backend import as_dtype, get_default_dtype, check_device
from .rnn_cell import require_dtype
from ..ops.rnn import lstm_seq, rnn_seq
from ..ops.gru import gru_seq
from ..ops.movement import swapaxes, expand_dims, squeeze
from .functional import dropout
from . import init
from .module import Module, Parameter

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        super().__init__()
        check_device(device, "RNNBase")  # PyTorch's factory keyword: the CPU only
        if hidden_size < 1 or num_layers < 1:
            raise QiflowError(f"{type(self).__name__}: hidden_size and num_layers must be >= 1, "
                              f"got {hidden_size} and {num_layers}")
        if not 0.0 <= dropout <= 1.0:
            raise QiflowError(f"{type(self).__name__}: dropout must be in [0, 1], got {dropout}")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional = bidirectional
        dirs = 2 if bidirectional else 1
        gate = _GATES[mode] * hidden_size
        dt = as_dtype(dtype) or get_default_dtype()
        for layer in range(num_layers):
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                n_in = input_size if layer == 0 else hidden_size * dirs
                setattr(self, "weight_ih" + sfx, Parameter(np.empty((gate, n_in), dt)))
                setattr(self, "weight_hh" + sfx, Parameter(np.empty((gate, hidden_size), dt)))
                if bias:
                    setattr(self, "bias_ih" + sfx, Parameter(np.empty(gate, dt)))
                    setattr(self, "bias_hh" + sfx, Parameter(np.empty(gate, dt)))
        self.reset_parameters()

    def flatten_parameters(self):
        """Nothing to do: PyTorch packs the weights into one cuDNN buffer here; qiflow's
        whole-sequence primitive reads them where they are."""

    def reset_parameters(self):
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _weights(self, layer, d):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        w_ih, w_hh = getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)
        b = b_hh = None
        if self.bias:
            b, b_hh = getattr(self, "bias_ih" + sfx), getattr(self, "bias_hh" + sfx)
            if self.mode != "GRU":   # GRU keeps b_hh apart: it sits inside r * (...)
                b, b_hh = b + b_hh, None
        return w_ih, w_hh, b, b_hh

    def _check_input(self, x):
        shape = tuple(x.shape)
        if len(shape) not in (2, 3) or shape[-1] != self.input_size:
            raise QiflowError(f"{self!r}: expected input of shape (T, N, {self.input_size}) "
                              f"{'(batch_first: (N, T, ...))' if self.batch_first else ''}"
                              f"or (T, {self.input_size}), got {shape}")
        self._check_dtype(x, "input")
        return len(shape) == 3

    def _check_dtype(self, t, what):
        require_dtype(self, what, t, self.weight_ih_l0.dtype)

    def _check_hidden(self, h, batch, what):
        dirs = 2 if self.bidirectional else 1
        want = (self.num_layers * dirs, batch, self.hidden_size)
        if tuple(h.shape) != want:
            raise QiflowError(f"{self!r}: expected {what} of shape {want}, got {tuple(h.shape)}")
        self._check_dtype(h, what)

    def _zeros(self, batch, dtype):
        dirs = 2 if self.bidirectional else 1
        return np.zeros((self.num_layers * dirs, batch, self.hidden_size), dtype)

    def forward(self, x, hx=None):
        from ..ops.join import stack
        batched = self._check_input(x)
        if not batched:
            x = expand_dims(x, 1)
            if hx is not None:
                hx = tuple(expand_dims(h, 1) for h in hx) if isinstance(hx, tuple) else expand_dims(hx, 1)
        elif self.batch_first:
            x = swapaxes(x, 0, 1)
        N = x.shape[1]
        is_lstm = self.mode == "LSTM"
        if hx is None:
            h0 = self._zeros(N, x.dtype)
            c0 = self._zeros(N, x.dtype) if is_lstm else None
        elif is_lstm:
            if not (isinstance(hx, tuple) and len(hx) == 2):
                raise QiflowError(f"{self!r}: hx must be a tuple (h_0, c_0)")
            h0, c0 = hx
            self._check_hidden(h0, N, "h_0")
            self._check_hidden(c0, N, "c_0")
        else:
            h0, c0 = hx, None
            self._check_hidden(h0, N, "h_0")
        dirs = 2 if self.bidirectional else 1
        out, h_n, c_n = self._fused(x, h0, c0, dirs)
        h_n = stack(h_n, axis=0)
        c_n = stack(c_n, axis=0) if is_lstm else None
        if not batched:
            out, h_n = squeeze(out, 1), squeeze(h_n, 1)
            c_n = squeeze(c_n, 1) if is_lstm else None
        elif self.batch_first:
            out = swapaxes(out, 0, 1)
        return out, ((h_n, c_n) if is_lstm else h_n)

    def _fused(self, x, h0, c0, dirs):
        """One whole-sequence primitive per layer and direction."""
        from ..ops.join import concatenate, flip
        H = self.hidden_size
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                w_ih, w_hh, b, b_hh = self._weights(layer, d)
                if b is None:
                    b = np.zeros(w_ih.shape[0], w_ih.dtype)
                xin = flip(x, 0) if d else x
                if self.mode == "GRU":
                    out = gru_seq(xin, h0[k], w_ih, w_hh, b, b if b_hh is None else b_hh)
                    h_n.append(out[-1])
                elif self.mode == "LSTM":
                    S = lstm_seq(xin, h0[k], c0[k], w_ih, w_hh, b)
                    out = S[:, :, :H]
                    h_n.append(S[-1, :, :H])
                    c_n.append(S[-1, :, H:])
                else:
                    out = rnn_seq(xin, h0[k], w_ih, w_hh, b, "tanh" if self.mode == "RNN_TANH" else "relu")
                    h_n.append(out[-1])
                outs.append(flip(out, 0) if d else out)
            x = outs[0] if dirs == 1 else concatenate(outs, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = dropout(x, self.dropout)
        return x, h_n, c_n

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh).

    Input (T, N, input_size), or (N, T, input_size) with ``batch_first``;
    returns (output, h_n).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None):
        check_device(device, "RNN")  # PyTorch's factory keyword: the CPU only
        if nonlinearity not in ("tanh", "relu"):
            raise QiflowError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, dtype=dtype)


class LSTM(RNNBase):
    """Long short-term memory; returns (output, (h_n, c_n)); ``hx`` is (h_0, c_0)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None):
        check_device(device, "LSTM")  # PyTorch's factory keyword: the CPU only
        if proj_size:
            raise NotImplementedError("LSTM: proj_size (projected hidden states) is not supported by "
                                      "qiflow yet")
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit (PyTorch's equations); returns (output, h_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None):
        check_device(device, "GRU")  # PyTorch's factory keyword: the CPU only
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype=dtype)
