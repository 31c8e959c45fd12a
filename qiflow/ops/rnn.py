"""Whole-sequence recurrences as primitives: ``LSTMSeq`` and ``RNNSeq``.

Unrolled step by step, a recurrent layer is a chain of small ops whose
weight gradients are small GEMMs summed over time.  As one primitive, the
input projection of all T steps is one GEMM, only ``h @ W_hh.T`` runs per
step, and the backward computes every step's gate gradient in a reverse loop
and then the weight gradients as one GEMM each, as cuDNN and PyTorch do.

The vjp is written with qiflow ops (its loop over time included), so the
gradient is itself differentiable.  In the ordinary first-order backward
those ops run directly on arrays; the gates saved by the forward are reused
there instead of being recomputed.

* ``LSTMSeq(x, h0, c0, w_ih, w_hh, b)`` -> (T, N, 2H): ``[h_t | c_t]`` per step
  (gate order i, f, g, o as in PyTorch; b = b_ih + b_hh);
* ``RNNSeq(x, h0, w_ih, w_hh, b)`` -> (T, N, H): h_t = act(x_t W_ih^T + h_{t-1} W_hh^T + b).

>>> x = qf.ones((5, 2, 3)); h0 = qf.zeros((2, 4))
>>> w_ih, w_hh, b = qf.ones((4, 3)) * 0.1, qf.ones((4, 4)) * 0.1, qf.zeros(4)
>>> qf.ops.rnn.rnn_seq(x, h0, w_ih, w_hh, b).shape
(5, 2, 4)
"""
import numpy as np

from .base import Op, apply
from ._saved import _Memo, needs_grad
from .dense import linear
from .elementwise import sigmoid, tanh, zeros_like
from .linalg import matmul
from .movement import reshape, swapaxes, expand_dims
from .reduce import sum as _sum
from .. import _state
from .._state import QiflowError

_memo = _Memo(size=16)   # one entry per layer and direction of a forward pass


def _check(name, x, h0, w_ih, w_hh, b, gates):
    if len(x) != 3:
        raise QiflowError(f"{name}: expected input (T, N, input_size), got {tuple(x)}")
    T, N, I = x
    G = w_ih[0]
    if len(w_ih) != 2 or len(w_hh) != 2 or (G is not None and G % gates):
        raise QiflowError(f"{name}: weights must be ({gates}*H, input_size) and ({gates}*H, H), got "
                          f"{tuple(w_ih)} and {tuple(w_hh)}")
    H = w_hh[1]
    bad = (I is not None and w_ih[1] is not None and I != w_ih[1]) or \
          (G is not None and H is not None and (w_hh[0] != G or G != gates * H)) or \
          tuple(b) not in ((G,), (None,)) or \
          (len(h0) != 2 or (N is not None and h0[0] not in (None, N)) or h0[1] not in (None, H))
    if bad:
        raise QiflowError(f"{name}: shapes do not fit: input {tuple(x)}, h0 {tuple(h0)}, w_ih {tuple(w_ih)}, "
                          f"w_hh {tuple(w_hh)}, b {tuple(b)}")
    return T, N, H


def _sigmoid_(a):
    """Logistic function in place, through tanh as the elementwise Sigmoid does (exact, no overflow)."""
    a *= 0.5
    np.tanh(a, out=a)
    a += 1
    a *= 0.5
    return a


def _project(x, w_ih, b):
    T, N, I = x.shape
    xw = (x.reshape(T * N, I) @ w_ih.T).reshape(T, N, -1)
    xw += b
    return xw


def _prev(h0, hs):
    """(h0, h_0, ..., h_{T-2}): the state each step starts from."""
    from .join import concatenate
    return concatenate([expand_dims(h0, 0), hs[:-1]], axis=0)


def _weight_grads(dz, x, h_prev, w_ih, w_hh, needs, gx_needed):
    from .join import stack
    dz = stack(dz, axis=0)
    flat = reshape(dz, (-1, dz.shape[-1]))
    gx = matmul(dz, w_ih) if gx_needed else None
    gw_ih = matmul(swapaxes(flat, 0, 1), reshape(x, (-1, x.shape[-1]))) if needs[0] else None
    gw_hh = matmul(swapaxes(flat, 0, 1), reshape(h_prev, (-1, h_prev.shape[-1]))) if needs[1] else None
    gb = _sum(flat, axis=0) if needs[2] else None
    return gx, gw_ih, gw_hh, gb


class LSTMSeq(Op):
    __slots__ = ()

    def infer(self, x, h0, c0, w_ih, w_hh, b):
        T, N, H = _check("LSTMSeq", x.shape, h0.shape, w_ih.shape, w_hh.shape, b.shape, 4)
        if tuple(c0.shape) != tuple(h0.shape):
            raise QiflowError(f"LSTMSeq: c0 {tuple(c0.shape)} and h0 {tuple(h0.shape)} must have the same shape")
        return (T, N, None if H is None else 2 * H), np.result_type(x.dtype, w_ih.dtype)

    def forward(self, x, h0, c0, w_ih, w_hh, b):
        self.infer(x, h0, c0, w_ih, w_hh, b)
        T, N, _ = x.shape
        H = w_hh.shape[1]
        act = _project(x, w_ih, b)                   # becomes the activated gates, step by step
        S = np.empty((T, N, 2 * H), act.dtype)
        h, c, whh_t = h0, c0, w_hh.T
        for t in range(T):
            z = act[t]
            z += h @ whh_t
            _sigmoid_(z[:, :2 * H])
            np.tanh(z[:, 2 * H:3 * H], out=z[:, 2 * H:3 * H])
            _sigmoid_(z[:, 3 * H:])
            i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
            h, c = S[t, :, :H], S[t, :, H:]
            np.multiply(f, c0 if t == 0 else S[t - 1, :, H:], out=c)
            c += i * g
            np.tanh(c, out=h)
            h *= o
        if _state.grad_enabled:
            _memo.put(S, S.shape, act)
        return S

    def vjp(self, inputs, output, dS):
        x, h0, c0, w_ih, w_hh, b = inputs
        needs = [needs_grad(k) for k in range(6)]
        H = w_hh.shape[1]
        T = x.shape[0]
        hs, cs = output[:, :, :H], output[:, :, H:]
        h_prev, c_prev = _prev(h0, hs), _prev(c0, cs)
        act = _memo.take(output, output.shape) if isinstance(output, np.ndarray) else None
        if act is None:    # recompute the gates with graph ops (create_graph, symbolic)
            z = linear(x, w_ih, b) + matmul(h_prev, swapaxes(w_hh, 0, 1))
            i, f, o = sigmoid(z[..., :H]), sigmoid(z[..., H:2 * H]), sigmoid(z[..., 3 * H:])
            g = tanh(z[..., 2 * H:3 * H])
        else:
            i, f, g, o = act[..., :H], act[..., H:2 * H], act[..., 2 * H:3 * H], act[..., 3 * H:]
        from .join import concatenate
        tc = tanh(cs)
        # the parts of each step's gate gradient that do not depend on the recursion, for all t at once
        local = concatenate([g * i * (1 - i), c_prev * f * (1 - f), i * (1 - g * g), tc * o * (1 - o)], axis=-1)
        through_h = o * (1 - tc * tc)
        dz = [None] * T
        dh_next = dc_next = None
        for t in range(T - 1, -1, -1):
            dh = dS[t, :, :H] if dh_next is None else dS[t, :, :H] + dh_next
            dc = dS[t, :, H:] + dh * through_h[t]
            if dc_next is not None:
                dc = dc + dc_next
            dz[t] = concatenate([dc, dc, dc, dh], axis=-1) * local[t]
            dh_next = matmul(dz[t], w_hh)
            dc_next = dc * f[t]
        gx, gw_ih, gw_hh, gb = _weight_grads(dz, x, h_prev, w_ih, w_hh, needs[3:], needs[0])
        return gx, (dh_next if needs[1] else None), (dc_next if needs[2] else None), gw_ih, gw_hh, gb


class RNNSeq(Op):
    __slots__ = ("nonlinearity",)
    props = ("nonlinearity",)

    def __init__(self, nonlinearity="tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise QiflowError(f"RNNSeq: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity

    def infer(self, x, h0, w_ih, w_hh, b):
        T, N, H = _check("RNNSeq", x.shape, h0.shape, w_ih.shape, w_hh.shape, b.shape, 1)
        return (T, N, H), np.result_type(x.dtype, w_ih.dtype)

    def forward(self, x, h0, w_ih, w_hh, b):
        self.infer(x, h0, w_ih, w_hh, b)
        S = _project(x, w_ih, b)
        h, whh_t = h0, w_hh.T
        for t in range(x.shape[0]):
            z = S[t]
            z += h @ whh_t
            if self.nonlinearity == "tanh":
                np.tanh(z, out=z)
            else:
                np.maximum(z, 0, out=z)
            h = z
        return S

    def vjp(self, inputs, output, dS):
        x, h0, w_ih, w_hh, b = inputs
        needs = [needs_grad(k) for k in range(5)]
        local = 1 - output * output if self.nonlinearity == "tanh" else (output > 0)
        dz = [None] * x.shape[0]
        dh_next = None
        for t in range(x.shape[0] - 1, -1, -1):
            dh = dS[t] if dh_next is None else dS[t] + dh_next
            dz[t] = dh * local[t]
            dh_next = matmul(dz[t], w_hh)
        gx, gw_ih, gw_hh, gb = _weight_grads(dz, x, _prev(h0, output), w_ih, w_hh, needs[2:], needs[0])
        return gx, (dh_next if needs[1] else None), gw_ih, gw_hh, gb


_lstm = LSTMSeq()


def lstm_seq(x, h0, c0, w_ih, w_hh, b):
    """One LSTM layer over a whole (T, N, I) sequence: returns (T, N, 2H) = [h_t | c_t]."""
    return apply(_lstm, x, h0, c0, w_ih, w_hh, b)


def rnn_seq(x, h0, w_ih, w_hh, b, nonlinearity="tanh"):
    """One Elman RNN layer over a whole (T, N, I) sequence: returns the (T, N, H) states."""
    return apply(RNNSeq(nonlinearity), x, h0, w_ih, w_hh, b)
