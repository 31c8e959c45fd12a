"""``DistributedDataParallel``: one model replica per MPI rank, gradients
averaged over the ranks during backward (PyTorch's behaviour and names).

At wrap, every rank's parameter names and shapes are compared with rank 0's
(a mismatch is an error on every rank, naming them), then rank 0's
parameters and buffers are broadcast.  Each ``forward`` notes which
parameters its outputs reach; backward then fills the gradient buckets
(see ``reducer.py``) and returns once every ``.grad`` is the average over
the ranks.  ``no_sync()`` skips the all-reduce to accumulate gradients.

>>> from qiflow.nn.parallel import DistributedDataParallel as DDP
>>> DDP.__name__
'DistributedDataParallel'

Under ``mpiexec -n 2``::

    model = DDP(qf.nn.Linear(784, 10))        # rank 0's weights everywhere
    loss = F.cross_entropy(model(xb), yb)     # xb: this rank's shard of the batch
    loss.backward()                           # .grad averaged over the 2 ranks
    opt.step()
"""
import contextlib

import numpy as np

from ... import _state
from ...distributed import _arrays
from ...distributed.group import new_group_like
from ...distributed.work import wait_requests
from ..module import Module
from .reducer import Reducer
from . import traced

_MB = 1024 * 1024
_FIRST_BUCKET_BYTES = 1 * _MB     # PyTorch's first (earliest-ready) bucket when the cap is left default


class DistributedDataParallel(Module):
    """Data-parallel wrapper: ``DistributedDataParallel(module, bucket_cap_mb=None,
    find_unused_parameters=False, broadcast_buffers=True, process_group=None)``.

    ``bucket_cap_mb``: bucket size (None: 25 MiB, the first bucket 1 MiB).
    ``find_unused_parameters``: parameters a forward does not use are marked
    ready at once (otherwise they are an error at backward).
    ``broadcast_buffers``: rank 0's buffers (BatchNorm statistics) are copied
    to every rank at each forward.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a qiflow.nn.Module, got "
                            f"{type(module).__name__}")
        if device_ids is not None or output_device is not None:
            raise ValueError("DistributedDataParallel: qiflow runs on the CPU, so device_ids and "
                             f"output_device must be None (got {device_ids!r}, {output_device!r})")
        for flag, value in (("gradient_as_bucket_view", gradient_as_bucket_view),
                            ("static_graph", static_graph)):
            if value:
                raise NotImplementedError(f"DistributedDataParallel: {flag}=True is not implemented in "
                                          "qiflow (gradients are copied out of the buckets)")
        cap = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        if not cap > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        self.module = module
        self.dim = dim
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_bytes_cap = int(cap * _MB)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        g = new_group_like(process_group)            # its own communicator: never mixed with user calls
        self.process_group = g
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._verify_same_model(g)
        self._broadcast([p for _, p in module.named_parameters()] + self._buffers_to_sync())
        first = _FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap
        self.reducer = Reducer(named, g, self.bucket_bytes_cap, min(first, self.bucket_bytes_cap),
                                           self.find_unused_parameters, "DistributedDataParallel")

    # -------------------------------------------------------------- wrap
    def _verify_same_model(self, g):
        """Every rank must hold the same parameters and buffers (names, shapes, dtypes)."""
        mine = [(n, tuple(t.shape), str(t.dtype)) for n, t in self.module.named_parameters()]
        mine += [("buffer " + n, tuple(t.shape), str(t.dtype)) for n, t in self.module.named_buffers()]
        # a rank that never wraps makes this time out instead of hanging
        wait_requests([g.comm.Ibarrier()], g, "DistributedDataParallel: wrapping the model")
        every = g.comm.allgather(mine)
        problems = []
        for r, theirs in enumerate(every[1:], start=1):
            if theirs == every[0]:
                continue
            ref = dict((n, (s, d)) for n, s, d in every[0])
            other = dict((n, (s, d)) for n, s, d in theirs)
            for n in ref.keys() | other.keys():
                a, b = ref.get(n), other.get(n)
                if a != b:
                    problems.append(f"{n!r} is {_fmt(a)} on rank 0 but {_fmt(b)} on rank {r}")
            if not problems:
                problems.append(f"rank {r} registers the same parameters in a different order")
        if problems:
            raise ValueError("DistributedDataParallel: the model differs across ranks: "
                             + "; ".join(sorted(problems)[:10])
                             + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""))

    def _buffers_to_sync(self):
        return [b for _, b in self.module.named_buffers()] if self.broadcast_buffers else []

    def _broadcast(self, tensors):
        """Copy rank 0's values of ``tensors`` into every rank's, one message per dtype."""
        g = self.process_group
        if g.size == 1 or not tensors:
            return
        by_dtype = {}
        for t in tensors:
            by_dtype.setdefault(_arrays.raw(t).dtype.str, []).append(_arrays.raw(t))
        for key in sorted(by_dtype):
            arrays = by_dtype[key]
            flat = np.concatenate([a.ravel() for a in arrays])
            wait_requests([g.comm.Ibcast(flat, root=0)], g, "DistributedDataParallel: broadcasting rank 0's state")
            if g.rank != 0:
                o = 0
                for a in arrays:
                    np.copyto(a, flat[o:o + a.size].reshape(a.shape))
                    o += a.size

    # ----------------------------------------------------------- forward
    def forward(self, *inputs, **kwargs):
        grad = _state.grad_enabled
        tr = traced.current_tracer()
        if tr is not None:               # a compiled step: traced again when no_sync() changes
            tr.guard_attr(self, "require_backward_grad_sync")
        if grad:
            self.reducer.check_finished()
        if self.require_forward_param_sync and self.broadcast_buffers:
            buffers = self._buffers_to_sync()
            if tr is not None and buffers and self.process_group.size > 1:
                raise traced.TraceError(
                    "DistributedDataParallel(broadcast_buffers=True) on a model with buffers cannot be "
                    "compiled by qf.compile yet (rank 0's buffers are broadcast at every forward); "
                    "pass broadcast_buffers=False (each rank keeps its own statistics) or use "
                    "SyncBatchNorm")
            self._broadcast(buffers)
        out = self.module(*inputs, **kwargs)
        if grad and self.require_backward_grad_sync:
            self.require_forward_param_sync = True
            self.reducer.prepare(list(_tensors_in(out)) if tr is None else out)
        else:
            self.require_forward_param_sync = False
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward accumulates gradients locally without any all-reduce;
        the first synchronised backward after it averages the accumulated sums.

        >>> with ddp.no_sync():                      # doctest: +SKIP
        ...     ddp(x1).sum().backward()
        >>> ddp(x2).sum().backward()                 # doctest: +SKIP
        """
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    @property
    def buckets(self):
        """The parameter names of each gradient bucket, in the order they are reduced."""
        pos = self.reducer.position
        return [[self.reducer.named[pos[id(p)]][0] for p in b.params] for b in self.reducer.buckets]

    def extra_repr(self):
        return (f"world_size={self.process_group.size}, buckets={len(self.reducer.buckets)}, "
                f"find_unused_parameters={self.find_unused_parameters}")


def _fmt(entry):
    if entry is None:
        return "missing"
    shape, dtype = entry
    return f"{dtype}{list(shape)}"


def _tensors_in(out):
    if _arrays.is_tensor(out):
        yield out
    elif isinstance(out, (list, tuple)):
        for o in out:
            yield from _tensors_in(o)
    elif isinstance(out, dict):
        for o in out.values():
            yield from _tensors_in(o)
