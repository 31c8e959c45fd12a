"""``Embedding``: a lookup table of vectors indexed by integers.

>>> emb = qf.nn.Embedding(10, 3)
>>> emb(qf.tensor([[1, 2], [3, 4]])).shape
(2, 2, 3)
"""
import numpy as np

from .._state import QiflowError
from ..backend import as_dtype, get_default_dtype
from .functional import embedding
from . import init
from .module import Module, Parameter


class Embedding(Module):
    """weight (num_embeddings, embedding_dim) ~ N(0, 1); the ``padding_idx`` row
    starts at zero and receives no gradient."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise QiflowError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                  f"{num_embeddings} embeddings")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        dt = as_dtype(dtype) or get_default_dtype()
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dt))
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
