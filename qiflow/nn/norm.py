"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm``.

Batch norm keeps running statistics as PyTorch does: the batch is normalised
with its biased variance, the running variance is updated with the unbiased
one, ``momentum`` weighs the new batch (None: a cumulative average).

>>> bn = qf.nn.BatchNorm2d(3)
>>> [n for n, _ in bn.named_buffers()]
['running_mean', 'running_var', 'num_batches_tracked']
"""
import numpy as np

from .._state import QiflowError
from ..backend import as_dtype, get_default_dtype, check_device
from ..autodiff import no_grad
from ..tensor import Tensor
from .functional import batch_norm, layer_norm
from .module import Module, Parameter


class _BatchNorm(Module):
    _dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        super().__init__()
        check_device(device, "_BatchNorm")  # PyTorch's factory keyword: the CPU only
        dt = as_dtype(dtype) or get_default_dtype()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dt))
            self.bias = Parameter(np.zeros(num_features, dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            with no_grad():
                self.running_mean.fill_(0)
                self.running_var.fill_(1)
                self.num_batches_tracked.fill_(0)

    def forward(self, x):
        shape = tuple(x.shape)
        if len(shape) not in self._dims or shape[1] != self.num_features:
            want = " or ".join(f"{d}-D" for d in self._dims)
            raise QiflowError(f"{self!r}: expected {want} input with {self.num_features} channels on "
                              f"axis 1, got input of shape {shape}")
        # eval mode uses the running statistics unless none are kept
        use_batch = self.training or not self.track_running_stats
        nbt = self.num_batches_tracked
        if self.training and self.track_running_stats:
            with no_grad():
                nbt.add_(1)
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_batch,
                          self.momentum, self.eps, nbt)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) input (statistics per channel)."""
    _dims = (4,)


class LayerNorm(Module):
    """Normalise each sample over its trailing ``normalized_shape`` axes."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        check_device(device, "LayerNorm")  # PyTorch's factory keyword: the CPU only
        dt = as_dtype(dtype) or get_default_dtype()
        ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = ns, eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(ns, dt))
            if bias:
                self.bias = Parameter(np.zeros(ns, dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
