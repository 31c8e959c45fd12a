"""``Embedding``: a lookup table of vectors indexed by integers.

>>> emb = qf.nn.Embedding(10, 3)
>>> emb(qf.tensor([[1, 2], [3, 4]])).shape
(2, 2, 3)
"""
import numpy as np

from .._state import QiflowError
from ..backend import as_dtype, get_default_dtype, check_device
from .functional import embedding
from . import init
from .module import Module, Parameter


class Embedding(Module):
    """weight (num_embeddings, embedding_dim) ~ N(0, 1); the ``padding_idx`` row
    starts at zero and receives no gradient."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None,
                 dtype=None):
        super().__init__()
        check_device(device, "Embedding")  # PyTorch's factory keyword: the CPU only
        for name, value, default in (("max_norm", max_norm, None), ("scale_grad_by_freq", scale_grad_by_freq, False),
                                     ("sparse", sparse, False)):
            if value != default:
                raise NotImplementedError(f"Embedding: {name}={value!r} is not supported by qiflow yet")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise QiflowError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                  f"{num_embeddings} embeddings")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        dt = as_dtype(dtype) or get_default_dtype()
        if _weight is not None:            # PyTorch's way of starting from given vectors
            w = np.array(_weight._data if hasattr(_weight, "_data") else _weight, dtype=dtype and dt)
            if w.shape != (self.num_embeddings, self.embedding_dim):
                raise QiflowError(f"Embedding: _weight has shape {w.shape}, expected "
                                  f"{(self.num_embeddings, self.embedding_dim)}")
            self.weight = Parameter(w, requires_grad=not _freeze)
            return
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dt),
                                requires_grad=not _freeze)
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, indices):
        return embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
