"""PyTorch's ``torch.nn.modules.<family>`` paths onto qiflow's layers (re-exports), for
programs that name classes there (``torch.nn.modules.linear.Linear``, e.g. in a
``safe_globals`` list).

>>> from qiflow.nn.modules.rnn import LSTM
>>> LSTM is qf.nn.LSTM
True
"""
from . import activation, batchnorm, container, conv, dropout, linear, loss, normalization, pooling, rnn, sparse
from . import transformer  # noqa: F401
