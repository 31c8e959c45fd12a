"""torch.utils.data's samplers and DataLoader(batch_sampler=) against torch: orders that
do not depend on a generator are equal; random ones have torch's structure (a permutation,
draws in range, lengths) and follow qiflow's seed."""
import numpy as np
import pytest

import qiflow as qf
from qiflow.utils import data as ud

torch = pytest.importorskip("torch")
tud = torch.utils.data


def test_sequential_and_batch_samplers_match_torch():
    for drop_last in (False, True):
        q = list(ud.BatchSampler(ud.SequentialSampler(range(7)), 3, drop_last))
        t = list(tud.BatchSampler(tud.SequentialSampler(range(7)), 3, drop_last))
        assert q == t
        assert len(ud.BatchSampler(ud.SequentialSampler(range(7)), 3, drop_last)) == len(t)
    assert list(ud.SequentialSampler(range(4))) == list(tud.SequentialSampler(range(4)))


def test_dataloader_with_a_batch_sampler_matches_torch():
    x = np.arange(20.0).reshape(10, 2)
    batches = [[3, 1], [0, 9, 4], [7]]
    q = [b[0].numpy() for b in ud.DataLoader(ud.TensorDataset(qf.tensor(x)), batch_sampler=batches)]
    t = [b[0].numpy() for b in tud.DataLoader(tud.TensorDataset(torch.tensor(x)), batch_sampler=batches)]
    assert len(q) == len(t) == 3
    for a, b in zip(q, t):
        np.testing.assert_array_equal(a, b)
    loader = ud.DataLoader(ud.TensorDataset(qf.tensor(x)),
                           batch_sampler=ud.BatchSampler(ud.SequentialSampler(range(10)), 4, True))
    assert len(loader) == 2 and [len(b[0]) for b in loader] == [4, 4]


def test_random_samplers_have_torchs_structure_and_follow_the_seed():
    qf.manual_seed(3)
    a = list(ud.RandomSampler(range(10)))
    assert sorted(a) == list(range(10))
    qf.manual_seed(3)
    assert list(ud.RandomSampler(range(10))) == a
    g = qf.Generator().manual_seed(1)
    r = list(ud.RandomSampler(range(5), replacement=True, num_samples=40, generator=g))
    assert len(r) == 40 and set(r) <= set(range(5)) and len(set(r)) > 1
    # without replacement and more samples than items: whole permutations, as torch
    long = list(ud.RandomSampler(range(4), num_samples=10))
    tlong = list(tud.RandomSampler(range(4), num_samples=10))
    assert len(long) == len(tlong) == 10 and sorted(long[:4]) == sorted(tlong[:4]) == [0, 1, 2, 3]
    sub = list(ud.SubsetRandomSampler([5, 7, 9]))
    assert sorted(sub) == [5, 7, 9] and len(ud.SubsetRandomSampler([5, 7, 9])) == 3
    w = list(ud.WeightedRandomSampler([0.0, 1.0, 0.0, 3.0], 50))
    assert set(w) <= {1, 3} and w.count(3) > w.count(1)
    nr = list(ud.WeightedRandomSampler([1.0, 1.0, 1.0], 3, replacement=False))
    assert sorted(nr) == [0, 1, 2]


def test_sampler_errors_match_torchs_kinds():
    for make in (lambda m: m.RandomSampler(range(3), num_samples=0),
                 lambda m: m.BatchSampler(range(3), 0, False),
                 lambda m: m.WeightedRandomSampler([1.0, 2.0], 0)):
        with pytest.raises(ValueError):
            make(tud)
        with pytest.raises(ValueError):
            make(ud)
    with pytest.raises(ValueError, match="without replacement"):
        ud.WeightedRandomSampler([1.0, 0.0], 2, replacement=False)
    with pytest.raises(NotImplementedError, match="__iter__"):
        iter(ud.Sampler())
