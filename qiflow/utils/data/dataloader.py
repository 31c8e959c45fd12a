"""``DataLoader`` with ``torch.utils.data.DataLoader``'s signature, on qiflow.data's loader.

Arguments keep PyTorch's order (``dataset, batch_size, shuffle, sampler,
batch_sampler, num_workers, collate_fn, pin_memory, drop_last, ...``), so a
positional call means what it means in PyTorch.  Loading always happens in the
calling process: ``num_workers``, ``pin_memory``, ``prefetch_factor``,
``persistent_workers`` and ``timeout`` are accepted and change nothing but
speed (the order of the samples comes from the sampler or the generator in
the main process, as in PyTorch).  A ``collate_fn`` receives the list of
samples, as in PyTorch, also for qiflow's own ``TensorDataset`` (which qiflow's
loader otherwise gathers in one step).  ``batch_sampler`` (an iterable
of lists of indices, e.g. a ``BatchSampler``) gives the batches; a ``worker_init_fn``
for worker processes is not supported (a clear error).

>>> from qiflow.utils.data import DataLoader, TensorDataset
>>> ds = TensorDataset(qf.arange(6), qf.arange(6) * 10)
>>> [b for b in DataLoader(ds, 4, collate_fn=lambda rows: len(rows))]
[4, 2]
"""
import numpy as np

from ...data import DataLoader as _Loader, TensorDataset, Subset


def _builtin(ds):
    while isinstance(ds, Subset):
        ds = ds.dataset
    return isinstance(ds, TensorDataset)


class DataLoader(_Loader):
    """qiflow.data's loader, called as ``torch.utils.data.DataLoader``."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="", in_order=True):
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative int, got {num_workers!r}")
        if worker_init_fn is not None and num_workers > 0:
            raise NotImplementedError("DataLoader: worker_init_fn: qiflow loads in the calling process "
                                      "and starts no workers; seed or set up before the loop instead")
        if batch_size is None:
            raise NotImplementedError("DataLoader: batch_size=None (no automatic batching) is not "
                                      "supported by qiflow yet")
        super().__init__(dataset, batch_size=batch_size, shuffle=bool(shuffle), drop_last=drop_last,
                         collate_fn=collate_fn, generator=generator, sampler=sampler)
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.pin_memory = bool(pin_memory)
        if collate_fn is not None and _builtin(dataset):
            self._batched = False      # PyTorch's TensorDataset hands collate_fn a list of samples

    def __len__(self):
        return super().__len__() if self.batch_sampler is None else len(self.batch_sampler)

    def __iter__(self):
        if self.batch_sampler is None:
            yield from super().__iter__()
            return
        for index in self.batch_sampler:      # each item a list of indices: one batch
            yield self._fetch(np.asarray(list(index), dtype=np.int64))
