"""Symbolic LSTM and GRU layers written with ``scan`` (``T.nnet.lstm``,
``T.nnet.gru``): PyTorch's equations, gate orders and weight shapes, so the
results equal the eager primitives (``qiflow.ops.rnn.lstm_seq``,
``qiflow.ops.gru.gru_seq``) given the same weights, and the sequence length
may be known only at run time.

The input projection of every step is one matrix product before the loop;
only ``h @ W_hh.T`` and the gates run per step (the step's compiled function).

>>> x = T.dtensor3('x'); h0 = T.dmatrix('h0'); c0 = T.dmatrix('c0')
>>> w_ih, w_hh, b = T.dmatrix('w_ih'), T.dmatrix('w_hh'), T.dvector('b')
>>> hs, cs = lstm(x, h0, c0, w_ih, w_hh, b)
>>> f = T.function([x, h0, c0, w_ih, w_hh, b], hs)
>>> f(np.ones((5, 2, 3)), np.zeros((2, 4)), np.zeros((2, 4)), np.ones((16, 3)) * 0.1,
...   np.ones((16, 4)) * 0.1, np.zeros(16)).shape
(5, 2, 4)
"""
from ..ops import elementwise as E
from .scan import scan


def _hidden(w_hh):
    return w_hh.shape[1]


def _chunk(a, k, H):
    return a[:, k * H:(k + 1) * H]


def lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh=None, name="lstm"):
    """One LSTM layer over a (T, N, I) sequence -> (hs, cs), each (T, N, H).

    Weights as PyTorch's ``nn.LSTM``: ``w_ih`` (4H, I), ``w_hh`` (4H, H), biases
    (4H,), gates in the order i, f, g, o; ``b_hh`` may be left out (then ``b_ih``
    is the sum of both biases).
    """
    b = b_ih if b_hh is None else b_ih + b_hh
    xw = x @ w_ih.T + b                       # every step's input projection at once
    H = _hidden(w_hh)

    def step(xw_t, h, c, w_hh):
        a = xw_t + h @ w_hh.T
        i = E.sigmoid(_chunk(a, 0, H))
        f = E.sigmoid(_chunk(a, 1, H))
        g = E.tanh(_chunk(a, 2, H))
        o = E.sigmoid(_chunk(a, 3, H))
        c2 = f * c + i * g
        return o * E.tanh(c2), c2

    (hs, cs), _ = scan(step, sequences=xw, outputs_info=[h0, c0], non_sequences=w_hh, name=name)
    return hs, cs


def gru(x, h0, w_ih, w_hh, b_ih, b_hh, name="gru"):
    """One GRU layer over a (T, N, I) sequence -> hs (T, N, H).

    Weights as PyTorch's ``nn.GRU``: ``w_ih`` (3H, I), ``w_hh`` (3H, H), biases
    (3H,), gates r, z, n, with ``b_hh`` inside the reset product.
    """
    xw = x @ w_ih.T + b_ih
    H = _hidden(w_hh)

    def step(xw_t, h, w_hh, b_hh):
        hw = h @ w_hh.T + b_hh
        r = E.sigmoid(_chunk(xw_t, 0, H) + _chunk(hw, 0, H))
        z = E.sigmoid(_chunk(xw_t, 1, H) + _chunk(hw, 1, H))
        n = E.tanh(_chunk(xw_t, 2, H) + r * _chunk(hw, 2, H))
        return n + z * (h - n)

    hs, _ = scan(step, sequences=xw, outputs_info=h0, non_sequences=[w_hh, b_hh], name=name)
    return hs
