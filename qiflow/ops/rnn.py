"""Whole-sequence recurrences as primitives: ``LSTMSeq`` and ``RNNSeq``.

Unrolled step by step, a recurrent layer is a chain of small ops whose
weight gradients are small GEMMs summed over time.  As one primitive, the
input projection of all T steps is one GEMM, only ``h @ W_hh.T`` runs per
step, and the backward computes every step's gate gradient in a reverse loop
and then the weight gradients as one GEMM each, as cuDNN and PyTorch do.

* ``LSTMSeq(x, h0, c0, w_ih, w_hh, b)`` -> (T, N, 2H): ``[h_t | c_t]`` per step
  (gate order i, f, g, o as in PyTorch; b = b_ih + b_hh);
* ``RNNSeq(x, h0, w_ih, w_hh, b)`` -> (T, N, H): h_t = act(x_t W_ih^T + h_{t-1} W_hh^T + b).

The reverse loop is itself a primitive (``LSTMSeqGrad``, ``RNNSeqGrad``: the
gate gradients of every step, packed with the initial states' gradients), so
the backward works when the sequence length is known only at run time (a
symbolic ``T.tensor3``).  Where a graph of the backward is recorded and the
length is known (``create_graph``, second derivatives), the loop is instead
written with qiflow ops, so the gradient is itself differentiable.

>>> x = qf.ones((5, 2, 3)); h0 = qf.zeros((2, 4))
>>> w_ih, w_hh, b = qf.ones((4, 3)) * 0.1, qf.ones((4, 4)) * 0.1, qf.zeros(4)
>>> qf.ops.rnn.rnn_seq(x, h0, w_ih, w_hh, b).shape
(5, 2, 4)
"""
import numpy as np

from .base import Op, apply
from .dense import linear
from .elementwise import sigmoid, tanh, sigmoid_
from .linalg import matmul
from .movement import swapaxes, expand_dims, FlattenHead
from .reduce import sum as _sum
from .shapes import static_shape
from .join import ConcatPiece, concatenate, stack
from .._state import QiflowError


def _known(d):
    return d is not None and not isinstance(d, tuple) and isinstance(d, (int, np.integer))


def _check(name, x, h0, w_ih, w_hh, b, gates):
    if len(x) != 3:
        raise QiflowError(f"{name}: expected input (T, N, input_size), got {tuple(x)}")
    if len(w_ih) != 2 or len(w_hh) != 2 or len(b) != 1 or len(h0) != 2:
        raise QiflowError(f"{name}: weights must be ({gates}*H, input_size) and ({gates}*H, H), the "
                          f"bias ({gates}*H,) and h0 (N, H); got {tuple(w_ih)}, {tuple(w_hh)}, "
                          f"{tuple(b)} and {tuple(h0)}")
    T, N, I = x
    G, H = w_ih[0], w_hh[1]

    def differ(a, c):
        return _known(a) and _known(c) and a != c
    bad = (differ(I, w_ih[1]) or differ(w_hh[0], G) or differ(b[0], G) or differ(h0[0], N)
           or differ(h0[1], H) or (_known(G) and G % gates)
           or (_known(G) and _known(H) and G != gates * H))
    if bad:
        raise QiflowError(f"{name}: shapes do not fit: input {tuple(x)}, h0 {tuple(h0)}, w_ih {tuple(w_ih)}, "
                          f"w_hh {tuple(w_hh)}, b {tuple(b)}")
    if not _known(H) and _known(G):
        H = G // gates
    if not _known(N):
        N = h0[0]
    return T, N, H


def _project(x, w_ih, b):
    T, N, I = x.shape
    xw = (x.reshape(T * N, I) @ w_ih.T).reshape(T, N, -1)
    xw += b
    return xw


def _lstm_forward(x, h0, c0, w_ih, w_hh, b):
    """(S, act): the states [h | c] per step and the activated gates."""
    T, N, _ = x.shape
    H = w_hh.shape[1]
    act = _project(x, w_ih, b)                   # becomes the activated gates, step by step
    S = np.empty((T, N, 2 * H), act.dtype)
    h, whh_t = h0, w_hh.T
    for t in range(T):
        z = act[t]
        z += h @ whh_t
        sigmoid_(z[:, :2 * H])
        np.tanh(z[:, 2 * H:3 * H], out=z[:, 2 * H:3 * H])
        sigmoid_(z[:, 3 * H:])
        i, f, g, o = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
        h, c = S[t, :, :H], S[t, :, H:]
        np.multiply(f, c0 if t == 0 else S[t - 1, :, H:], out=c)
        c += i * g
        np.tanh(c, out=h)
        h *= o
    return S, act


def _lstm_gates(x, S, h0, w_ih, w_hh, b):
    """The activated gates of every step, recomputed from the states."""
    H = w_hh.shape[1]
    h_prev = np.concatenate([h0[None], S[:-1, :, :H]], axis=0)
    z = _project(x, w_ih, b)
    z += h_prev @ w_hh.T
    sigmoid_(z[..., :2 * H])
    np.tanh(z[..., 2 * H:3 * H], out=z[..., 2 * H:3 * H])
    sigmoid_(z[..., 3 * H:])
    return z


def _lstm_backward(x, h0, c0, w_ih, w_hh, b, S, dS, act=None):
    """(T + 1, N, 4H): each step's gate gradients, then [dh0 | dc0 | 0 | 0]."""
    T, N, _ = x.shape
    H = w_hh.shape[1]
    if act is None:
        act = _lstm_gates(x, S, h0, w_ih, w_hh, b)
    i, f, g, o = act[..., :H], act[..., H:2 * H], act[..., 2 * H:3 * H], act[..., 3 * H:]
    cs = S[:, :, H:]
    c_prev = np.concatenate([c0[None], cs[:-1]], axis=0)
    tc = np.tanh(cs)
    out = np.zeros((T + 1, N, 4 * H), np.result_type(act, dS))
    dh_next = dc_next = None
    for t in range(T - 1, -1, -1):
        dh = dS[t, :, :H] if dh_next is None else dS[t, :, :H] + dh_next
        dc = dS[t, :, H:] + dh * o[t] * (1 - tc[t] * tc[t])
        if dc_next is not None:
            dc += dc_next
        dz = out[t]
        np.multiply(dc * g[t], i[t] * (1 - i[t]), out=dz[:, :H])
        np.multiply(dc * c_prev[t], f[t] * (1 - f[t]), out=dz[:, H:2 * H])
        np.multiply(dc * i[t], 1 - g[t] * g[t], out=dz[:, 2 * H:3 * H])
        np.multiply(dh * tc[t], o[t] * (1 - o[t]), out=dz[:, 3 * H:])
        dh_next = dz @ w_hh
        dc_next = dc * f[t]
    if T:
        out[T, :, :H] = dh_next
        out[T, :, H:2 * H] = dc_next
    return out


def _piece(v, axis, k, refs):
    """The k-th block of v along ``axis``, blocks sized like ``refs`` there (sizes
    read at run time, so it works when they are unknown when the graph is built)."""
    return apply(ConcatPiece(axis, k), v, *refs)


def _prev(h0, hs):
    """(h0, h_0, ..., h_{T-2}): the state each step starts from."""
    return concatenate([expand_dims(h0, 0), hs[:-1]], axis=0)


def _weight_grads(dz, x, h_prev, w_ih, w_hh, need, gx_needed):
    flat = _rows(dz)
    gx = matmul(dz, w_ih) if gx_needed else None
    gw_ih = matmul(swapaxes(flat, 0, 1), _rows(x)) if need[0] else None
    gw_hh = matmul(swapaxes(flat, 0, 1), _rows(h_prev)) if need[1] else None
    gb = _sum(flat, 0) if need[2] else None
    return gx, gw_ih, gw_hh, gb


def _rows(v):
    """v (T, N, K) as (T*N, K), whatever is known of the sizes."""
    return apply(_flatten_head, v)


class LSTMSeq(Op):
    __slots__ = ()
    view_map = {}
    saves = True

    def infer(self, x, h0, c0, w_ih, w_hh, b):
        T, N, H = _check("LSTMSeq", x.shape, h0.shape, w_ih.shape, w_hh.shape, b.shape, 4)
        if len(c0.shape) != 2 or any(_known(a) and _known(c) and a != c for a, c in zip(c0.shape, h0.shape)):
            raise QiflowError(f"LSTMSeq: c0 {tuple(c0.shape)} and h0 {tuple(h0.shape)} must have the same shape")
        return (T, N, 2 * H if _known(H) else None), np.result_type(x.dtype, w_ih.dtype)

    def forward(self, x, h0, c0, w_ih, w_hh, b):
        return self.forward_and_save(x, h0, c0, w_ih, w_hh, b)[0]

    def forward_and_save(self, x, h0, c0, w_ih, w_hh, b):
        self.infer(x, h0, c0, w_ih, w_hh, b)
        return _lstm_forward(x, h0, c0, w_ih, w_hh, b)

    def vjp(self, ctx, inputs, output, dS):
        x, h0, c0, w_ih, w_hh, b = inputs
        need = ctx.needs_input_grad
        refs = (expand_dims(h0, 0), expand_dims(c0, 0))
        hs = _piece(output, 2, 0, refs)
        h_prev = _prev(h0, hs)
        T = static_shape(x)[0]
        if ctx.create_graph and _known(T):
            dz, dh0, dc0 = _lstm_backward_graph(x, h0, c0, w_ih, w_hh, b, output, dS, h_prev, refs, T)
        else:
            extra = () if ctx.saved is None else (ctx.saved,)
            P = apply(LSTMSeqGrad(), x, h0, c0, w_ih, w_hh, b, output, dS, *extra)
            dz = P[:-1]
            last = P[-1]
            dh0 = _piece(last, 1, 0, (h0, c0, h0, c0)) if need[1] else None
            dc0 = _piece(last, 1, 1, (h0, c0, h0, c0)) if need[2] else None
        gx, gw_ih, gw_hh, gb = _weight_grads(dz, x, h_prev, w_ih, w_hh, need[3:], need[0])
        return gx, (dh0 if need[1] else None), (dc0 if need[2] else None), gw_ih, gw_hh, gb


def _lstm_backward_graph(x, h0, c0, w_ih, w_hh, b, output, dS, h_prev, refs, T):
    """The reverse loop written with qiflow ops (differentiable again)."""
    H = static_shape(w_hh)[1]
    cs = _piece(output, 2, 1, refs)
    c_prev = _prev(c0, cs)
    z = linear(x, w_ih, b) + matmul(h_prev, swapaxes(w_hh, 0, 1))
    i, f, o = sigmoid(z[..., :H]), sigmoid(z[..., H:2 * H]), sigmoid(z[..., 3 * H:])
    g = tanh(z[..., 2 * H:3 * H])
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
    return stack(dz, axis=0), dh_next, dc_next


class LSTMSeqGrad(Op):
    """The reverse loop of ``LSTMSeq``: (T + 1, N, 4H), each step's gate gradients
    and then [dh0 | dc0 | 0 | 0].  Inputs: the forward's inputs, its output,
    the output's gradient and (optionally) the gates the forward saved."""
    __slots__ = ()
    view_map = {}

    def infer(self, x, h0, c0, w_ih, w_hh, b, S, dS, *act):
        T = x.shape[0]
        return (T + 1 if _known(T) else None, x.shape[1], w_ih.shape[0]), np.result_type(S.dtype, dS.dtype)

    def forward(self, x, h0, c0, w_ih, w_hh, b, S, dS, act=None):
        return _lstm_backward(x, h0, c0, w_ih, w_hh, b, S, dS, act)

    def vjp(self, ctx, inputs, output, g):
        raise QiflowError("LSTMSeq: a second derivative through an LSTM needs the sequence length when "
                          "the graph is built (known shapes, or eager create_graph=True)")


class RNNSeq(Op):
    __slots__ = ("nonlinearity",)
    props = ("nonlinearity",)
    view_map = {}

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

    def vjp(self, ctx, inputs, output, dS):
        x, h0, w_ih, w_hh, b = inputs
        need = ctx.needs_input_grad
        T = static_shape(x)[0]
        if ctx.create_graph and _known(T):
            local = 1 - output * output if self.nonlinearity == "tanh" else (output > 0)
            dz = [None] * T
            dh_next = None
            for t in range(T - 1, -1, -1):
                dh = dS[t] if dh_next is None else dS[t] + dh_next
                dz[t] = dh * local[t]
                dh_next = matmul(dz[t], w_hh)
            dz, dh0 = stack(dz, axis=0), dh_next
        else:
            P = apply(RNNSeqGrad(self.nonlinearity), x, h0, w_ih, w_hh, b, output, dS)
            dz, dh0 = P[:-1], P[-1]
        gx, gw_ih, gw_hh, gb = _weight_grads(dz, x, _prev(h0, output), w_ih, w_hh, need[2:], need[0])
        return gx, (dh0 if need[1] else None), gw_ih, gw_hh, gb


class RNNSeqGrad(Op):
    """The reverse loop of ``RNNSeq``: (T + 1, N, H), each step's pre-activation
    gradient and then dh0."""
    __slots__ = ("nonlinearity",)
    props = ("nonlinearity",)
    view_map = {}

    def __init__(self, nonlinearity):
        self.nonlinearity = nonlinearity

    def infer(self, x, h0, w_ih, w_hh, b, S, dS):
        T = x.shape[0]
        return (T + 1 if _known(T) else None,) + tuple(S.shape[1:]), np.result_type(S.dtype, dS.dtype)

    def forward(self, x, h0, w_ih, w_hh, b, S, dS):
        T = x.shape[0]
        local = 1 - S * S if self.nonlinearity == "tanh" else (S > 0).astype(S.dtype)
        out = np.zeros((T + 1,) + S.shape[1:], np.result_type(S, dS))
        dh_next = None
        for t in range(T - 1, -1, -1):
            dh = dS[t] if dh_next is None else dS[t] + dh_next
            np.multiply(dh, local[t], out=out[t])
            dh_next = out[t] @ w_hh
        if T:
            out[T] = dh_next
        return out

    def vjp(self, ctx, inputs, output, g):
        raise QiflowError("RNNSeq: a second derivative through an RNN needs the sequence length when "
                          "the graph is built (known shapes, or eager create_graph=True)")


_lstm = LSTMSeq()
_flatten_head = FlattenHead()


def lstm_seq(x, h0, c0, w_ih, w_hh, b):
    """One LSTM layer over a whole (T, N, I) sequence: returns (T, N, 2H) = [h_t | c_t]."""
    return apply(_lstm, x, h0, c0, w_ih, w_hh, b)


def rnn_seq(x, h0, w_ih, w_hh, b, nonlinearity="tanh"):
    """One Elman RNN layer over a whole (T, N, I) sequence: returns the (T, N, H) states."""
    return apply(RNNSeq(nonlinearity), x, h0, w_ih, w_hh, b)
