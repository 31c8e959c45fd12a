"""Attention: ``F.scaled_dot_product_attention`` and ``F.multi_head_attention_forward``.

softmax(q k^T * scale + mask) v, composed of matmuls, the softmax primitives
(``ops/softmax.py``, ``ops/safe_softmax.py``) and elementwise ops, with
PyTorch's mask conventions, which differ between the two:

* ``scaled_dot_product_attention``: a bool ``attn_mask`` is True where a
  query MAY attend; a float mask is added to the scores.  A query row that
  may attend to nothing gives zeros (PyTorch's "safe" softmax), not NaN.
* ``multi_head_attention_forward`` (``nn.MultiheadAttention``): bool masks
  are True where attention is NOT allowed (``attn_mask`` and
  ``key_padding_mask``).  With ``need_weights=True`` it runs the plain
  softmax, so a fully masked row is NaN, exactly as PyTorch's; with
  ``need_weights=False`` it runs ``scaled_dot_product_attention`` (zeros).

>>> q = qf.ones((2, 4, 5, 8))
>>> qf.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True).shape
(2, 4, 5, 8)
"""
import math

import numpy as np

from .._state import QiflowError
from ..ops import elementwise as E
from ..ops import reduce as R
from ..ops.dense import linear
from ..ops.indexing import getitem
from ..ops.join import concatenate
from ..ops.linalg import matmul
from ..ops.movement import reshape, permute, swapaxes, expand_dims, squeeze, broadcast_to
from ..ops.safe_softmax import safe_softmax
from ..ops.softmax import softmax
from .dropoutfn import keep_mask


def _array(m):
    """Masks given as lists or ndarrays become arrays; Tensors and symbolic values stay."""
    return np.asarray(m) if isinstance(m, (list, tuple, np.ndarray)) else m


def _kind(what, name, m):
    k = np.dtype(m.dtype).kind
    if k not in "bf":
        raise QiflowError(f"{what}: {name} must be bool or floating point, got {np.dtype(m.dtype)}")
    return k


def _float_mask(m, dtype):
    """A float mask as given, except that a plain array takes the scores' dtype (a float64
    NumPy mask must not turn float32 attention into float64)."""
    return m.astype(dtype) if isinstance(m, np.ndarray) and m.dtype != dtype else m


def _neg_inf_where(mask, dtype):
    """0 where a bool mask is False, -inf where True, as a float mask."""
    dt = np.dtype(dtype)
    if isinstance(mask, np.ndarray):
        return np.where(mask, np.asarray(-np.inf, dt), np.asarray(0, dt))
    return E.where(mask, np.asarray(-np.inf, dt), np.asarray(0, dt))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False, generator=None):
    """softmax(query key^T * scale + mask) value over (..., L, E) / (..., S, E) / (..., S, Ev).

    ``scale`` defaults to 1/sqrt(E); ``is_causal`` masks keys after each query
    (lower-triangular (L, S)); ``dropout_p`` drops attention weights whenever it
    is > 0 (as PyTorch's function does; modules pass 0 in eval mode);
    ``enable_gqa`` repeats the key/value heads (dim -3) to match the query's.
    """
    what = "scaled_dot_product_attention"
    qs, ks, vs = tuple(query.shape), tuple(key.shape), tuple(value.shape)
    if min(len(qs), len(ks), len(vs)) < 2 or qs[-1] != ks[-1] or ks[-2] != vs[-2]:
        raise QiflowError(f"{what}: expected query (..., L, E), key (..., S, E) and value (..., S, Ev), got "
                          f"{qs}, {ks} and {vs}")
    if enable_gqa and len(qs) >= 3 and qs[-3] != ks[-3]:
        if qs[-3] % ks[-3] or ks[-3] != vs[-3]:
            raise QiflowError(f"{what}: with enable_gqa the query's {qs[-3]} heads must be a multiple of the "
                              f"key/value heads, got {ks[-3]} and {vs[-3]}")
        rep = np.repeat(np.arange(ks[-3]), qs[-3] // ks[-3])
        key = getitem(key, (Ellipsis, rep, slice(None), slice(None)))
        value = getitem(value, (Ellipsis, rep, slice(None), slice(None)))
    if not 0.0 <= dropout_p <= 1.0:
        raise QiflowError(f"{what}: dropout_p must be in [0, 1], got {dropout_p}")
    L, S = qs[-2], ks[-2]
    s = (1.0 / math.sqrt(qs[-1])) if scale is None else float(scale)
    # the scale goes on q, (L, E), not on the (L, S) scores: fewer multiplications when S > E
    scores = matmul(query * s, swapaxes(key, -2, -1))
    if is_causal:
        if attn_mask is not None:
            raise QiflowError(f"{what}: give attn_mask or is_causal=True, not both")
        attn_mask = np.tril(np.ones((L, S), bool))
    if attn_mask is not None:
        attn_mask = _array(attn_mask)
        if _kind(what, "attn_mask", attn_mask) == "b":
            scores = E.where(attn_mask, scores, np.asarray(-np.inf, np.dtype(scores.dtype)))
        else:
            scores = scores + _float_mask(attn_mask, np.dtype(scores.dtype))
    attn = safe_softmax(scores, -1)
    if dropout_p > 0:
        attn = attn * keep_mask(tuple(attn.shape), dropout_p, attn.dtype, generator, what)
    return matmul(attn, value)


def _linear(x, w, b=None):
    """linear on a 2-D view: NumPy runs (..., in) @ (out, in).T as one GEMM per leading
    index, several times slower than one GEMM over the flattened rows."""
    shape = tuple(x.shape)
    if len(shape) <= 2:
        return linear(x, w, b)
    y = linear(reshape(x, (-1, shape[-1])), w, b)
    return reshape(y, shape[:-1] + (tuple(w.shape)[0],))


def _in_projection(query, key, value, E_, w, b, q_w, k_w, v_w):
    """The q, k and v projections, with the packed weight's rows [0, E), [E, 2E), [2E, 3E).

    Three GEMMs even for self-attention: one (3E)-wide GEMM would need its output
    sliced, and the backward of three slices (three zero-filled (.., 3E) arrays) costs
    more than the two extra GEMM calls (measured ~7% on the mha benchmark's projection)."""
    if w is not None:
        q_w, k_w, v_w = w[:E_], w[E_:2 * E_], w[2 * E_:]
    bq = bk = bv = None
    if b is not None:
        bq, bk, bv = b[:E_], b[E_:2 * E_], b[2 * E_:]
    return _linear(query, q_w, bq), _linear(key, k_w, bk), _linear(value, v_w, bv)


def _heads(x, N, H, D, batch_axis):
    """(T, N, H*D) (or (N, T, H*D) with batch_axis 0) -> (N, H, T, D)."""
    if batch_axis == 0:
        return permute(reshape(x, (N, x.shape[1], H, D)), (0, 2, 1, 3))
    return permute(reshape(x, (x.shape[0], N, H, D)), (1, 2, 0, 3))


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight,
                                 out_proj_bias, training=True, key_padding_mask=None, need_weights=True,
                                 attn_mask=None, use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None, static_v=None,
                                 average_attn_weights=True, is_causal=False, generator=None, batch_first=False):
    """PyTorch's multi-head attention over sequence-first inputs: query (L, N, E) or
    unbatched (L, E), key (S, N, kdim), value (S, N, vdim) (``batch_first``, a qiflow
    extra: (N, L, E) ...).  Returns (output, weights): weights (N, L, S) averaged over
    heads, (N, H, L, S) per head, or None."""
    what = "multi_head_attention_forward"
    if static_k is not None or static_v is not None:
        raise QiflowError(f"{what}: static_k / static_v are not supported by qiflow")
    qs, ks, vs = tuple(query.shape), tuple(key.shape), tuple(value.shape)
    key_padding_mask, attn_mask = _array(key_padding_mask), _array(attn_mask)
    ba = 0 if batch_first else 1
    batched = _check_shapes(what, qs, ks, vs, key_padding_mask, attn_mask, num_heads, ba)
    if not batched:
        same_kv, same_qk = key is value, query is key
        query = expand_dims(query, ba)
        key = query if same_qk else expand_dims(key, ba)
        value = key if same_kv else expand_dims(value, ba)
        if key_padding_mask is not None:
            key_padding_mask = expand_dims(key_padding_mask, 0)
    shape = tuple(query.shape)
    N, L, E_ = shape[ba], shape[1 - ba], shape[2]
    S = tuple(key.shape)[1 - ba]
    if E_ != embed_dim_to_check:
        raise QiflowError(f"{what}: expected query with embed_dim {embed_dim_to_check}, got shape {qs}")
    H = int(num_heads)
    if E_ % H:
        raise QiflowError(f"{what}: embed_dim {E_} is not divisible by num_heads {H}")
    D = E_ // H
    if tuple(key.shape)[:2] != tuple(value.shape)[:2]:
        raise QiflowError(f"{what}: key {ks} and value {vs} must have the same sequence length and batch size")
    if is_causal and attn_mask is None:
        raise QiflowError(f"{what}: is_causal is only a hint here: give the causal attn_mask too")
    dtype = np.dtype(query.dtype)
    # one float mask (N or 1, H or 1, L, S) added to the scores; bool masks mean "not allowed"
    mask = None
    if attn_mask is not None:
        am = _neg_inf_where(attn_mask, dtype) if _kind(what, "attn_mask", attn_mask) == "b" else \
            _float_mask(attn_mask, dtype)
        mask = reshape(am, (1, 1, L, S)) if len(tuple(am.shape)) == 2 else reshape(am, (N, H, L, S))
    kpm = None
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (N, S):
            raise QiflowError(f"{what}: key_padding_mask must have shape {(N, S)}, got "
                              f"{tuple(key_padding_mask.shape)}")
        kp = key_padding_mask
        kpm = _neg_inf_where(kp, dtype) if _kind(what, "key_padding_mask", kp) == "b" else _float_mask(kp, dtype)
        kpm = reshape(kpm, (N, 1, 1, S))
    if use_separate_proj_weight:
        q, k, v = _in_projection(query, key, value, E_, None, in_proj_bias, q_proj_weight, k_proj_weight,
                                 v_proj_weight)
    else:
        q, k, v = _in_projection(query, key, value, E_, in_proj_weight, in_proj_bias, None, None, None)
    if bias_k is not None and bias_v is not None:
        bk, bv = reshape(bias_k, (1, 1, E_)), reshape(bias_v, (1, 1, E_))
        extra = (N, 1, E_) if ba == 0 else (1, N, E_)
        k = concatenate([k, broadcast_to(bk, extra)], axis=1 - ba)
        v = concatenate([v, broadcast_to(bv, extra)], axis=1 - ba)
        mask, kpm = _pad_last(mask), _pad_last(kpm)
    elif bias_k is not None or bias_v is not None:
        raise QiflowError(f"{what}: bias_k and bias_v must be given together")
    q, k, v = _heads(q, N, H, D, ba), _heads(k, N, H, D, ba), _heads(v, N, H, D, ba)
    if add_zero_attn:
        zeros = np.zeros((N, H, 1, D), dtype)
        k, v = concatenate([k, zeros], axis=2), concatenate([v, zeros], axis=2)
        mask, kpm = _pad_last(mask), _pad_last(kpm)
    if kpm is not None:
        mask = kpm if mask is None else mask + kpm
    p = dropout_p if training else 0.0
    weights = None
    if need_weights:
        scores = matmul(q * (1.0 / math.sqrt(D)), swapaxes(k, -2, -1))
        if mask is not None:
            scores = scores + mask
        weights = softmax(scores, -1)            # a fully masked row is NaN, as in PyTorch
        if p > 0:
            weights = weights * keep_mask(tuple(weights.shape), p, weights.dtype, generator, what)
        out = matmul(weights, v)
        if average_attn_weights:
            weights = R.mean(weights, 1)
        if not batched:
            weights = squeeze(weights, 0)
    else:
        out = scaled_dot_product_attention(q, k, v, mask, p, generator=generator)
    out = permute(out, (0, 2, 1, 3) if ba == 0 else (2, 0, 1, 3))     # back to the input's layout
    out = _linear(reshape(out, shape[:2] + (E_,)), out_proj_weight, out_proj_bias)
    return (out if batched else squeeze(out, ba)), weights


def _pad_last(m):
    """A float mask with one more key position, which is allowed (0)."""
    if m is None:
        return None
    shape = tuple(m.shape)
    return concatenate([m, np.zeros(shape[:-1] + (1,), np.dtype(m.dtype))], axis=-1)


def _check_shapes(what, qs, ks, vs, kpm, am, H, ba):
    """Whether the input is batched; PyTorch's shape rules for the inputs and masks."""
    if len(qs) == 3:
        if len(ks) != 3 or len(vs) != 3:
            raise QiflowError(f"{what}: for a batched (3-D) query {qs}, key and value must be 3-D, got {ks} and {vs}")
        if kpm is not None and len(kpm.shape) != 2:
            raise QiflowError(f"{what}: for a batched query, key_padding_mask must be 2-D (N, S), got "
                              f"{tuple(kpm.shape)}")
        batched = True
    elif len(qs) == 2:
        if len(ks) != 2 or len(vs) != 2:
            raise QiflowError(f"{what}: for an unbatched (2-D) query {qs}, key and value must be 2-D, got "
                              f"{ks} and {vs}")
        if kpm is not None and len(kpm.shape) != 1:
            raise QiflowError(f"{what}: for an unbatched query, key_padding_mask must be 1-D (S,), got "
                              f"{tuple(kpm.shape)}")
        batched = False
    else:
        raise QiflowError(f"{what}: query must be (L, E) or (L, N, E) (batch_first: (N, L, E)), got shape {qs}")
    if am is not None:
        seq = 1 - ba if batched else 0
        L, S = qs[seq], ks[seq]
        N = qs[ba] if batched else 1
        allowed = [(L, S), (N * H, L, S)]
        if tuple(am.shape) not in allowed:
            raise QiflowError(f"{what}: attn_mask must have shape {allowed[0]} or {allowed[1]}, got "
                              f"{tuple(am.shape)}")
    return batched
