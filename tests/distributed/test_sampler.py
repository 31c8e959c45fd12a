"""DistributedSampler: disjoint, complete shards with PyTorch's padding rule (no MPI needed)."""
import numpy as np
import pytest

import qiflow as qf
from qiflow.data import DataLoader, DistributedSampler, TensorDataset


def shards(n, replicas, **kw):
    return [DistributedSampler(range(n), num_replicas=replicas, rank=r, **kw) for r in range(replicas)]


@pytest.mark.parametrize("n, replicas", [(10, 2), (10, 3), (7, 4), (3, 5), (1, 1), (64, 8)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_are_disjoint_and_complete(n, replicas, shuffle):
    ss = shards(n, replicas, shuffle=shuffle, seed=3)
    parts = [list(s) for s in ss]
    size = -(-n // replicas)
    assert all(len(p) == len(s) == size for p, s in zip(parts, ss))
    flat = sum(parts, [])
    assert sorted(set(flat)) == list(range(n))              # complete
    pad = size * replicas - n
    if pad <= n:
        # only the padding repeats, and only once: all but `pad` indices appear once
        counts = np.bincount(flat, minlength=n)
        assert counts.max() <= 2 and (counts == 2).sum() == pad
    else:
        assert len(flat) == size * replicas


@pytest.mark.parametrize("n, replicas", [(10, 3), (11, 4), (8, 2)])
def test_drop_last_gives_disjoint_equal_shards(n, replicas):
    parts = [list(s) for s in shards(n, replicas, drop_last=True, shuffle=True)]
    flat = sum(parts, [])
    assert len(flat) == len(set(flat)) == (n // replicas) * replicas
    assert len({len(p) for p in parts}) == 1


def test_padding_wraps_around_like_pytorch():
    # PyTorch's order without shuffle: [0..9] padded with its start, then strided by rank
    assert [list(s) for s in shards(10, 4, shuffle=False)] == [[0, 4, 8], [1, 5, 9], [2, 6, 0],
                                                              [3, 7, 1]]
    assert [list(s) for s in shards(2, 5, shuffle=False)] == [[0], [1], [0], [1], [0]]
    assert [list(s) for s in shards(10, 4, shuffle=False, drop_last=True)] == [[0, 4], [1, 5],
                                                                              [2, 6], [3, 7]]


def test_set_epoch_changes_the_order_the_same_way_on_every_rank():
    a, b = shards(50, 2, seed=7)
    e0 = list(a), list(b)
    a.set_epoch(1), b.set_epoch(1)
    e1 = list(a), list(b)
    assert e0 != e1
    assert sorted(e1[0] + e1[1]) == list(range(50))         # still one permutation split in two
    a.set_epoch(0)
    assert list(a) == e0[0]                                  # the same seed and epoch, the same order
    assert list(shards(50, 2, seed=8)[0]) != e0[0]


def test_the_dataloader_reads_its_shard_through_the_sampler():
    X = np.arange(20.0).reshape(10, 2)
    ds = TensorDataset(X, np.arange(10))
    seen = []
    for r in range(3):
        s = DistributedSampler(ds, num_replicas=3, rank=r, seed=1)
        loader = DataLoader(ds, batch_size=3, sampler=s)
        assert len(loader) == 2                                # 4 samples -> batches of 3 and 1
        rows = [(xb.detach().numpy(), yb.detach().numpy()) for xb, yb in loader]
        ys = np.concatenate([y for _, y in rows])
        np.testing.assert_array_equal(ys, s.indices())
        np.testing.assert_array_equal(np.concatenate([x for x, _ in rows]), X[s.indices()])
        seen.extend(ys.tolist())
    assert set(seen) == set(range(10))
    assert len(DataLoader(ds, batch_size=3, sampler=s, drop_last=True)) == 1


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be at least 1"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(TypeError, match="rank must be an integer"):
        DistributedSampler(range(4), num_replicas=2, rank=1.0)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(range(4), sampler=DistributedSampler(range(4), 2, 0), shuffle=True)


def test_without_a_group_num_replicas_and_rank_are_required(monkeypatch):
    import sys
    monkeypatch.delitem(sys.modules, "qiflow.distributed", raising=False)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))
