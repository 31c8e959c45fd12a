"""Neural-network layers with PyTorch's names, shapes and initialisation.

>>> net = qf.nn.Sequential(qf.nn.Linear(784, 500), qf.nn.Tanh(), qf.nn.Linear(500, 10))
>>> net.num_parameters()
397510
>>> net(qf.zeros((2, 784))).shape
(2, 10)
"""
from .module import Module, Parameter
from .containers import Sequential, ModuleList, ModuleDict, ParameterList
from .linear import Identity, Linear, Flatten, Unflatten
from .conv import Conv2d
from .conv_extra import Conv1d, ConvTranspose1d, ConvTranspose2d
from .pooling_extra import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d
from .upsample import Upsample, UpsamplingNearest2d, UpsamplingBilinear2d
from .norm_extra import GroupNorm
from .dropout_extra import Dropout1d, Dropout2d
from .rnn_cell import RNNCellBase, RNNCell, LSTMCell, GRUCell
from .attention import MultiheadAttention
from .transformer import (TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder,
                          TransformerDecoder, Transformer)
from .pooling import MaxPool2d, AvgPool2d
from .norm import BatchNorm1d, BatchNorm2d, LayerNorm
from .dropout import Dropout
from .embedding import Embedding
from .rnn import RNNBase, RNN, LSTM, GRU
from .activation import (ReLU, LeakyReLU, ELU, Sigmoid, Logistic, Tanh, Softplus, GELU, SiLU,
                         Softmax, LogSoftmax)
from .loss import MSELoss, L1Loss, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss
from .activation import Hardtanh, ReLU6
from .loss import SmoothL1Loss, HuberLoss, KLDivLoss
from . import init, functional, utils
from . import serialization as _serialization  # noqa: F401  (qf.save of whole modules)
from . import modules  # noqa: F401  (PyTorch's torch.nn.modules.<family> paths)
from .utils import clip_grad_norm_, clip_grad_value_

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
           "Identity", "Linear", "Flatten", "Unflatten", "Conv2d", "MaxPool2d", "AvgPool2d",
           "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout", "Embedding", "RNNBase", "RNN", "LSTM",
           "GRU", "ReLU", "LeakyReLU", "ELU", "Sigmoid", "Logistic", "Tanh", "Softplus", "GELU", "SiLU",
           "Softmax", "LogSoftmax", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "NLLLoss", "init", "functional", "utils", "clip_grad_norm_",
           "clip_grad_value_", "SyncBatchNorm", "parallel"]
__all__ += ["Conv1d", "ConvTranspose1d", "ConvTranspose2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
            "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
            "GroupNorm", "Dropout1d", "Dropout2d", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "Hardtanh",
            "ReLU6", "SmoothL1Loss", "HuberLoss", "KLDivLoss", "MultiheadAttention",
            "TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder", "TransformerDecoder",
            "Transformer"]


def __getattr__(name):
    # lazy: qiflow.nn.parallel sits above the core (on qiflow.distributed)
    if name == "parallel":
        import importlib
        return importlib.import_module(".parallel", __name__)
    if name == "SyncBatchNorm":
        from .parallel.sync_batchnorm import SyncBatchNorm
        return SyncBatchNorm
    raise AttributeError(f"module 'qiflow.nn' has no attribute {name!r}")
