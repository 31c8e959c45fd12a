"""``MultiheadAttention`` with PyTorch's parameters, initialisation and ``state_dict`` names.

``in_proj_weight`` (3E, E) / ``in_proj_bias`` (3E,) project query, key and
value in one (when kdim == vdim == embed_dim; else ``q_proj_weight``,
``k_proj_weight``, ``v_proj_weight``), ``out_proj`` is a Linear(E, E).
Bool masks are True where attention is NOT allowed (see
:mod:`qiflow.nn.attentionfn` for the mask rules).

>>> mha = qf.nn.MultiheadAttention(16, 4, batch_first=True)
>>> x = qf.randn(2, 5, 16)
>>> out, w = mha(x, x, x)
>>> out.shape, w.shape
((2, 5, 16), (2, 5, 5))
>>> [n for n, _ in mha.named_parameters()]
['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']
"""
from .._state import QiflowError
from . import init
from .attentionfn import multi_head_attention_forward
from .linear import Linear, _empty
from ..backend import check_device
from .module import Module, Parameter


class MultiheadAttention(Module):
    """Attention from ``num_heads`` heads of size embed_dim / num_heads.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)`` returns
    (output, weights or None); inputs are (L, N, E), or (N, L, E) with
    ``batch_first``, or unbatched (L, E).  ``dropout`` acts on the attention
    weights while training.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        check_device(device, "MultiheadAttention")  # PyTorch's factory keyword: the CPU only
        if embed_dim < 1 or num_heads < 1 or embed_dim % num_heads:
            raise QiflowError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads "
                              f"{num_heads}")
        if not 0.0 <= dropout <= 1.0:
            raise QiflowError(f"MultiheadAttention: dropout must be in [0, 1], got {dropout}")
        E = self.embed_dim = int(embed_dim)
        self.kdim = int(kdim) if kdim is not None else E
        self.vdim = int(vdim) if vdim is not None else E
        self._qkv_same_embed_dim = self.kdim == E and self.vdim == E
        self.num_heads, self.dropout, self.batch_first = int(num_heads), float(dropout), batch_first
        self.head_dim = E // self.num_heads
        self.add_zero_attn = add_zero_attn
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(_empty((3 * E, E), dtype))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(_empty((E, E), dtype))
            self.k_proj_weight = Parameter(_empty((E, self.kdim), dtype))
            self.v_proj_weight = Parameter(_empty((E, self.vdim), dtype))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(_empty((3 * E,), dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = Parameter(_empty((1, 1, E), dtype))
            self.bias_v = Parameter(_empty((1, 1, E), dtype))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self._reset_parameters()

    def _reset_parameters(self):
        # PyTorch's choices: Xavier for the projections, zero biases, Xavier-normal bias_k/v
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        for name, t, d in (("query", query, self.embed_dim), ("key", key, self.kdim), ("value", value, self.vdim)):
            shape = tuple(t.shape)
            if len(shape) not in (2, 3) or shape[-1] != d:
                layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
                raise QiflowError(f"{self!r}: expected {name} of shape {layout} or (L, E) with E = {d}, "
                                  f"got {shape}")
        return multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal, batch_first=self.batch_first)

    def extra_repr(self):
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.batch_first:
            s += ", batch_first=True"
        return s
