"""A whole GRU layer as one primitive: ``GRUSeq``, built like ``LSTMSeq``.

PyTorch's equations and gate order (r, z, n), with ``b_hh`` inside the reset
product, so weights copy over unchanged:

    r = sigma(x W_ir + b_ir + h W_hr + b_hr)     z = sigma(x W_iz + b_iz + h W_hz + b_hz)
    n = tanh(x W_in + b_in + r * (h W_hn + b_hn))      h' = (1 - z) * n + z * h

The input projection of all T steps is one GEMM; only ``h @ W_hh.T`` runs
per step.  The vjp recomputes every step's gates at once from the states
(one GEMM per weight), runs the recursion backwards with qiflow ops (so it
is differentiable again) and ends in one GEMM per weight.

* ``GRUSeq(x, h0, w_ih, w_hh, b_ih, b_hh)`` -> (T, N, H): h_t for every step.

>>> x = qf.ones((5, 2, 3)); h0 = qf.zeros((2, 4))
>>> w_ih, w_hh, b = qf.ones((12, 3)) * 0.1, qf.ones((12, 4)) * 0.1, qf.zeros(12)
>>> qf.ops.gru.gru_seq(x, h0, w_ih, w_hh, b, b).shape
(5, 2, 4)
"""
import numpy as np

from .base import Op, apply
from ._saved import needs_grad
from .dense import linear
from .elementwise import sigmoid, tanh
from .linalg import matmul
from .movement import reshape, swapaxes
from .reduce import sum as _sum
from .rnn import _check, _project, _prev, _sigmoid_
from .._state import QiflowError


class GRUSeq(Op):
    __slots__ = ()

    def infer(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        T, N, H = _check("GRUSeq", x.shape, h0.shape, w_ih.shape, w_hh.shape, b_ih.shape, 3)
        if tuple(b_hh.shape) not in ((w_hh.shape[0],), (None,)):
            raise QiflowError(f"GRUSeq: b_hh must have shape ({w_hh.shape[0]},) like b_ih, got "
                              f"{tuple(b_hh.shape)}")
        return (T, N, H), np.result_type(x.dtype, w_ih.dtype)

    def forward(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        self.infer(x, h0, w_ih, w_hh, b_ih, b_hh)
        T, N, _ = x.shape
        H = w_hh.shape[1]
        act = _project(x, w_ih, b_ih)     # x W_ih^T + b_ih, overwritten step by step with [r | z | n]
        S = np.empty((T, N, H), act.dtype)
        h, whh_t = h0, w_hh.T
        for t in range(T):
            a = act[t]
            hw = h @ whh_t
            hw += b_hh
            a[:, :2 * H] += hw[:, :2 * H]
            _sigmoid_(a[:, :2 * H])
            r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
            hw[:, 2 * H:] *= r
            n += hw[:, 2 * H:]
            np.tanh(n, out=n)
            out = S[t]
            np.subtract(h, n, out=out)   # h' = n + z * (h - n)
            out *= z
            out += n
            h = out
        return S

    def vjp(self, inputs, output, dS):
        x, h0, w_ih, w_hh, b_ih, b_hh = inputs
        needs = [needs_grad(k) for k in range(6)]
        H = w_hh.shape[1]
        T = x.shape[0]
        h_prev = _prev(h0, output)
        # The gates of every step, recomputed from the states with one GEMM per weight.  (The
        # forward's gates could be reused once a vjp's context can carry saved values.)
        G = 3 * H
        xw = reshape(linear(reshape(x, (-1, x.shape[-1])), w_ih, b_ih), (T, -1, G))
        hw = reshape(linear(reshape(h_prev, (-1, H)), w_hh, b_hh), (T, -1, G))
        r = sigmoid(xw[..., :H] + hw[..., :H])
        z = sigmoid(xw[..., H:2 * H] + hw[..., H:2 * H])
        hwn = hw[..., 2 * H:]
        n = tanh(xw[..., 2 * H:] + r * hwn)
        from .join import concatenate, stack
        # the factors of each step's gate gradients that do not depend on the recursion, for all t at once
        a_z = (h_prev - n) * z * (1 - z)
        a_n = (1 - z) * (1 - n * n)
        a_r = hwn * r * (1 - r)
        dxw, dhw = [None] * T, [None] * T
        dh_next = None
        for t in range(T - 1, -1, -1):
            dh = dS[t] if dh_next is None else dS[t] + dh_next
            dn = dh * a_n[t]              # gradient of n's pre-activation
            dz = dh * a_z[t]
            dr = dn * a_r[t]
            dxw[t] = concatenate([dr, dz, dn], axis=-1)
            dhw[t] = concatenate([dr, dz, dn * r[t]], axis=-1)
            dh_next = dh * z[t] + matmul(dhw[t], w_hh)
        dxw, dhw = stack(dxw, axis=0), stack(dhw, axis=0)
        fx, fh = reshape(dxw, (-1, G)), reshape(dhw, (-1, G))
        gx = matmul(dxw, w_ih) if needs[0] else None
        gw_ih = matmul(swapaxes(fx, 0, 1), reshape(x, (-1, x.shape[-1]))) if needs[2] else None
        gw_hh = matmul(swapaxes(fh, 0, 1), reshape(h_prev, (-1, H))) if needs[3] else None
        gb_ih = _sum(fx, axis=0) if needs[4] else None
        gb_hh = _sum(fh, axis=0) if needs[5] else None
        return gx, (dh_next if needs[1] else None), gw_ih, gw_hh, gb_ih, gb_hh


_gru = GRUSeq()


def gru_seq(x, h0, w_ih, w_hh, b_ih, b_hh):
    """One GRU layer over a whole (T, N, I) sequence: returns the (T, N, H) states."""
    return apply(_gru, x, h0, w_ih, w_hh, b_ih, b_hh)
