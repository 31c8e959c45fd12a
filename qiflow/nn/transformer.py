"""The Transformer of "Attention Is All You Need", with PyTorch's modules, arguments and names.

``TransformerEncoderLayer`` (self-attention + feed-forward), ``TransformerDecoderLayer``
(self-attention + attention over the encoder's memory + feed-forward), the
stacks ``TransformerEncoder`` / ``TransformerDecoder`` (deep copies of one
layer, an optional final norm) and ``Transformer``.  Post-norm by default,
pre-norm with ``norm_first``; activation 'relu', 'gelu' or any callable;
(S, N, E) inputs, or (N, S, E) with ``batch_first``.

>>> layer = qf.nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32, batch_first=True)
>>> enc = qf.nn.TransformerEncoder(layer, num_layers=2)
>>> mask = qf.nn.Transformer.generate_square_subsequent_mask(7)
>>> enc(qf.randn(3, 7, 16), mask=mask).shape
(3, 7, 16)
"""
import copy

import numpy as np

from .._state import QiflowError
from ..tensor import Tensor
from . import init
from .attention import MultiheadAttention
from .containers import ModuleList
from .dropout import Dropout
from .functional import relu, gelu
from .linear import Linear
from ..backend import check_device
from .module import Module
from .norm import LayerNorm
from ..ops.movement import reshape


def _activation(what, activation):
    if isinstance(activation, str):
        if activation not in ("relu", "gelu"):
            raise QiflowError(f"{what}: activation should be 'relu', 'gelu' or a callable, got {activation!r}")
        return relu if activation == "relu" else gelu
    if not callable(activation):
        raise QiflowError(f"{what}: activation should be 'relu', 'gelu' or a callable, got {activation!r}")
    return activation


class _Layer(Module):
    def _common(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                norm_first, bias, dtype):
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first

    def _norm(self, d_model, eps, bias, dtype):
        return LayerNorm(d_model, eps=eps, bias=bias, dtype=dtype)

    def _ff_block(self, x, drop):
        # on the flattened (tokens, d_model) rows: one GEMM per linear instead of one per sequence
        shape = tuple(x.shape)
        y = self.linear2(self.dropout(self.activation(self.linear1(reshape(x, (-1, shape[-1]))))))
        return drop(reshape(y, shape))

    def _check(self, name, x, d_model):
        shape = tuple(x.shape)
        if len(shape) not in (2, 3) or shape[-1] != d_model:
            layout = "(N, S, E)" if self.self_attn.batch_first else "(S, N, E)"
            raise QiflowError(f"{type(self).__name__}: expected {name} of shape {layout} or (S, E) with "
                              f"E = d_model = {d_model}, got {shape}")


class TransformerEncoderLayer(_Layer):
    """Self-attention then a feed-forward block, each with dropout, residual and LayerNorm."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device, "TransformerEncoderLayer")  # PyTorch's factory keyword: the CPU only
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self._common(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                     norm_first, bias, dtype)
        self.norm1 = self._norm(d_model, layer_norm_eps, bias, dtype)
        self.norm2 = self._norm(d_model, layer_norm_eps, bias, dtype)
        self.dropout1, self.dropout2 = Dropout(dropout), Dropout(dropout)
        self.activation = _activation(type(self).__name__, activation)   # last, as PyTorch registers it

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        self._check("src", src, self.self_attn.embed_dim)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x), self.dropout2)
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x, self.dropout2))

    def _sa_block(self, x, mask, kpm, is_causal):
        out = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
                             is_causal=is_causal)[0]
        return self.dropout1(out)


class TransformerDecoderLayer(_Layer):
    """Self-attention, attention over ``memory``, then feed-forward; residuals and LayerNorms."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device, "TransformerDecoderLayer")  # PyTorch's factory keyword: the CPU only
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self._common(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                     norm_first, bias, dtype)
        self.norm1 = self._norm(d_model, layer_norm_eps, bias, dtype)
        self.norm2 = self._norm(d_model, layer_norm_eps, bias, dtype)
        self.norm3 = self._norm(d_model, layer_norm_eps, bias, dtype)
        self.dropout1, self.dropout2, self.dropout3 = Dropout(dropout), Dropout(dropout), Dropout(dropout)
        self.activation = _activation(type(self).__name__, activation)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        E = self.self_attn.embed_dim
        self._check("tgt", tgt, E)
        self._check("memory", memory, E)
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x), self.dropout3)
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff_block(x, self.dropout3))

    def _sa_block(self, x, mask, kpm, is_causal):
        out = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
                             is_causal=is_causal)[0]
        return self.dropout1(out)

    def _mha_block(self, x, mem, mask, kpm, is_causal):
        out = self.multihead_attn(x, mem, mem, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
                                  is_causal=is_causal)[0]
        return self.dropout2(out)


def _clones(what, layer, n):
    if not isinstance(layer, Module):
        raise QiflowError(f"{what}: expected a layer Module to copy, got {type(layer).__name__}")
    if int(n) < 1:
        raise QiflowError(f"{what}: num_layers must be >= 1, got {n}")
    return ModuleList([copy.deepcopy(layer) for _ in range(int(n))])


class TransformerEncoder(Module):
    """``num_layers`` independent copies of ``encoder_layer``, then ``norm`` if given."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        # enable_nested_tensor / mask_check steer PyTorch's inference fast path; the results are the same
        self.layers = _clones("TransformerEncoder", encoder_layer, num_layers)
        self.num_layers, self.norm = int(num_layers), norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x


class TransformerDecoder(Module):
    """``num_layers`` independent copies of ``decoder_layer``, then ``norm`` if given."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones("TransformerDecoder", decoder_layer, num_layers)
        self.num_layers, self.norm = int(num_layers), norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return self.norm(x) if self.norm is not None else x


class Transformer(Module):
    """Encoder-decoder Transformer; every weight matrix Xavier-uniform initialised, as in PyTorch.

    >>> m = qf.nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
    ...                       dim_feedforward=32)
    >>> m(qf.randn(6, 2, 16), qf.randn(5, 2, 16)).shape
    (5, 2, 16)
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation="relu", custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device, "Transformer")  # PyTorch's factory keyword: the CPU only
        kw = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                  layer_norm_eps=layer_norm_eps, batch_first=batch_first, norm_first=norm_first, bias=bias,
                  dtype=dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(d_model, nhead, **kw), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(d_model, nhead, **kw), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self.d_model, self.nhead, self.batch_first = int(d_model), int(nhead), batch_first
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        ss, ts = tuple(src.shape), tuple(tgt.shape)
        b = 0 if self.batch_first else 1
        if len(ss) == 3 and (len(ts) != 3 or ss[b] != ts[b]):
            raise QiflowError(f"Transformer: the batch sizes of src {ss} and tgt {ts} must be equal "
                              f"(batch axis {b})")
        if ss[-1] != self.d_model or ts[-1] != self.d_model:
            raise QiflowError(f"Transformer: the feature size of src {ss} and tgt {ts} must be d_model = "
                              f"{self.d_model}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """(sz, sz) float mask: 0 on and below the diagonal, -inf above (no peeking ahead).

        >>> qf.nn.Transformer.generate_square_subsequent_mask(3).tolist()
        [[0.0, -inf, -inf], [0.0, 0.0, -inf], [0.0, 0.0, 0.0]]
        """
        from ..backend import as_dtype, get_default_dtype
        if device not in (None, "cpu"):
            raise QiflowError(f"generate_square_subsequent_mask: qiflow runs on the CPU only, got device {device!r}")
        dt = as_dtype(dtype) or get_default_dtype()
        return Tensor(np.triu(np.full((int(sz), int(sz)), -np.inf, dt), 1))
