"""``DistributedSampler``: the share of a dataset that one rank reads each epoch
(PyTorch's rule).

Every epoch the indices are shuffled with ``seed + epoch`` (the same
permutation on every rank), padded by wrapping around to a multiple of
``num_replicas`` (or cut with ``drop_last``), and rank r takes every
``num_replicas``-th index from r: the shards are disjoint and together they
are the epoch.

>>> s = DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=False)
>>> list(s), len(s)
([1, 4, 7, 0], 4)
>>> loader = qf.data.DataLoader(qf.data.TensorDataset(np.arange(10)), batch_size=2, sampler=s)
>>> [b[0].tolist() for b in loader]
[[1, 4], [7, 0]]
"""
import math
import numbers
import sys

import numpy as np


class DistributedSampler:
    """Indices for rank ``rank`` of ``num_replicas`` (by default those of the
    initialised ``qiflow.distributed`` group); call ``set_epoch(e)`` at the start
    of every epoch so that each epoch has a new order."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler: {type(dataset).__name__} has no length")
        if num_replicas is None or rank is None:
            world, me = _group_size_and_rank()
            num_replicas = world if num_replicas is None else num_replicas
            rank = me if rank is None else rank
        for name, v in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"DistributedSampler: {name} must be an integer, got {v!r}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Use the order of epoch ``epoch`` (the same on every rank)."""
        self.epoch = int(epoch)

    def indices(self):
        """This rank's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:
            # pad by wrapping around (repeating the start as often as needed)
            order = np.resize(order, self.total_size)
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self):
        return self.num_samples

    def __repr__(self):
        return (f"DistributedSampler(rank {self.rank} of {self.num_replicas}, {self.num_samples} of "
                f"{len(self.dataset)} samples, shuffle={self.shuffle}, seed={self.seed}, "
                f"epoch={self.epoch}, drop_last={self.drop_last})")


def _group_size_and_rank():
    # qiflow.distributed sits above qiflow.data: it is asked only when it is loaded
    dist = sys.modules.get("qiflow.distributed")
    if dist is None:
        raise RuntimeError("DistributedSampler: num_replicas and rank were not given and no "
                           "qiflow.distributed process group is initialised; call "
                           "qiflow.distributed.init_process_group('mpi') first, or pass both")
    return dist.get_world_size(), dist.get_rank()
