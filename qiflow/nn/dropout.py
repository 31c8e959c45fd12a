"""``Dropout``: random zeroing in training mode, identity in eval mode.

>>> d = qf.nn.Dropout(0.5, generator=qf.Generator(0)).eval()
>>> d(qf.ones(3)).tolist()
[1.0, 1.0, 1.0]
"""
from .._state import QiflowError
from .functional import dropout
from .module import Module


class Dropout(Module):
    """Zero elements with probability ``p`` while training, scaling the rest by 1/(1-p).

    Masks come from ``generator`` when given, else from the global generator
    (``qf.manual_seed``), so runs are reproducible.
    """

    def __init__(self, p=0.5, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise QiflowError(f"Dropout: probability p must be in [0, 1], got {p}")
        self.p, self.generator = float(p), generator

    def forward(self, x):
        return dropout(x, self.p, self.training, self.generator)

    def extra_repr(self):
        return f"p={self.p}"
