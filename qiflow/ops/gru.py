"""A whole GRU layer as one primitive: ``GRUSeq``, built like ``LSTMSeq``.

PyTorch's equations and gate order (r, z, n), with ``b_hh`` inside the reset
product, so weights copy over unchanged:

    r = sigma(x W_ir + b_ir + h W_hr + b_hr)     z = sigma(x W_iz + b_iz + h W_hz + b_hz)
    n = tanh(x W_in + b_in + r * (h W_hn + b_hn))      h' = (1 - z) * n + z * h

The input projection of all T steps is one GEMM; only ``h @ W_hh.T`` runs
per step.  The forward saves the gates for the vjp (``ctx.saved``).  The
reverse loop is a primitive (``GRUSeqGrad``: every step's gradients of the
input and hidden projections, then dh0), so the backward works when the
length is known only at run time; where a graph of the backward is recorded
and the length is known (``create_graph``), the loop is written with qiflow
ops instead, so the gradient is differentiable again.  Either way the
weight gradients are one GEMM each.

* ``GRUSeq(x, h0, w_ih, w_hh, b_ih, b_hh)`` -> (T, N, H): h_t for every step.

>>> x = qf.ones((5, 2, 3)); h0 = qf.zeros((2, 4))
>>> w_ih, w_hh, b = qf.ones((12, 3)) * 0.1, qf.ones((12, 4)) * 0.1, qf.zeros(12)
>>> qf.ops.gru.gru_seq(x, h0, w_ih, w_hh, b, b).shape
(5, 2, 4)
"""
import numpy as np

from .base import Op, apply
from .dense import linear
from .elementwise import sigmoid, tanh, sigmoid_
from .join import concatenate, stack
from .linalg import matmul
from .movement import reshape, swapaxes
from .reduce import sum as _sum
from .rnn import _check, _known, _piece, _prev, _project, _rows
from .base import static_shape
from .._state import QiflowError


def _gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh):
    """(S, gates): the states per step and [r | z | n | h W_hn + b_hn] per step."""
    T, N, _ = x.shape
    H = w_hh.shape[1]
    xw = _project(x, w_ih, b_ih)
    gates = np.empty((T, N, 4 * H), xw.dtype)
    S = np.empty((T, N, H), xw.dtype)
    h, whh_t = h0, w_hh.T
    for t in range(T):
        a = gates[t]
        hw = h @ whh_t
        hw += b_hh
        np.add(xw[t, :, :2 * H], hw[:, :2 * H], out=a[:, :2 * H])
        sigmoid_(a[:, :2 * H])
        r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H]
        a[:, 3 * H:] = hw[:, 2 * H:]
        np.multiply(r, hw[:, 2 * H:], out=n)
        n += xw[t, :, 2 * H:]
        np.tanh(n, out=n)
        out = S[t]
        np.subtract(h, n, out=out)   # h' = n + z * (h - n)
        out *= z
        out += n
        h = out
    return S, gates


def _gru_gates(x, S, h0, w_ih, w_hh, b_ih, b_hh):
    """The gates of every step recomputed from the states (when the forward's are not kept)."""
    H = w_hh.shape[1]
    h_prev = np.concatenate([h0[None], S[:-1]], axis=0)
    xw = _project(x, w_ih, b_ih)
    hw = _project(h_prev, w_hh, b_hh)
    gates = np.empty(xw.shape[:2] + (4 * H,), xw.dtype)
    np.add(xw[..., :2 * H], hw[..., :2 * H], out=gates[..., :2 * H])
    sigmoid_(gates[..., :2 * H])
    gates[..., 3 * H:] = hw[..., 2 * H:]
    n = gates[..., 2 * H:3 * H]
    np.multiply(gates[..., :H], hw[..., 2 * H:], out=n)
    n += xw[..., 2 * H:]
    np.tanh(n, out=n)
    return gates


def _gru_backward(x, h0, w_ih, w_hh, b_ih, b_hh, S, dS, gates=None):
    """(T + 1, N, 6H): per step [d(x W_ih^T) | d(h W_hh^T)], then [dh0 | 0 ...]."""
    T, N, _ = x.shape
    H = w_hh.shape[1]
    if gates is None:
        gates = _gru_gates(x, S, h0, w_ih, w_hh, b_ih, b_hh)
    r, z, n, hwn = gates[..., :H], gates[..., H:2 * H], gates[..., 2 * H:3 * H], gates[..., 3 * H:]
    h_prev = np.concatenate([h0[None], S[:-1]], axis=0)
    # the factors of each step's gradients that do not depend on the recursion, for all t at once
    a_z = (h_prev - n) * z * (1 - z)
    a_n = (1 - z) * (1 - n * n)
    a_r = hwn * r * (1 - r)
    out = np.zeros((T + 1, N, 6 * H), np.result_type(gates, dS))
    dh_next = None
    for t in range(T - 1, -1, -1):
        dh = dS[t] if dh_next is None else dS[t] + dh_next
        row = out[t]
        np.multiply(dh, a_n[t], out=row[:, 2 * H:3 * H])                 # dn (pre-activation)
        np.multiply(dh, a_z[t], out=row[:, H:2 * H])                     # dz
        np.multiply(row[:, 2 * H:3 * H], a_r[t], out=row[:, :H])         # dr
        row[:, 3 * H:5 * H] = row[:, :2 * H]
        np.multiply(row[:, 2 * H:3 * H], r[t], out=row[:, 5 * H:])
        dh_next = row[:, 3 * H:] @ w_hh
        dh_next += dh * z[t]
    if T:
        out[T, :, :H] = dh_next
    return out


def _weight_grads(dxw, dhw, x, h_prev, w_ih, w_hh, need):
    fx, fh = _rows(dxw), _rows(dhw)
    gx = matmul(dxw, w_ih) if need[0] else None
    gw_ih = matmul(swapaxes(fx, 0, 1), _rows(x)) if need[2] else None
    gw_hh = matmul(swapaxes(fh, 0, 1), _rows(h_prev)) if need[3] else None
    gb_ih = _sum(fx, 0) if need[4] else None
    gb_hh = _sum(fh, 0) if need[5] else None
    return gx, gw_ih, gw_hh, gb_ih, gb_hh


class GRUSeq(Op):
    __slots__ = ()
    view_map = {}
    saves = True

    def infer(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        T, N, H = _check("GRUSeq", x.shape, h0.shape, w_ih.shape, w_hh.shape, b_ih.shape, 3)
        if len(b_hh.shape) != 1 or (_known(b_hh.shape[0]) and _known(w_hh.shape[0])
                                    and b_hh.shape[0] != w_hh.shape[0]):
            raise QiflowError(f"GRUSeq: b_hh must have shape ({w_hh.shape[0]},) like b_ih, got "
                              f"{tuple(b_hh.shape)}")
        return (T, N, H), np.result_type(x.dtype, w_ih.dtype)

    def forward(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        return self.forward_and_save(x, h0, w_ih, w_hh, b_ih, b_hh)[0]

    def forward_and_save(self, x, h0, w_ih, w_hh, b_ih, b_hh):
        self.infer(x, h0, w_ih, w_hh, b_ih, b_hh)
        return _gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh)

    def vjp(self, ctx, inputs, output, dS):
        x, h0, w_ih, w_hh, b_ih, b_hh = inputs
        need = ctx.needs_input_grad
        h_prev = _prev(h0, output)
        T = static_shape(x)[0]
        if ctx.create_graph and _known(T):
            dxw, dhw, dh0 = _gru_backward_graph(x, w_ih, w_hh, b_ih, b_hh, dS, h_prev, T)
        else:
            extra = () if ctx.saved is None else (ctx.saved,)
            P = apply(GRUSeqGrad(), x, h0, w_ih, w_hh, b_ih, b_hh, output, dS, *extra)
            steps = P[:-1]
            blocks = (reshape(b_ih, (1, 1, -1)),) * 2           # 3H wide each, sizes read at run time
            dxw, dhw = _piece(steps, 2, 0, blocks), _piece(steps, 2, 1, blocks)
            dh0 = _piece(P[-1], 1, 0, (h0,) * 6) if need[1] else None
        gx, gw_ih, gw_hh, gb_ih, gb_hh = _weight_grads(dxw, dhw, x, h_prev, w_ih, w_hh, need)
        return gx, (dh0 if need[1] else None), gw_ih, gw_hh, gb_ih, gb_hh


def _gru_backward_graph(x, w_ih, w_hh, b_ih, b_hh, dS, h_prev, T):
    """The reverse loop written with qiflow ops (differentiable again)."""
    H = static_shape(w_hh)[1]
    G = 3 * H
    xw = reshape(linear(_rows(x), w_ih, b_ih), (T, -1, G))
    hw = reshape(linear(_rows(h_prev), w_hh, b_hh), (T, -1, G))
    r = sigmoid(xw[..., :H] + hw[..., :H])
    z = sigmoid(xw[..., H:2 * H] + hw[..., H:2 * H])
    hwn = hw[..., 2 * H:]
    n = tanh(xw[..., 2 * H:] + r * hwn)
    a_z = (h_prev - n) * z * (1 - z)
    a_n = (1 - z) * (1 - n * n)
    a_r = hwn * r * (1 - r)
    dxw, dhw = [None] * T, [None] * T
    dh_next = None
    for t in range(T - 1, -1, -1):
        dh = dS[t] if dh_next is None else dS[t] + dh_next
        dn = dh * a_n[t]
        dz = dh * a_z[t]
        dr = dn * a_r[t]
        dxw[t] = concatenate([dr, dz, dn], axis=-1)
        dhw[t] = concatenate([dr, dz, dn * r[t]], axis=-1)
        dh_next = dh * z[t] + matmul(dhw[t], w_hh)
    return stack(dxw, axis=0), stack(dhw, axis=0), dh_next


class GRUSeqGrad(Op):
    """The reverse loop of ``GRUSeq``: (T + 1, N, 6H), each step's gradients of
    x W_ih^T + b_ih and of h W_hh^T + b_hh, then [dh0 | 0 ...].  Inputs: the
    forward's inputs, its output, the output's gradient and (optionally) the
    gates the forward saved."""
    __slots__ = ()
    view_map = {}

    def infer(self, x, h0, w_ih, w_hh, b_ih, b_hh, S, dS, *gates):
        T, G = x.shape[0], w_ih.shape[0]
        return ((T + 1 if _known(T) else None, x.shape[1], 2 * G if _known(G) else None),
                np.result_type(S.dtype, dS.dtype))

    def forward(self, x, h0, w_ih, w_hh, b_ih, b_hh, S, dS, gates=None):
        return _gru_backward(x, h0, w_ih, w_hh, b_ih, b_hh, S, dS, gates)

    def vjp(self, ctx, inputs, output, g):
        raise QiflowError("GRUSeq: a second derivative through a GRU needs the sequence length when "
                          "the graph is built (known shapes, or eager create_graph=True)")


_gru = GRUSeq()


def gru_seq(x, h0, w_ih, w_hh, b_ih, b_hh):
    """One GRU layer over a whole (T, N, I) sequence: returns the (T, N, H) states."""
    return apply(_gru, x, h0, w_ih, w_hh, b_ih, b_hh)
