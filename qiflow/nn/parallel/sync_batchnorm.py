"""``SyncBatchNorm``: batch norm whose batch statistics are those of the global
batch (every rank's samples), in the forward and in the gradient.

The mean and variance are sums over the ranks computed with the
differentiable all-reduce op (``qiflow.distributed.all_reduce_op``), so
autodiff gives the synchronised backward by itself: the vjp of a sum
all-reduce is a sum all-reduce of the gradient.  Outside training, or
without an initialised group of two or more ranks, it is plain batch norm.

>>> bn = qf.nn.SyncBatchNorm(3)
>>> bn(qf.randn(4, 3)).shape                  # no process group: BatchNorm's result
(4, 3)
>>> net = qf.nn.SyncBatchNorm.convert_sync_batchnorm(qf.nn.Sequential(qf.nn.BatchNorm1d(3)))
>>> type(net[0]).__name__
'SyncBatchNorm'
"""
import numpy as np

from ..._state import QiflowError
from ...distributed import group as _group
from ...distributed._arrays import raw
from ...distributed.collectives import all_reduce
from ...distributed.op import all_reduce_op
from ..norm import _BatchNorm


class SyncBatchNorm(_BatchNorm):
    """Batch norm over (N, C, ...) input with statistics shared by all ranks."""
    _dims = (2, 3, 4, 5)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype)
        self.process_group = process_group

    def _synced(self):
        if not (self.training and _group.is_initialized()):
            return None
        g = _group.default_group(self.process_group)
        return g if g.size > 1 else None

    def forward(self, x):
        g = self._synced()
        if g is None:
            return super().forward(x)
        shape = tuple(x.shape)
        if len(shape) not in self._dims or shape[1] != self.num_features:
            raise QiflowError(f"{self!r}: expected (N, {self.num_features}, ...) input with 2 to 5 "
                              f"dimensions, got input of shape {shape}")
        axes = (0,) + tuple(range(2, len(shape)))
        bshape = (1, shape[1]) + (1,) * (len(shape) - 2)
        count = np.array([int(np.prod([shape[a] for a in axes]))], np.int64)
        all_reduce(count, group=g)              # ranks may hold batches of different sizes
        n = int(count[0])
        if n <= 1:
            raise QiflowError(f"{self!r}: expected more than 1 value per channel over the "
                              f"{g.size} ranks when training, got {n} (local input {shape})")
        mean = all_reduce_op(x.sum(axes), "sum", g) / n
        d = x - mean.reshape(bshape)
        var = all_reduce_op((d * d).sum(axes), "sum", g) / n
        y = d * (1.0 / (var + self.eps).sqrt()).reshape(bshape)
        if self.track_running_stats:
            self._update_running(raw(mean), raw(var), n)
        if self.weight is not None:
            y = y * self.weight.reshape(bshape)
        if self.bias is not None:
            y = y + self.bias.reshape(bshape)
        return y

    def _update_running(self, mean, var, n):
        nbt = raw(self.num_batches_tracked)
        nbt += 1
        m = 1.0 / int(nbt) if self.momentum is None else float(self.momentum)
        rm, rv = raw(self.running_mean), raw(self.running_var)
        rm *= 1 - m                             # in place: the buffers stay the same arrays
        rm += m * mean.astype(rm.dtype, copy=False)
        rv *= 1 - m
        rv += m * (var * (n / (n - 1))).astype(rv.dtype, copy=False)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm layer replaced by a SyncBatchNorm sharing
        its parameters and running statistics (a BatchNorm itself: a new module)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group, dtype=_dtype_of(module))
            for name in ("weight", "bias"):
                if getattr(module, name) is not None:
                    setattr(out, name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(out, name, getattr(module, name))
            out.train(module.training)
        for name, child in list(module._modules.items()):
            if child is not None:
                new = cls.convert_sync_batchnorm(child, process_group)
                if new is not child:
                    out._modules[name] = new      # in place: add_module would move it to the end
        return out


def _dtype_of(bn):
    for t in (bn.weight, bn.running_mean):
        if t is not None:
            return t.dtype
    return None
